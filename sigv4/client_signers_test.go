package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	miniosigner "github.com/minio/minio-go/v7/pkg/signer"
)

// Requests signed by aws-sdk-go-v2's signer and by minio-go's signer travel
// over loopback to a real Go server, which verifies them with a Verifier and
// reads the payload through NewPayloadReader.

const (
	clientAccessKey = "AKIDCLIENT"
	clientSecretKey = "client-secret/with+symbols="
	clientRegion    = "eu-west-1"
)

// verified is what the test server saw for one request.
type verified struct {
	verification *Verification
	escapedPath  string
	host         string
	payload      []byte
	trailers     []Trailer
	err          error
}

// startVerifyingServer starts a loopback server that verifies every request
// with the client credentials at now() and reports what it saw on the
// returned channel.
func startVerifyingServer(t *testing.T, now func() time.Time) (*httptest.Server, <-chan verified) {
	t.Helper()
	verifier := &Verifier{Credentials: StaticCredentials{clientAccessKey: clientSecretKey}}
	results := make(chan verified, 16)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		result := verified{escapedPath: r.URL.EscapedPath(), host: r.Host}
		result.verification, result.err = verifier.Verify(r, now())
		if result.err == nil {
			var payload PayloadReader
			payload, result.err = result.verification.NewPayloadReader(r.Body, r.Header)
			if result.err == nil {
				result.payload, result.err = io.ReadAll(payload)
				result.trailers = payload.Trailers()
			}
		}
		results <- result
		if result.err != nil {
			http.Error(w, "rejected", http.StatusForbidden)
		}
	}))
	t.Cleanup(server.Close)
	return server, results
}

