package sigv4

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var rejectSignedAt = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// headerSigned returns a GET signed with an Authorization header, as the
// server receives it, after edit changed the outgoing request.
func headerSigned(t *testing.T, edit func(req *http.Request)) *http.Request {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://agent.local:9000/photos/a.txt?versionId=1", nil)
	req.Header.Set("X-Amz-Content-Sha256", EmptySHA256)
	if edit != nil {
		edit(req)
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), clientCredentials(), req, EmptySHA256, "s3", clientRegion, rejectSignedAt); err != nil {
		t.Fatal(err)
	}
	return asServerRequest(t, req)
}

// presigned returns a presigned GET as the server receives it, with
// X-Amz-Expires expires and the extra raw query.
func presigned(t *testing.T, expires, extra string) *http.Request {
	t.Helper()
	rawQuery := "X-Amz-Expires=" + expires
	if extra != "" {
		rawQuery += "&" + extra
	}
	req, _ := http.NewRequest("GET", "http://agent.local:9000/photos/a.txt?"+rawQuery, nil)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	signedURL, _, err := signer.PresignHTTP(context.Background(), clientCredentials(), req, UnsignedPayload, "s3", clientRegion, rejectSignedAt)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := http.NewRequest("GET", signedURL, nil)
	return asServerRequest(t, out)
}

func setQuery(r *http.Request, name, value string) {
	q := r.URL.Query()
	q.Set(name, value)
	r.URL.RawQuery = q.Encode()
}

