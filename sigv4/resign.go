package sigv4

import (
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// clientAuthHeaders are the client's authentication headers that Sign
// removes before signing with the agent's credentials.
var clientAuthHeaders = []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"}

// clientAuthParams are the presigned query parameters that Sign removes.
// X-Amz-Content-Sha256 goes as well, because Sign sets the header.
var clientAuthParams = []string{
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-Content-Sha256",
}

// unsignedHeaders are sent but not signed. A hop may add, change or drop the
// connection options of RFC 9110 section 7.6.1, and Go's transport may set
// Accept-Encoding itself. Go writes Host, Content-Length, Transfer-Encoding
// and Trailer from other fields of the request. The aws-sdk-go-v2 signer
// always leaves out User-Agent, Expect and X-Amzn-Trace-Id, and it signs
// Content-Length from req.ContentLength.
var unsignedHeaders = map[string]bool{
	"Accept-Encoding":     true,
	"Authorization":       true,
	"Connection":          true,
	"Content-Length":      true,
	"Expect":              true,
	"Host":                true,
	"Keep-Alive":          true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Proxy-Connection":    true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
	"User-Agent":          true,
	"X-Amzn-Trace-Id":     true,
}

// Signer re-signs outgoing S3 requests with the agent's credentials, using
// the aws-sdk-go-v2 SigV4 signer for service "s3". It holds one SDK signer,
// which caches derived keys behind its own lock, and changes no other shared
// state, so one Signer is safe for concurrent use. Use NewSigner; the zero
// value is not usable.
type Signer struct {
	signer *v4.Signer
}

// NewSigner returns a Signer. The SDK signer has URI path escaping off,
// because S3 signs the path escaped once and Sign sets that form itself.
func NewSigner() *Signer {
	return &Signer{signer: v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = true
	})}
}

// Sign signs req for S3 in region with creds at signingTime. req is an
// outgoing request already aimed at the upstream URL. Sign changes req in
// place:
//
//  1. It removes the client's Authorization, X-Amz-Date,
//     X-Amz-Security-Token and X-Amz-Content-Sha256 headers and the
//     presigned query parameters (X-Amz-Algorithm, -Credential, -Date,
//     -Expires, -SignedHeaders, -Signature, -Security-Token and
//     -Content-Sha256, in any letter case).
//  2. It rewrites the path to its canonical S3 form (see CanonicalURI) in
//     req.URL.Path and RawPath and clears req.URL.Opaque, so that the path
//     Go sends is the path signed, escaped exactly once.
//  3. It sets X-Amz-Content-Sha256 to payloadHash and, for session
//     credentials, X-Amz-Security-Token, then X-Amz-Date and Authorization.
//     The SDK signer rewrites req.URL.RawQuery in canonical encoding and
//     drops a default port (80 for http, 443 for https) from the host it
//     signs by setting req.Host.
//
// Every header in req.Header is signed, every x-amz-* header included
// (checksum, SSE-C, metadata, tagging), except those in unsignedHeaders.
// The host signed is req.Host, or req.URL.Host when req.Host is empty,
// which is the host Go sends. Content-Length is signed when
// req.ContentLength is positive.
//
// payloadHash is a lower-case hex SHA-256 of the body, UNSIGNED-PAYLOAD, or
// STREAMING-UNSIGNED-PAYLOAD-TRAILER for a body framed by an
// UnsignedTrailerEncoder. Signed streaming values are rejected, because
// their chunk signatures would have to be produced here too.
func (s *Signer) Sign(req *http.Request, creds aws.Credentials, region, payloadHash string, signingTime time.Time) error {
	if err := checkOutgoingPayloadHash(payloadHash); err != nil {
		return err
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return fmt.Errorf("signing request: credentials have no access key or secret")
	}
	if region == "" {
		return fmt.Errorf("signing request: empty region")
	}

	if err := setCanonicalPath(req.URL); err != nil {
		return fmt.Errorf("signing request: %w", err)
	}
	for _, name := range clientAuthHeaders {
		req.Header.Del(name)
	}
	req.URL.RawQuery = removeQueryParams(req.URL.RawQuery, clientAuthParams)
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)

	// The SDK signs every header of the request it is given, so it gets a
	// shallow copy whose header map leaves out the unsigned headers. The
	// copy shares req.URL, so the canonical query the SDK writes applies
	// to req.
	signing := *req
	signing.Header = headersToSign(req.Header)
	if err := s.signer.SignHTTP(req.Context(), creds, &signing, payloadHash, service, region, signingTime); err != nil {
		return fmt.Errorf("signing request: %w", err)
	}

	for _, name := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if values, ok := signing.Header[name]; ok {
			req.Header[name] = values
		}
	}
	req.Host = signing.Host
	return nil
}