// send sends req and returns what the server saw.
func send(t *testing.T, req *http.Request, results <-chan verified) verified {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("Do() error = %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return <-results
}

func clientCredentials() aws.Credentials {
	return aws.Credentials{AccessKeyID: clientAccessKey, SecretAccessKey: clientSecretKey}
}

func sha256HexOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestSDKSignedRequestsVerify(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	server, results := startVerifyingServer(t, func() time.Time { return now })
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })

	tests := []struct {
		name        string
		method      string
		path        string // escaped, as the S3 client sends it
		query       string
		header      map[string]string
		body        string
		payloadHash string
	}{
		{name: "GET with range", method: "GET", path: "/photos/a.txt", header: map[string]string{"Range": "bytes=0-9"}, payloadHash: EmptySHA256},
		{name: "escaped key", method: "GET", path: "/photos/reports/a%20b%2Bc.txt", payloadHash: EmptySHA256},
		{name: "UTF-8 key", method: "GET", path: "/photos/%E5%86%99%E7%9C%9F%201.jpg", payloadHash: EmptySHA256},
		{name: "list with encoded query", method: "GET", path: "/photos", query: "list-type=2&prefix=dir%20one%2F&delimiter=%2F&encoding-type=url", payloadHash: EmptySHA256},
		{name: "PUT with signed body", method: "PUT", path: "/photos/k.txt", body: "hello, world", header: map[string]string{"Content-Type": "text/plain", "X-Amz-Meta-Owner": "  a   b  "}},
		{name: "PUT unsigned", method: "PUT", path: "/photos/k.bin", body: "unsigned bytes", payloadHash: UnsignedPayload,
			header: map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA==", "X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256"}},
		{name: "DeleteObjects", method: "POST", path: "/photos", query: "delete", body: "<Delete></Delete>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := server.URL + tt.path
			if tt.query != "" {
				target += "?" + tt.query
			}
			req, err := http.NewRequest(tt.method, target, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.body == "" {
				req.Body, req.ContentLength = http.NoBody, 0
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			payloadHash := tt.payloadHash
			if payloadHash == "" {
				payloadHash = sha256HexOf([]byte(tt.body))
			}
			req.Header.Set("X-Amz-Content-Sha256", payloadHash)
			if err := signer.SignHTTP(context.Background(), clientCredentials(), req, payloadHash, "s3", clientRegion, now); err != nil {
				t.Fatal(err)
			}

			got := send(t, req, results)
			if got.err != nil {
				t.Fatalf("Verify() error = %v, want nil", got.err)
			}
			if string(got.payload) != tt.body {
				t.Errorf("payload = %q, want %q", got.payload, tt.body)
			}
			if got.verification.AccessKey != clientAccessKey || got.verification.Region != clientRegion {
				t.Errorf("Verify() = key %q region %q, want %q %q", got.verification.AccessKey, got.verification.Region, clientAccessKey, clientRegion)
			}
		})
	}
}

func TestSDKSignedRequestOneByteChangeFails(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	server, results := startVerifyingServer(t, func() time.Time { return now })
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })

	tests := []struct {
		name    string
		change  func(req *http.Request)
		wantErr error
	}{
		{name: "header value", change: func(req *http.Request) { req.Header.Set("Range", "bytes=0-8") }, wantErr: ErrSignatureMismatch},
		{name: "path", change: func(req *http.Request) { req.URL.Path, req.URL.RawPath = "/photos/b.txt", "" }, wantErr: ErrSignatureMismatch},
		{name: "query", change: func(req *http.Request) { req.URL.RawQuery = "versionId=2" }, wantErr: ErrSignatureMismatch},
		{name: "body", change: func(req *http.Request) { req.Body = io.NopCloser(strings.NewReader("bodY")) }, wantErr: ErrContentSHA256Mismatch},
		{name: "unsigned x-amz header", change: func(req *http.Request) { req.Header.Set("X-Amz-Acl", "public-read") }, wantErr: ErrHeadersNotSigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("PUT", server.URL+"/photos/a.txt?versionId=1", strings.NewReader("body"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Range", "bytes=0-9")
			hash := sha256HexOf([]byte("body"))
			req.Header.Set("X-Amz-Content-Sha256", hash)
			if err := signer.SignHTTP(context.Background(), clientCredentials(), req, hash, "s3", clientRegion, now); err != nil {
				t.Fatal(err)
			}
			tt.change(req)

			got := send(t, req, results)
			wantErrorIs(t, "Verify() and read", got.err, tt.wantErr)
		})
	}
}