func TestVerifyRejects(t *testing.T) {
	tests := []struct {
		name    string
		request func(t *testing.T) *http.Request
		now     time.Time
		wantErr error
	}{
		{
			name: "no authentication",
			request: func(t *testing.T) *http.Request {
				return readServerRequest(t, "GET /photos/a.txt HTTP/1.1\nHost: agent.local:9000\n\n", nil)
			},
			wantErr: ErrMissingAuth,
		},
		{
			name: "header and query authentication together",
			request: func(t *testing.T) *http.Request {
				r := presigned(t, "300", "")
				r.Header.Set("Authorization", headerSigned(t, nil).Header.Get("Authorization"))
				return r
			},
			wantErr: ErrMalformed,
		},
		{
			name: "two Authorization headers",
			request: func(t *testing.T) *http.Request {
				r := headerSigned(t, nil)
				r.Header.Add("Authorization", r.Header.Get("Authorization"))
				return r
			},
			wantErr: ErrMalformed,
		},
		{
			name: "SigV2 header",
			request: func(t *testing.T) *http.Request {
				r := headerSigned(t, nil)
				r.Header.Set("Authorization", "AWS AKIDCLIENT:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=")
				return r
			},
			wantErr: ErrMalformed,
		},
		{
			name: "missing x-amz-content-sha256",
			request: func(t *testing.T) *http.Request {
				r := headerSigned(t, nil)
				r.Header.Del("X-Amz-Content-Sha256")
				return r
			},
			wantErr: ErrMalformed,
		},
		{
			name: "x-amz-content-sha256 of the wrong form",
			request: func(t *testing.T) *http.Request {
				return headerSigned(t, func(req *http.Request) { req.Header.Set("X-Amz-Content-Sha256", "not-a-hash") })
			},
			wantErr: ErrMalformed,
		},
		{
			name: "SigV4a streaming payload",
			request: func(t *testing.T) *http.Request {
				return headerSigned(t, func(req *http.Request) {
					req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")
				})
			},
			wantErr: ErrMalformed,
		},
		{
			name: "x-amz header added after signing",
			request: func(t *testing.T) *http.Request {
				r := headerSigned(t, nil)
				r.Header.Set("X-Amz-Copy-Source", "/other/secret.bin")
				return r
			},
			wantErr: ErrHeadersNotSigned,
		},
		{
			name: "no X-Amz-Date and no Date",
			request: func(t *testing.T) *http.Request {
				r := headerSigned(t, nil)
				r.Header.Del("X-Amz-Date")
				return r
			},
			wantErr: ErrMalformed,
		},
		{
			name: "credential date differs from X-Amz-Date",
			request: func(t *testing.T) *http.Request {
				r := headerSigned(t, nil)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20250101/", "/20250102/", 1))
				return r
			},
			wantErr: ErrMalformed,
		},
		{
			name: "X-Amz-Date not in the basic format",
			request: func(t *testing.T) *http.Request {
				r := headerSigned(t, nil)
				r.Header.Set("X-Amz-Date", "2025-01-01T00:00:00Z")
				return r
			},
			wantErr: ErrMalformed,
		},
		{
			name:    "presigned for 7 days plus a second",
			request: func(t *testing.T) *http.Request { return presigned(t, "604801", "") },
			wantErr: ErrMalformed,
		},
		{
			name:    "presigned for 0 seconds",
			request: func(t *testing.T) *http.Request { return presigned(t, "0", "") },
			wantErr: ErrMalformed,
		},
		{
			name:    "presigned with a negative expiry",
			request: func(t *testing.T) *http.Request { return presigned(t, "-5", "") },
			wantErr: ErrMalformed,
		},
		{
			name:    "presigned and expired",
			request: func(t *testing.T) *http.Request { return presigned(t, "300", "") },
			now:     rejectSignedAt.Add(301 * time.Second),
			wantErr: ErrExpired,
		},
		{
			name:    "presigned in the future",
			request: func(t *testing.T) *http.Request { return presigned(t, "300", "") },
			now:     rejectSignedAt.Add(-16 * time.Minute),
			wantErr: ErrRequestTimeTooSkewed,
		},
		{
			name: "presigned with a repeated parameter",
			request: func(t *testing.T) *http.Request {
				r := presigned(t, "300", "")
				r.URL.RawQuery += "&X-Amz-Expires=600"
				return r
			},
			wantErr: ErrMalformed,
		},
		{
			name: "presigned without X-Amz-SignedHeaders",
			request: func(t *testing.T) *http.Request {
				r := presigned(t, "300", "")
				q := r.URL.Query()
				q.Del("X-Amz-SignedHeaders")
				r.URL.RawQuery = q.Encode()
				return r
			},
			wantErr: ErrMalformed,
		},
		{
			name: "presigned with another algorithm",
			request: func(t *testing.T) *http.Request {
				r := presigned(t, "300", "")
				setQuery(r, "X-Amz-Algorithm", "AWS4-ECDSA-P256-SHA256")
				return r
			},
			wantErr: ErrMalformed,
		},
		{
			name: "presigned streaming payload",
			request: func(t *testing.T) *http.Request {
				r := presigned(t, "300", "")
				setQuery(r, "X-Amz-Content-Sha256", StreamingSignedPayload)
				return r
			},
			wantErr: ErrMalformed,
		},
		{
			name: "presigned with an unsigned x-amz header",
			request: func(t *testing.T) *http.Request {
				r := presigned(t, "300", "")
				r.Header.Set("X-Amz-Acl", "public-read")
				return r
			},
			wantErr: ErrHeadersNotSigned,
		},
		{
			name: "presigned with an unknown key",
			request: func(t *testing.T) *http.Request {
				r := presigned(t, "300", "")
				setQuery(r, "X-Amz-Credential", "AKIDOTHER/20250101/eu-west-1/s3/aws4_request")
				return r
			},
			wantErr: ErrInvalidAccessKey,
		},
		{
			name: "invalid escape in the query",
			request: func(t *testing.T) *http.Request {
				r := headerSigned(t, nil)
				r.URL.RawQuery = "prefix=%zz"
				return r
			},
			wantErr: ErrMalformed,
		},
	}
	verifier := &Verifier{Credentials: StaticCredentials{clientAccessKey: clientSecretKey}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = rejectSignedAt
			}
			_, err := verifier.Verify(tt.request(t), now)
			wantErrorIs(t, "Verify()", err, tt.wantErr)
		})
	}
}

func TestPresignedLongestExpiryAccepted(t *testing.T) {
	verifier := &Verifier{Credentials: StaticCredentials{clientAccessKey: clientSecretKey}}
	r := presigned(t, "604800", "")
	v, err := verifier.Verify(r, rejectSignedAt.Add(MaxPresignExpiry))
	if err != nil {
		t.Fatalf("Verify() at the last valid second error = %v, want nil", err)
	}
	if v.Expires != MaxPresignExpiry {
		t.Errorf("Expires = %v, want %v", v.Expires, MaxPresignExpiry)
	}
}

func TestVerifierRegionRestriction(t *testing.T) {
	r := headerSigned(t, nil)
	tests := []struct {
		name    string
		region  string
		wantErr error
	}{
		{name: "any region", region: ""},
		{name: "the signed region", region: clientRegion},
		{name: "another region", region: "us-east-1", wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier := &Verifier{Credentials: StaticCredentials{clientAccessKey: clientSecretKey}, Region: tt.region}
			_, err := verifier.Verify(r, rejectSignedAt)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Verify() error = %v, want nil", err)
			}
			if tt.wantErr != nil {
				wantErrorIs(t, "Verify()", err, tt.wantErr)
			}
		})
	}
}

