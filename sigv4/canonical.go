package sigv4

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The canonical request is defined in "Signature Calculations for the
// Authorization Header" of the Amazon S3 API reference
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html):
//
//	HTTPMethod \n CanonicalURI \n CanonicalQueryString \n
//	CanonicalHeaders \n SignedHeaders \n HashedPayload
//
// S3 differs from other AWS services in one point: the path is URI-encoded
// once, not twice, and it is never normalised (no removal of "." or "..", no
// merging of "//").

// unreserved marks the bytes that UriEncode leaves as they are: the RFC 3986
// unreserved set A-Z a-z 0-9 - . _ ~. Every other byte becomes %XX with
// upper-case hex digits.
var unreserved = func() (table [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		table[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		table[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		table[c] = true
	}
	for _, c := range "-._~" {
		table[c] = true
	}
	return table
}()

const upperHex = "0123456789ABCDEF"

// CanonicalURI returns the canonical URI that S3 signs for an escaped request
// path, such as r.URL.EscapedPath() on a server.
//
// Every %XX escape is decoded, and every byte outside A-Z a-z 0-9 - . _ ~ /
// is then escaped again as upper-case %XX. So "/b/libstdc++",
// "/b/libstdc%2B%2B" and "/b/libstdc%2b%2b" all give "/b/libstdc%2B%2B", and
// an escaped slash ("%2F") gives "/". The path is not cleaned: "//", "." and
// ".." stay. An empty path gives "/". A '%' that does not start a valid
// escape is an error wrapping ErrMalformed.
func CanonicalURI(escapedPath string) (string, error) {
	if escapedPath == "" {
		return "/", nil
	}

	var b strings.Builder
	b.Grow(len(escapedPath) + len(escapedPath)/4)
	for i := 0; i < len(escapedPath); i++ {
		c := escapedPath[i]
		if c == '%' {
			decoded, ok := decodeEscape(escapedPath, i)
			if !ok {
				return "", fmt.Errorf("canonicalizing path: invalid escape at byte %d: %w", i, ErrMalformed)
			}
			c = decoded
			i += 2
		}
		writeEncodedByte(&b, c, true)
	}
	return b.String(), nil
}

// CanonicalQuery returns the canonical query string for a raw query, such as
// r.URL.RawQuery on a server.
//
// Parameters are split on '&' and at the first '='. A name without '='
// ("?lifecycle") has an empty value. Names and values are decoded, with '+'
// read as a space as in HTML form encoding (the reading of url.ParseQuery and
// of the aws-sdk-go-v2 signer), and then escaped like the path except that
// '/' becomes %2F. The pairs are sorted by escaped name and then by escaped
// value, as the SigV4 rules require sorting after encoding. Empty segments
// ("a=1&&b=2") are skipped. A '%' that does not start a valid escape is an
// error wrapping ErrMalformed.
func CanonicalQuery(rawQuery string) (string, error) {
	params, err := parseQuery(rawQuery)
	if err != nil {
		return "", err
	}
	return canonicalQueryString(params, ""), nil
}

// queryParam is one decoded query parameter.
type queryParam struct {
	name, value string
}

// parseQuery splits and decodes a raw query string, keeping the order of the
// parameters and every repeated value.
func parseQuery(rawQuery string) ([]queryParam, error) {
	if rawQuery == "" {
		return nil, nil
	}

	params := make([]queryParam, 0, strings.Count(rawQuery, "&")+1)
	for segment := range strings.SplitSeq(rawQuery, "&") {
		if segment == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(segment, "=")
		name, err := unescapeQueryComponent(rawName)
		if err != nil {
			return nil, err
		}
		value, err := unescapeQueryComponent(rawValue)
		if err != nil {
			return nil, err
		}
		params = append(params, queryParam{name: name, value: value})
	}
	return params, nil
}

// unescapeQueryComponent decodes %XX escapes and turns '+' into a space.
func unescapeQueryComponent(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}

	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			decoded, ok := decodeEscape(s, i)
			if !ok {
				return "", fmt.Errorf("canonicalizing query: invalid escape: %w", ErrMalformed)
			}
			out = append(out, decoded)
			i += 2
		case '+':
			out = append(out, ' ')
		default:
			out = append(out, c)
		}
	}
	return string(out), nil
}