func TestSDKPresignedRequestVerifies(t *testing.T) {
	signedAt := time.Now().UTC().Truncate(time.Second)
	now := signedAt
	server, results := startVerifyingServer(t, func() time.Time { return now })
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })

	presign := func(t *testing.T, rawQuery string, header http.Header) string {
		t.Helper()
		req, err := http.NewRequest("GET", server.URL+"/photos/img/image%281%29.jpg?"+rawQuery, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		signed, _, err := signer.PresignHTTP(context.Background(), clientCredentials(), req, UnsignedPayload, "s3", clientRegion, signedAt)
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}

	t.Run("valid", func(t *testing.T) {
		req, _ := http.NewRequest("GET", presign(t, "X-Amz-Expires=900&response-content-type=text%2Fplain", nil), nil)
		got := send(t, req, results)
		if got.err != nil {
			t.Fatalf("Verify() error = %v, want nil", got.err)
		}
		if !got.verification.Presigned || got.verification.Expires != 15*time.Minute {
			t.Errorf("Verify() = presigned %v expires %v, want true 15m0s", got.verification.Presigned, got.verification.Expires)
		}
	})

	t.Run("one byte of the signature changed", func(t *testing.T) {
		signed := presign(t, "X-Amz-Expires=900", nil)
		last := signed[len(signed)-1]
		changed := signed[:len(signed)-1] + string("01"[0+boolToInt(last == '0')])
		req, _ := http.NewRequest("GET", changed, nil)
		got := send(t, req, results)
		wantErrorIs(t, "Verify()", got.err, ErrSignatureMismatch)
	})

	t.Run("signed header sent along", func(t *testing.T) {
		// x-amz-acl stays a header that the URL's user must send.
		signed := presign(t, "X-Amz-Expires=60", http.Header{"X-Amz-Acl": {"private"}})
		req, _ := http.NewRequest("GET", signed, nil)
		req.Header.Set("X-Amz-Acl", "private")
		if got := send(t, req, results); got.err != nil {
			t.Fatalf("Verify() error = %v, want nil", got.err)
		}

		req, _ = http.NewRequest("GET", signed, nil)
		req.Header.Set("X-Amz-Acl", "public-read")
		got := send(t, req, results)
		wantErrorIs(t, "Verify() with another x-amz-acl", got.err, ErrSignatureMismatch)
	})

	t.Run("header moved into the query", func(t *testing.T) {
		signed := presign(t, "X-Amz-Expires=60", http.Header{"X-Amz-Expected-Bucket-Owner": {"111122223333"}})
		if !strings.Contains(signed, "x-amz-expected-bucket-owner=111122223333") {
			t.Fatalf("PresignHTTP() = %s, want x-amz-expected-bucket-owner in the query", signed)
		}
		req, _ := http.NewRequest("GET", signed, nil)
		if got := send(t, req, results); got.err != nil {
			t.Fatalf("Verify() error = %v, want nil", got.err)
		}
	})

	t.Run("expired", func(t *testing.T) {
		signed := presign(t, "X-Amz-Expires=60", nil)
		now = signedAt.Add(61 * time.Second)
		defer func() { now = signedAt }()
		req, _ := http.NewRequest("GET", signed, nil)
		got := send(t, req, results)
		wantErrorIs(t, "Verify()", got.err, ErrExpired)
	})
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestMinioSignedRequestsVerify(t *testing.T) {
	server, results := startVerifyingServer(t, time.Now)

	tests := []struct {
		name     string
		rawPath  string // as Go's client sends it
		wantPath string // canonical, as S3 reads it
	}{
		{name: "plus signs sent raw", rawPath: "/photos/pkgs/libstdc++-docs.rpm", wantPath: "/photos/pkgs/libstdc%2B%2B-docs.rpm"},
		{name: "plus signs escaped", rawPath: "/photos/pkgs/libstdc%2B%2B-docs.rpm", wantPath: "/photos/pkgs/libstdc%2B%2B-docs.rpm"},
		{name: "parentheses sent raw", rawPath: "/photos/img/image(1).jpg", wantPath: "/photos/img/image%281%29.jpg"},
		{name: "space and plus escaped", rawPath: "/photos/reports/a%20b%2Bc.txt", wantPath: "/photos/reports/a%20b%2Bc.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", server.URL+tt.rawPath+"?versionId=x%2By", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
			signed := miniosigner.SignV4(*req, clientAccessKey, clientSecretKey, "", clientRegion)

			got := send(t, signed, results)
			if got.err != nil {
				t.Fatalf("Verify() error = %v, want nil", got.err)
			}
			canonical, err := CanonicalURI(got.escapedPath)
			if err != nil || canonical != tt.wantPath {
				t.Errorf("CanonicalURI(%q) = %q, %v; want %q", got.escapedPath, canonical, err, tt.wantPath)
			}
		})
	}
}

func TestMinioPresignedRequestVerifies(t *testing.T) {
	server, results := startVerifyingServer(t, time.Now)

	req, err := http.NewRequest("GET", server.URL+"/photos/pkgs/libstdc++-docs.rpm?response-content-disposition=attachment%3B%20filename%3D%22a.rpm%22", nil)
	if err != nil {
		t.Fatal(err)
	}
	signed := miniosigner.PreSignV4(*req, clientAccessKey, clientSecretKey, "", clientRegion, 300)

	got := send(t, signed, results)
	if got.err != nil {
		t.Fatalf("Verify() error = %v, want nil", got.err)
	}

	changed, _ := http.NewRequest("GET", strings.Replace(signed.URL.String(), "a.rpm", "b.rpm", 1), nil)
	got = send(t, changed, results)
	wantErrorIs(t, "Verify() with a changed parameter", got.err, ErrSignatureMismatch)
}

