package sigv4

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Presigned query parameter names (Amazon S3 API reference, "Authenticating
// Requests: Using Query Parameters").
const (
	queryAlgorithm     = "X-Amz-Algorithm"
	queryCredential    = "X-Amz-Credential"
	queryDate          = "X-Amz-Date"
	queryExpires       = "X-Amz-Expires"
	querySignedHeaders = "X-Amz-SignedHeaders"
	querySignature     = "X-Amz-Signature"
	queryContentSHA256 = "X-Amz-Content-Sha256"
)

// CredentialStore is the source of the secret access keys of clients. The
// S3 listener plugs in its own store, for example one read from a file.
// Implementations must be safe for concurrent use.
type CredentialStore interface {
	// SecretKey returns the secret for accessKey, and false when the key is
	// not known.
	SecretKey(accessKey string) (secret string, ok bool)
}

// StaticCredentials is a CredentialStore that maps access keys to secrets.
// It must not be modified while a Verifier uses it.
type StaticCredentials map[string]string

// SecretKey returns the secret stored for accessKey.
func (c StaticCredentials) SecretKey(accessKey string) (string, bool) {
	secret, ok := c[accessKey]
	return secret, ok
}

// Verifier checks SigV4 signatures of requests as a Go HTTP server receives
// them. It keeps no state between calls and is safe for concurrent use once
// its fields are set. The zero value is not usable: Credentials must be set.
type Verifier struct {
	// Credentials is the store of client secrets.
	Credentials CredentialStore

	// Region, when not empty, is the only region accepted in the credential
	// scope. Empty accepts any region, because clients sign for whatever
	// region they are configured with.
	Region string
}

// Verification is the result of a successful Verify: who signed the request,
// when, and how the payload is protected. It holds what the aws-chunked
// decoder needs to check chunk signatures.
type Verification struct {
	AccessKey string
	Region    string

	// SigningTime is the time in X-Amz-Date (or in Date when the request has
	// no X-Amz-Date), in UTC.
	SigningTime time.Time

	// Presigned is true for query-string authentication.
	Presigned bool

	// Expires is X-Amz-Expires of a presigned request, and zero otherwise.
	Expires time.Duration

	// SignedHeaders are the lower-case header names the signature covers.
	SignedHeaders []string

	// Signature is the request's signature, which is also the seed that the
	// first aws-chunked chunk signature chains from.
	Signature string

	// SigningKey is derived from the client's secret for this request's
	// scope. It is needed to check chunk and trailer signatures.
	SigningKey SigningKey

	// PayloadHash is the x-amz-content-sha256 value the signature covers:
	// a hex SHA-256, UNSIGNED-PAYLOAD or one of the STREAMING-* values.
	PayloadHash string

	// Payload is the mode that PayloadHash selects.
	Payload PayloadMode
}

// Scope returns the credential scope the request was signed for.
func (v *Verification) Scope() Scope {
	return Scope{Date: v.SigningTime.UTC().Format(dateFormat), Region: v.Region, Service: service}
}

// Verify checks the SigV4 signature of r against the clock value now.
//
// r is a request as Go's server passes it to a handler. Verify reads the
// method, r.URL (escaped path and raw query), r.Host, r.Header,
// r.TransferEncoding and r.ContentLength. It does not read or change the body
// and does not modify r. The payload is checked by the reader that
// Verification.NewPayloadReader returns.
//
// The error wraps ErrMissingAuth, ErrMalformed, ErrInvalidAccessKey,
// ErrHeadersNotSigned, ErrRequestTimeTooSkewed, ErrExpired or
// ErrSignatureMismatch.
func (v *Verifier) Verify(r *http.Request, now time.Time) (*Verification, error) {
	if v.Credentials == nil {
		return nil, fmt.Errorf("verifying request: Verifier has no credential store")
	}
	params, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("verifying request: %w", err)
	}

	authHeaders := r.Header.Values("Authorization")
	presigned := hasPresignParams(params)
	switch {
	case len(authHeaders) > 0 && presigned:
		return nil, fmt.Errorf("verifying request: both an Authorization header and presigned query parameters: %w", ErrMalformed)
	case len(authHeaders) > 1:
		return nil, fmt.Errorf("verifying request: %d Authorization headers: %w", len(authHeaders), ErrMalformed)
	case len(authHeaders) == 1:
		return v.verifyHeader(r, authHeaders[0], params, now)
	case presigned:
		return v.verifyPresigned(r, params, now)
	}
	return nil, fmt.Errorf("verifying request: %w", ErrMissingAuth)
}