// canonicalQueryString escapes, sorts and joins params. A parameter named
// skip is left out, which presigned verification uses for X-Amz-Signature.
func canonicalQueryString(params []queryParam, skip string) string {
	encoded := make([]queryParam, 0, len(params))
	size := 0
	for _, p := range params {
		if skip != "" && p.name == skip {
			continue
		}
		e := queryParam{name: uriEncode(p.name, false), value: uriEncode(p.value, false)}
		size += len(e.name) + len(e.value) + 2
		encoded = append(encoded, e)
	}
	slices.SortFunc(encoded, func(a, b queryParam) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})

	var b strings.Builder
	b.Grow(size)
	for i, p := range encoded {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.name)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// uriEncode escapes every byte of s outside the unreserved set, and also
// '/' unless keepSlash is set.
func uriEncode(s string, keepSlash bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !unreserved[s[i]] && (s[i] != '/' || !keepSlash) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}

	var b strings.Builder
	b.Grow(len(s) * 3)
	for i := 0; i < len(s); i++ {
		writeEncodedByte(&b, s[i], keepSlash)
	}
	return b.String()
}

func writeEncodedByte(b *strings.Builder, c byte, keepSlash bool) {
	if unreserved[c] || (c == '/' && keepSlash) {
		b.WriteByte(c)
		return
	}
	b.WriteByte('%')
	b.WriteByte(upperHex[c>>4])
	b.WriteByte(upperHex[c&0x0f])
}

// decodeEscape decodes the %XX escape that starts at s[i].
func decodeEscape(s string, i int) (byte, bool) {
	if i+2 >= len(s) {
		return 0, false
	}
	hi, ok1 := fromHex(s[i+1])
	lo, ok2 := fromHex(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// canonicalHeaders returns the CanonicalHeaders block for the signed header
// names: one "name:value\n" line each, in the order given, which the parser
// has already checked to be sorted.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, name))
		b.WriteByte('\n')
	}
	return b.String()
}

// canonicalHeaderValue returns the value of one signed header as the client
// saw it before Go's server took some headers out of r.Header:
//
//   - host comes from r.Host exactly as received, port included.
//   - transfer-encoding is rebuilt from r.TransferEncoding ("chunked")
//     because the server moves it out of r.Header.
//   - content-length comes from r.Header, or from r.ContentLength for a
//     request built in process without the header.
//
// Several values of one header are joined with ','. Each value is trimmed,
// and runs of spaces inside it become one space.
func canonicalHeaderValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "transfer-encoding":
		if values := r.Header.Values(name); len(values) > 0 {
			return joinTrimmed(values)
		}
		return strings.Join(r.TransferEncoding, ",")
	case "content-length":
		if values := r.Header.Values(name); len(values) > 0 {
			return joinTrimmed(values)
		}
		if r.ContentLength >= 0 {
			return strconv.FormatInt(r.ContentLength, 10)
		}
		return ""
	}
	return joinTrimmed(r.Header.Values(name))
}

func joinTrimmed(values []string) string {
	if len(values) == 1 {
		return trimAll(values[0])
	}
	trimmed := make([]string, len(values))
	for i, v := range values {
		trimmed[i] = trimAll(v)
	}
	return strings.Join(trimmed, ",")
}

// trimAll removes leading and trailing spaces and tabs and turns each run of
// spaces inside the value into one space, which is the Trimall function of
// the SigV4 canonical request.
//
// NOTE: aws-sdk-go-v2 collapses spaces only, as here, but minio-go v7
// collapses every run of whitespace. A value with a tab inside, signed by
// minio-go, fails verification.
func trimAll(v string) string {
	v = strings.Trim(v, " \t")
	if !strings.Contains(v, "  ") {
		return v
	}

	var b strings.Builder
	b.Grow(len(v))
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// canonicalRequest joins the six parts of the canonical request. headers
// already ends with a newline, so the blank line between CanonicalHeaders
// and SignedHeaders appears as the rules require.
func canonicalRequest(method, uri, query, headers, signedHeaders, payloadHash string) string {
	var b strings.Builder
	b.Grow(len(method) + len(uri) + len(query) + len(headers) + len(signedHeaders) + len(payloadHash) + 5)
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	b.WriteString(headers)
	b.WriteByte('\n')
	b.WriteString(signedHeaders)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}
