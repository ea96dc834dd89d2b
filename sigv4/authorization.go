package sigv4

import (
	"fmt"
	"strings"
	"time"
)

// maxAuthorizationLength bounds the Authorization header that
// ParseAuthorization reads. A request that signs a hundred x-amz-meta-*
// headers stays well below it.
const maxAuthorizationLength = 16 << 10

// Authorization is a parsed SigV4 Authorization header:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request,
//	SignedHeaders=host;range;x-amz-date, Signature=<64 hex digits>
type Authorization struct {
	AccessKey string
	Scope     Scope

	// SignedHeaders are the lower-case header names, sorted and unique.
	SignedHeaders []string

	// Signature is 64 lower-case hex digits.
	Signature string
}

// String formats a in the form that aws-sdk-go-v2 sends.
func (a Authorization) String() string {
	return Algorithm + " Credential=" + a.AccessKey + "/" + a.Scope.String() +
		", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		", Signature=" + a.Signature
}

// Scope is a credential scope without the access key.
type Scope struct {
	// Date is the signing date as YYYYMMDD.
	Date string

	Region string

	// Service is always "s3".
	Service string
}

// String formats s as date/region/service/aws4_request.
func (s Scope) String() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/" + scopeTerminator
}

// ParseAuthorization parses an Authorization header value strictly.
//
// The value must start with "AWS4-HMAC-SHA256" and a space, followed by the
// components Credential, SignedHeaders and Signature, each exactly once, in
// any order, separated by commas with optional spaces. The credential must be
// AccessKey/YYYYMMDD/region/s3/aws4_request. The signed headers must be
// lower-case, sorted, unique and include "host". The signature must be 64
// lower-case hex digits. Every error wraps ErrMalformed.
func ParseAuthorization(value string) (Authorization, error) {
	if len(value) > maxAuthorizationLength {
		return Authorization{}, fmt.Errorf("parsing Authorization: longer than %d bytes: %w", maxAuthorizationLength, ErrMalformed)
	}
	rest, ok := strings.CutPrefix(value, Algorithm+" ")
	if !ok {
		return Authorization{}, fmt.Errorf("parsing Authorization: %s: %w", describeScheme(value), ErrMalformed)
	}

	var (
		auth                        Authorization
		haveCredential, haveHeaders bool
		haveSignature               bool
	)
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.Trim(part, " ")
		name, componentValue, found := strings.Cut(part, "=")
		if !found || componentValue == "" || strings.ContainsAny(componentValue, " \t") {
			return Authorization{}, fmt.Errorf("parsing Authorization: component is not Name=Value: %w", ErrMalformed)
		}

		var err error
		switch name {
		case "Credential":
			if haveCredential {
				return Authorization{}, fmt.Errorf("parsing Authorization: Credential repeated: %w", ErrMalformed)
			}
			haveCredential = true
			auth.AccessKey, auth.Scope, err = parseCredential(componentValue)
		case "SignedHeaders":
			if haveHeaders {
				return Authorization{}, fmt.Errorf("parsing Authorization: SignedHeaders repeated: %w", ErrMalformed)
			}
			haveHeaders = true
			auth.SignedHeaders, err = parseSignedHeaders(componentValue)
		case "Signature":
			if haveSignature {
				return Authorization{}, fmt.Errorf("parsing Authorization: Signature repeated: %w", ErrMalformed)
			}
			haveSignature = true
			auth.Signature, err = parseSignature(componentValue)
		default:
			return Authorization{}, fmt.Errorf("parsing Authorization: unknown component: %w", ErrMalformed)
		}
		if err != nil {
			return Authorization{}, fmt.Errorf("parsing Authorization: %w", err)
		}
	}

	switch {
	case !haveCredential:
		return Authorization{}, fmt.Errorf("parsing Authorization: missing Credential: %w", ErrMalformed)
	case !haveHeaders:
		return Authorization{}, fmt.Errorf("parsing Authorization: missing SignedHeaders: %w", ErrMalformed)
	case !haveSignature:
		return Authorization{}, fmt.Errorf("parsing Authorization: missing Signature: %w", ErrMalformed)
	}
	return auth, nil
}

// describeScheme names the scheme of an Authorization value that is not
// SigV4 without repeating the value itself.
func describeScheme(value string) string {
	switch {
	case strings.HasPrefix(value, "AWS4-ECDSA-P256-SHA256"):
		return "SigV4a (AWS4-ECDSA-P256-SHA256) is not supported"
	case strings.HasPrefix(value, "AWS "):
		return "SigV2 is not supported"
	}
	return "scheme is not " + Algorithm
}

// parseCredential parses AccessKey/YYYYMMDD/region/s3/aws4_request, the
// value of Credential= and of X-Amz-Credential.
func parseCredential(value string) (string, Scope, error) {
	parts := strings.Split(value, "/")
	if len(parts) != 5 {
		return "", Scope{}, fmt.Errorf("credential has %d parts, want 5: %w", len(parts), ErrMalformed)
	}
	accessKey, date, region, svc, terminator := parts[0], parts[1], parts[2], parts[3], parts[4]

	if !validAccessKey(accessKey) {
		return "", Scope{}, fmt.Errorf("credential has an invalid access key: %w", ErrMalformed)
	}
	if !validScopeDate(date) {
		return "", Scope{}, fmt.Errorf("credential date is not YYYYMMDD: %w", ErrMalformed)
	}
	if !validRegion(region) {
		return "", Scope{}, fmt.Errorf("credential has an invalid region: %w", ErrMalformed)
	}
	if svc != service {
		return "", Scope{}, fmt.Errorf("credential service is not %q: %w", service, ErrMalformed)
	}
	if terminator != scopeTerminator {
		return "", Scope{}, fmt.Errorf("credential does not end in %q: %w", scopeTerminator, ErrMalformed)
	}
	return accessKey, Scope{Date: date, Region: region, Service: svc}, nil
}

// validAccessKey accepts 1 to 128 visible ASCII bytes other than the
// separators of the Authorization grammar (',', '/', '=' and ';'). AWS keys
// are upper-case letters and digits, but S3-compatible stores allow more.
func validAccessKey(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == ',' || c == '/' || c == '=' || c == ';' {
			return false
		}
	}
	return true
}

func validScopeDate(s string) bool {
	if len(s) != len(dateFormat) {
		return false
	}
	_, err := time.Parse(dateFormat, s)
	return err == nil
}

// validRegion accepts 1 to 64 letters, digits, '-' and '_'. AWS regions are
// lower case, and S3-compatible stores accept names of their own.
func validRegion(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// parseSignedHeaders parses the ';'-separated list of SignedHeaders= and
// X-Amz-SignedHeaders.
func parseSignedHeaders(value string) ([]string, error) {
	names := strings.Split(value, ";")
	hasHost := false
	for i, name := range names {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("signed header %d is not a lower-case header name: %w", i+1, ErrMalformed)
		}
		if i > 0 && names[i-1] >= name {
			return nil, fmt.Errorf("signed headers are not sorted and unique: %w", ErrMalformed)
		}
		if name == "host" {
			hasHost = true
		}
	}
	if !hasHost {
		return nil, fmt.Errorf("signed headers do not include host: %w", ErrMalformed)
	}
	return names, nil
}

// validHeaderName accepts a non-empty RFC 9110 token without upper-case
// letters.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func parseSignature(value string) (string, error) {
	if !isLowerHex(value, 64) {
		return "", fmt.Errorf("signature is not 64 lower-case hex digits: %w", ErrMalformed)
	}
	return value, nil
}

// isLowerHex reports whether s is exactly n lower-case hex digits.
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