func hasPresignParams(params []queryParam) bool {
	for _, p := range params {
		switch p.name {
		case queryAlgorithm, queryCredential, querySignature:
			return true
		}
	}
	return false
}

// verifyHeader checks a request signed with an Authorization header.
func (v *Verifier) verifyHeader(r *http.Request, header string, params []queryParam, now time.Time) (*Verification, error) {
	auth, err := ParseAuthorization(header)
	if err != nil {
		return nil, err
	}
	if err := v.checkRegion(auth.Scope.Region); err != nil {
		return nil, err
	}
	if err := checkAmzHeadersSigned(r.Header, auth.SignedHeaders); err != nil {
		return nil, err
	}

	signingTime, amzDate, err := headerSigningTime(r.Header, auth.SignedHeaders)
	if err != nil {
		return nil, err
	}
	if amzDate[:len(dateFormat)] != auth.Scope.Date {
		return nil, fmt.Errorf("verifying Authorization: credential date %s is not the date of the signing time %s: %w",
			auth.Scope.Date, amzDate, ErrMalformed)
	}

	payloadHash, mode, err := headerPayloadHash(r.Header)
	if err != nil {
		return nil, err
	}

	secret, ok := v.Credentials.SecretKey(auth.AccessKey)
	if !ok {
		return nil, fmt.Errorf("verifying Authorization: %w", ErrInvalidAccessKey)
	}
	if skew := now.Sub(signingTime).Abs(); skew > MaxClockSkew {
		return nil, fmt.Errorf("verifying Authorization: signing time %s is %s from the server clock: %w",
			amzDate, skew.Round(time.Second), ErrRequestTimeTooSkewed)
	}

	uri, err := CanonicalURI(r.URL.EscapedPath())
	if err != nil {
		return nil, err
	}
	canonical := canonicalRequest(r.Method, uri, canonicalQueryString(params, ""),
		canonicalHeaders(r, auth.SignedHeaders), strings.Join(auth.SignedHeaders, ";"), payloadHash)

	key := deriveSigningKey(secret, auth.Scope.Date, auth.Scope.Region)
	expected := signHex(key, stringToSign(amzDate, auth.Scope.String(), canonical))
	if !signatureEqual(expected, auth.Signature) {
		return nil, fmt.Errorf("verifying Authorization: %w", ErrSignatureMismatch)
	}

	return &Verification{
		AccessKey:     auth.AccessKey,
		Region:        auth.Scope.Region,
		SigningTime:   signingTime,
		SignedHeaders: auth.SignedHeaders,
		Signature:     auth.Signature,
		SigningKey:    key,
		PayloadHash:   payloadHash,
		Payload:       mode,
	}, nil
}