func checkOutgoingPayloadHash(payloadHash string) error {
	switch {
	case payloadHash == UnsignedPayload, payloadHash == StreamingUnsignedPayloadTrailer:
		return nil
	case isLowerHex(payloadHash, 64):
		return nil
	case payloadHash == StreamingSignedPayload, payloadHash == StreamingSignedPayloadTrailer:
		return fmt.Errorf("signing request: %s needs chunk signatures, which Sign does not produce: forward the decoded bytes as %s or %s",
			payloadHash, UnsignedPayload, StreamingUnsignedPayloadTrailer)
	}
	return fmt.Errorf("signing request: payload hash is not a lower-case hex SHA-256, %s or %s",
		UnsignedPayload, StreamingUnsignedPayloadTrailer)
}

// setCanonicalPath replaces the escaped path of u with its canonical S3
// form.
func setCanonicalPath(u *url.URL) error {
	escaped := u.EscapedPath()
	if u.Opaque != "" {
		escaped = opaquePath(u.Opaque)
	}
	canonical, err := CanonicalURI(escaped)
	if err != nil {
		return err
	}
	decoded, err := url.PathUnescape(canonical)
	if err != nil {
		return err
	}
	u.Opaque = ""
	u.Path = decoded
	u.RawPath = canonical
	return nil
}

// opaquePath returns the path part of an Opaque URL, which is either
// "//host/path" or the path itself.
func opaquePath(opaque string) string {
	if rest, ok := strings.CutPrefix(opaque, "//"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			return rest[i:]
		}
		return "/"
	}
	return opaque
}

// removeQueryParams drops the parameters whose decoded name matches one of
// names in any letter case, and keeps the others byte for byte.
func removeQueryParams(rawQuery string, names []string) string {
	if rawQuery == "" {
		return ""
	}
	kept := make([]string, 0, strings.Count(rawQuery, "&")+1)
	for segment := range strings.SplitSeq(rawQuery, "&") {
		rawName, _, _ := strings.Cut(segment, "=")
		name, err := unescapeQueryComponent(rawName)
		if err == nil && containsFold(names, name) {
			continue
		}
		kept = append(kept, segment)
	}
	return strings.Join(kept, "&")
}

func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// headersToSign copies header without the unsigned headers and without the
// headers that a Connection header names as hop-by-hop.
func headersToSign(header http.Header) http.Header {
	var hopByHop map[string]bool
	for _, value := range header.Values("Connection") {
		for name := range strings.SplitSeq(value, ",") {
			if name = strings.TrimSpace(name); name != "" {
				if hopByHop == nil {
					hopByHop = map[string]bool{}
				}
				hopByHop[textproto.CanonicalMIMEHeaderKey(name)] = true
			}
		}
	}

	signed := make(http.Header, len(header))
	for name, values := range header {
		canonical := textproto.CanonicalMIMEHeaderKey(name)
		if unsignedHeaders[canonical] || hopByHop[canonical] {
			continue
		}
		signed[name] = values
	}
	return signed
}