// TestDateHeaderSigningTime covers a request that carries its signing time
// in Date instead of X-Amz-Date. No SDK at hand signs that way, so the
// signature is computed with this package's own functions, which the
// documented examples pin down.
func TestDateHeaderSigningTime(t *testing.T) {
	const date = "Wed, 01 Jan 2025 00:00:00 GMT"
	build := func(signed string) *http.Request {
		r := readServerRequest(t, "GET /photos/a.txt HTTP/1.1\nHost: agent.local:9000\nDate: "+date+
			"\nx-amz-content-sha256: "+EmptySHA256+"\n\n", nil)
		scope := Scope{Date: "20250101", Region: clientRegion, Service: service}
		headers := strings.Split(signed, ";")
		canonical := canonicalRequest("GET", "/photos/a.txt", "", canonicalHeaders(r, headers), signed, EmptySHA256)
		key := deriveSigningKey(clientSecretKey, scope.Date, scope.Region)
		auth := Authorization{AccessKey: clientAccessKey, Scope: scope, SignedHeaders: headers,
			Signature: signHex(key, stringToSign("20250101T000000Z", scope.String(), canonical))}
		r.Header.Set("Authorization", auth.String())
		return r
	}
	verifier := &Verifier{Credentials: StaticCredentials{clientAccessKey: clientSecretKey}}

	v, err := verifier.Verify(build("date;host;x-amz-content-sha256"), rejectSignedAt)
	if err != nil {
		t.Fatalf("Verify() error = %v, want nil", err)
	}
	if !v.SigningTime.Equal(rejectSignedAt) {
		t.Errorf("SigningTime = %v, want %v", v.SigningTime, rejectSignedAt)
	}

	_, err = verifier.Verify(build("host;x-amz-content-sha256"), rejectSignedAt)
	wantErrorIs(t, "Verify() with Date unsigned", err, ErrHeadersNotSigned)
}

// TestErrorsRevealNoSecrets checks the text of verification errors for the
// secret, the signature and header values.
func TestErrorsRevealNoSecrets(t *testing.T) {
	verifier := &Verifier{Credentials: StaticCredentials{clientAccessKey: clientSecretKey}}
	var requests []*http.Request

	bad := headerSigned(t, func(req *http.Request) { req.Header.Set("X-Amz-Meta-Note", "private-value") })
	bad.Header.Set("X-Amz-Meta-Note", "changed-value")
	requests = append(requests, bad)

	unsigned := headerSigned(t, nil)
	unsigned.Header.Set("X-Amz-Acl", "public-read-write")
	requests = append(requests, unsigned)

	malformed := headerSigned(t, nil)
	malformed.Header.Set("Authorization", malformed.Header.Get("Authorization")+", Extra=private-value")
	requests = append(requests, malformed)

	badPresigned := presigned(t, "300", "")
	setQuery(badPresigned, "X-Amz-Signature", strings.Repeat("f", 64))
	requests = append(requests, badPresigned)

	for _, r := range requests {
		_, err := verifier.Verify(r, rejectSignedAt)
		if err == nil {
			t.Fatalf("Verify() error = nil, want an error")
		}
		text := err.Error()
		forbidden := []string{clientSecretKey, "private-value", "changed-value", "public-read-write", strings.Repeat("f", 64)}
		if auth := r.Header.Get("Authorization"); auth != "" {
			forbidden = append(forbidden, auth[strings.LastIndex(auth, "=")+1:])
		}
		if sig := r.URL.Query().Get("X-Amz-Signature"); sig != "" {
			forbidden = append(forbidden, sig)
		}
		for _, s := range forbidden {
			if strings.Contains(text, s) {
				t.Errorf("Verify() error = %q, want it without %q", text, s)
			}
		}
	}
}

func TestVerificationPrintsNoSigningKey(t *testing.T) {
	verifier := &Verifier{Credentials: StaticCredentials{clientAccessKey: clientSecretKey}}
	v, err := verifier.Verify(headerSigned(t, nil), rejectSignedAt)
	if err != nil {
		t.Fatal(err)
	}
	decimal := strings.Trim(fmt.Sprint([]byte(v.SigningKey)), "[]")
	hexKey := fmt.Sprintf("%x", []byte(v.SigningKey))
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		text := fmt.Sprintf(format, v)
		if strings.Contains(text, decimal) || strings.Contains(text, hexKey) || !strings.Contains(text, "redacted") {
			t.Errorf("fmt.Sprintf(%q, verification) = %q, want the signing key redacted", format, text)
		}
	}
}