// verifyPresigned checks a request signed with query parameters.
func (v *Verifier) verifyPresigned(r *http.Request, params []queryParam, now time.Time) (*Verification, error) {
	values, err := presignValues(params)
	if err != nil {
		return nil, err
	}

	if values[queryAlgorithm] != Algorithm {
		return nil, fmt.Errorf("verifying presigned request: X-Amz-Algorithm is not %s: %w", Algorithm, ErrMalformed)
	}
	accessKey, scope, err := parseCredential(values[queryCredential])
	if err != nil {
		return nil, fmt.Errorf("verifying presigned request: X-Amz-Credential: %w", err)
	}
	if err := v.checkRegion(scope.Region); err != nil {
		return nil, err
	}
	amzDate := values[queryDate]
	signingTime, err := parseAmzDate(amzDate)
	if err != nil {
		return nil, fmt.Errorf("verifying presigned request: X-Amz-Date: %w", err)
	}
	if amzDate[:len(dateFormat)] != scope.Date {
		return nil, fmt.Errorf("verifying presigned request: credential date %s is not the date of X-Amz-Date %s: %w",
			scope.Date, amzDate, ErrMalformed)
	}
	expires, err := parseExpires(values[queryExpires])
	if err != nil {
		return nil, err
	}
	signedHeaders, err := parseSignedHeaders(values[querySignedHeaders])
	if err != nil {
		return nil, fmt.Errorf("verifying presigned request: X-Amz-SignedHeaders: %w", err)
	}
	signature, err := parseSignature(values[querySignature])
	if err != nil {
		return nil, fmt.Errorf("verifying presigned request: X-Amz-Signature: %w", err)
	}
	if err := checkAmzHeadersSigned(r.Header, signedHeaders); err != nil {
		return nil, err
	}
	payloadHash, mode, err := presignedPayloadHash(values, r.Header)
	if err != nil {
		return nil, err
	}

	secret, ok := v.Credentials.SecretKey(accessKey)
	if !ok {
		return nil, fmt.Errorf("verifying presigned request: %w", ErrInvalidAccessKey)
	}
	if signingTime.Sub(now) > MaxClockSkew {
		return nil, fmt.Errorf("verifying presigned request: X-Amz-Date %s is in the future: %w", amzDate, ErrRequestTimeTooSkewed)
	}
	if now.After(signingTime.Add(expires)) {
		return nil, fmt.Errorf("verifying presigned request: expired at %s: %w",
			signingTime.Add(expires).Format(time.RFC3339), ErrExpired)
	}

	uri, err := CanonicalURI(r.URL.EscapedPath())
	if err != nil {
		return nil, err
	}
	canonical := canonicalRequest(r.Method, uri, canonicalQueryString(params, querySignature),
		canonicalHeaders(r, signedHeaders), values[querySignedHeaders], payloadHash)

	key := deriveSigningKey(secret, scope.Date, scope.Region)
	expected := signHex(key, stringToSign(amzDate, scope.String(), canonical))
	if !signatureEqual(expected, signature) {
		return nil, fmt.Errorf("verifying presigned request: %w", ErrSignatureMismatch)
	}

	return &Verification{
		AccessKey:     accessKey,
		Region:        scope.Region,
		SigningTime:   signingTime,
		Presigned:     true,
		Expires:       expires,
		SignedHeaders: signedHeaders,
		Signature:     signature,
		SigningKey:    key,
		PayloadHash:   payloadHash,
		Payload:       mode,
	}, nil
}

// presignValues collects the presigned parameters. Each must appear exactly
// once, except X-Amz-Content-Sha256, which is optional.
func presignValues(params []queryParam) (map[string]string, error) {
	values := make(map[string]string, 7)
	for _, p := range params {
		switch p.name {
		case queryAlgorithm, queryCredential, queryDate, queryExpires, querySignedHeaders, querySignature, queryContentSHA256:
			if _, dup := values[p.name]; dup {
				return nil, fmt.Errorf("verifying presigned request: %s repeated: %w", p.name, ErrMalformed)
			}
			values[p.name] = p.value
		}
	}
	for _, name := range []string{queryAlgorithm, queryCredential, queryDate, queryExpires, querySignedHeaders, querySignature} {
		if _, ok := values[name]; !ok {
			return nil, fmt.Errorf("verifying presigned request: missing %s: %w", name, ErrMalformed)
		}
	}
	return values, nil
}

// parseExpires parses X-Amz-Expires: whole seconds from 1 to 604800 (7 days),
// digits only.
func parseExpires(value string) (time.Duration, error) {
	if value == "" || len(value) > 6 || strings.Trim(value, "0123456789") != "" {
		return 0, fmt.Errorf("verifying presigned request: X-Amz-Expires is not a number of seconds: %w", ErrMalformed)
	}
	seconds, _ := strconv.Atoi(value)
	expires := time.Duration(seconds) * time.Second
	if seconds < 1 || expires > MaxPresignExpiry {
		return 0, fmt.Errorf("verifying presigned request: X-Amz-Expires %d is outside 1..%d seconds: %w",
			seconds, int(MaxPresignExpiry/time.Second), ErrMalformed)
	}
	return expires, nil
}

func (v *Verifier) checkRegion(region string) error {
	if v.Region != "" && region != v.Region {
		return fmt.Errorf("verifying request: credential region %q is not %q: %w", region, v.Region, ErrMalformed)
	}
	return nil
}