// minioStreamingRequest builds a PUT signed by minio-go's streaming signer
// with 64 KiB signed chunks, and trailers when trailer is not nil.
func minioStreamingRequest(t *testing.T, url string, data []byte, trailer http.Header, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest("PUT", url, io.NopCloser(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(data))
	req.Trailer = trailer
	return miniosigner.StreamingSignV4(req, clientAccessKey, clientSecretKey, "", clientRegion, int64(len(data)), at, newSHA256Hasher())
}

func crc32Base64(data []byte) string {
	sum := crc32.ChecksumIEEE(data)
	return base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
}

func TestMinioStreamingUploadsVerify(t *testing.T) {
	at := time.Now().UTC().Truncate(time.Second)
	server, results := startVerifyingServer(t, func() time.Time { return at })
	data := bytes.Repeat([]byte("0123456789abcdef"), 200_000/16) // 3 full chunks and a partial one

	t.Run("signed chunks", func(t *testing.T) {
		got := send(t, minioStreamingRequest(t, server.URL+"/photos/big.bin", data, nil, at), results)
		if got.err != nil {
			t.Fatalf("Verify() and read error = %v, want nil", got.err)
		}
		if !bytes.Equal(got.payload, data) || got.verification.Payload != PayloadStreamingSigned {
			t.Errorf("payload = %d bytes in mode %v, want %d bytes in mode %v", len(got.payload), got.verification.Payload, len(data), PayloadStreamingSigned)
		}
	})

	t.Run("signed chunks and trailer", func(t *testing.T) {
		trailer := http.Header{"x-amz-checksum-crc32": {crc32Base64(data)}}
		got := send(t, minioStreamingRequest(t, server.URL+"/photos/big.bin", data, trailer, at), results)
		if got.err != nil {
			t.Fatalf("Verify() and read error = %v, want nil", got.err)
		}
		want := []Trailer{{Name: "x-amz-checksum-crc32", Value: crc32Base64(data)}}
		if !bytes.Equal(got.payload, data) || len(got.trailers) != 1 || got.trailers[0] != want[0] {
			t.Errorf("payload = %d bytes, trailers %v; want %d bytes, %v", len(got.payload), got.trailers, len(data), want)
		}
	})

	t.Run("wrong trailing checksum", func(t *testing.T) {
		trailer := http.Header{"x-amz-checksum-crc32": {crc32Base64([]byte("other"))}}
		got := send(t, minioStreamingRequest(t, server.URL+"/photos/big.bin", data, trailer, at), results)
		wantErrorIs(t, "reading payload", got.err, ErrBadDigest)
		if len(got.payload) >= len(data) {
			t.Errorf("bytes returned before the error = %d, want fewer than %d", len(got.payload), len(data))
		}
	})

	t.Run("one byte changed in the second chunk", func(t *testing.T) {
		req := minioStreamingRequest(t, server.URL+"/photos/big.bin", data, nil, at)
		// A 64 KiB chunk is an 88-byte header ("10000;chunk-signature=",
		// 64 hex digits, CRLF), the data and a CRLF: 65626 bytes.
		req.Body = &flipByteReader{r: req.Body, offset: 65626 + 88 + 10}
		got := send(t, req, results)
		wantErrorIs(t, "reading payload", got.err, ErrSignatureMismatch)
		if len(got.payload) != 65536 {
			t.Errorf("bytes returned before the error = %d, want 65536 (the first chunk only)", len(got.payload))
		}
	})
}

func TestMinioUnsignedTrailerUploadVerifies(t *testing.T) {
	server, results := startVerifyingServer(t, time.Now)
	data := bytes.Repeat([]byte("abc"), 30_000)

	upload := func(checksum string) verified {
		req, err := http.NewRequest("PUT", server.URL+"/photos/k.bin?partNumber=1&uploadId=u%2B1", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Content-Sha256", StreamingUnsignedPayloadTrailer)
		trailer := http.Header{"x-amz-checksum-crc32": {checksum}}
		signed := miniosigner.SignV4Trailer(*req, clientAccessKey, clientSecretKey, "", clientRegion, trailer)
		return send(t, signed, results)
	}

	got := upload(crc32Base64(data))
	if got.err != nil {
		t.Fatalf("Verify() and read error = %v, want nil", got.err)
	}
	if !bytes.Equal(got.payload, data) || got.verification.Payload != PayloadStreamingUnsignedTrailer {
		t.Errorf("payload = %d bytes in mode %v, want %d bytes in mode %v", len(got.payload), got.verification.Payload, len(data), PayloadStreamingUnsignedTrailer)
	}

	got = upload(crc32Base64([]byte("other")))
	wantErrorIs(t, "reading payload", got.err, ErrBadDigest)
}

// TestSDKClientUnsignedTrailerUpload sends a PutObject through the real
// aws-sdk-go-v2 S3 client, which frames a stream body with a trailing
// checksum as STREAMING-UNSIGNED-PAYLOAD-TRAILER over TLS. The SDK sends a
// body of known length as one chunk, so the 17 MiB body here is one chunk
// above DefaultMaxChunkSize. A decoder that buffered unsigned chunks whole
// under that limit rejected it.
func TestSDKClientUnsignedTrailerUpload(t *testing.T) {
	verifier := &Verifier{Credentials: StaticCredentials{clientAccessKey: clientSecretKey}}
	results := make(chan verified, 1)
	server := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		result := verified{escapedPath: r.URL.EscapedPath(), host: r.Host}
		result.verification, result.err = verifier.Verify(r, time.Now())
		if result.err == nil {
			var payload PayloadReader
			payload, result.err = result.verification.NewPayloadReader(r.Body, r.Header)
			if result.err == nil {
				result.payload, result.err = io.ReadAll(payload)
				result.trailers = payload.Trailers()
			}
		}
		results <- result
	}))
	defer server.Close()

	client := s3.New(s3.Options{
		Region:           clientRegion,
		BaseEndpoint:     aws.String(server.URL),
		UsePathStyle:     true,
		HTTPClient:       server.Client(),
		RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return clientCredentials(), nil
		}),
	})
	data := bytes.Repeat([]byte("trailer!"), (DefaultMaxChunkSize+1<<20)/8)
	_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket:            aws.String("photos"),
		Key:               aws.String("reports/a b+c.txt"),
		Body:              struct{ io.Reader }{bytes.NewReader(data)}, // not seekable, so the SDK streams it
		ContentLength:     aws.Int64(int64(len(data))),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		t.Fatalf("PutObject() error = %v", err)
	}

	got := <-results
	if got.err != nil {
		t.Fatalf("Verify() and read error = %v, want nil", got.err)
	}
	if got.escapedPath != "/photos/reports/a%20b%2Bc.txt" {
		t.Errorf("path received = %q, want %q", got.escapedPath, "/photos/reports/a%20b%2Bc.txt")
	}
	if got.verification.Payload != PayloadStreamingUnsignedTrailer {
		t.Errorf("payload mode = %v, want %v", got.verification.Payload, PayloadStreamingUnsignedTrailer)
	}
	if !bytes.Equal(got.payload, data) {
		t.Errorf("payload = %d bytes, want %d", len(got.payload), len(data))
	}
	want := Trailer{Name: "x-amz-checksum-crc32", Value: crc32Base64(data)}
	if len(got.trailers) != 1 || got.trailers[0] != want {
		t.Errorf("Trailers() = %v, want [%v]", got.trailers, want)
	}
}