// checkAmzHeadersSigned returns ErrHeadersNotSigned when r has an x-amz-*
// header that signed does not list. S3 applies the same rule.
func checkAmzHeadersSigned(header http.Header, signed []string) error {
	for name := range header {
		if len(name) < len("X-Amz-") || !strings.EqualFold(name[:len("X-Amz-")], "X-Amz-") {
			continue
		}
		lower := strings.ToLower(name)
		if !containsSorted(signed, lower) {
			return fmt.Errorf("verifying request: %w", ErrHeadersNotSigned)
		}
	}
	return nil
}

func containsSorted(sorted []string, name string) bool {
	lo, hi := 0, len(sorted)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch {
		case sorted[mid] == name:
			return true
		case sorted[mid] < name:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return false
}

// headerSigningTime returns the signing time of a header-signed request:
// X-Amz-Date, or Date when X-Amz-Date is absent. The header used must be
// signed. The second result is the time in TimeFormat, as it goes into the
// string to sign.
func headerSigningTime(header http.Header, signed []string) (time.Time, string, error) {
	if values := header.Values("X-Amz-Date"); len(values) > 0 {
		if len(values) > 1 {
			return time.Time{}, "", fmt.Errorf("verifying Authorization: X-Amz-Date repeated: %w", ErrMalformed)
		}
		t, err := parseAmzDate(values[0])
		if err != nil {
			return time.Time{}, "", fmt.Errorf("verifying Authorization: X-Amz-Date: %w", err)
		}
		return t, values[0], nil
	}

	values := header.Values("Date")
	if len(values) != 1 {
		return time.Time{}, "", fmt.Errorf("verifying Authorization: needs one X-Amz-Date or Date header: %w", ErrMalformed)
	}
	if !containsSorted(signed, "date") {
		return time.Time{}, "", fmt.Errorf("verifying Authorization: Date is not signed: %w", ErrHeadersNotSigned)
	}
	t, err := http.ParseTime(values[0])
	if err != nil {
		return time.Time{}, "", fmt.Errorf("verifying Authorization: Date is not an HTTP date: %w", ErrMalformed)
	}
	t = t.UTC()
	return t, t.Format(TimeFormat), nil
}

// parseAmzDate parses a time in TimeFormat, such as 20130524T000000Z.
func parseAmzDate(value string) (time.Time, error) {
	if len(value) != len(TimeFormat) {
		return time.Time{}, fmt.Errorf("not in the form YYYYMMDDTHHMMSSZ: %w", ErrMalformed)
	}
	t, err := time.Parse(TimeFormat, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("not in the form YYYYMMDDTHHMMSSZ: %w", ErrMalformed)
	}
	return t, nil
}

// headerPayloadHash returns the x-amz-content-sha256 value of a
// header-signed request, which S3 requires.
func headerPayloadHash(header http.Header) (string, PayloadMode, error) {
	values := header.Values("X-Amz-Content-Sha256")
	if len(values) != 1 {
		return "", 0, fmt.Errorf("verifying Authorization: needs one x-amz-content-sha256 header: %w", ErrMalformed)
	}
	mode, err := ParsePayloadMode(values[0])
	if err != nil {
		return "", 0, fmt.Errorf("verifying Authorization: %w", err)
	}
	return values[0], mode, nil
}

// presignedPayloadHash returns the payload hash of a presigned request: the
// X-Amz-Content-Sha256 query parameter, else the x-amz-content-sha256 header
// (which checkAmzHeadersSigned has already required to be signed), else
// UNSIGNED-PAYLOAD. Streaming payloads need header authentication.
func presignedPayloadHash(values map[string]string, header http.Header) (string, PayloadMode, error) {
	hash, ok := values[queryContentSHA256]
	if !ok {
		hash = header.Get("X-Amz-Content-Sha256")
	}
	if hash == "" {
		return UnsignedPayload, PayloadUnsigned, nil
	}

	mode, err := ParsePayloadMode(hash)
	if err != nil {
		return "", 0, fmt.Errorf("verifying presigned request: %w", err)
	}
	if mode.Streaming() {
		return "", 0, fmt.Errorf("verifying presigned request: %s needs an Authorization header: %w", hash, ErrMalformed)
	}
	return hash, mode, nil
}
