package sigv4

import (
	"bytes"
	"context"
	"crypto/md5"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	miniosigner "github.com/minio/minio-go/v7/pkg/signer"
)

// Requests as clients send them to the agent's S3 listener, at
// agent.local:9000 with bucket photos and client key AKIDCLIENT.

// TestHostVerifiedAsReceived: `aws --endpoint-url http://agent.local:9000`
// signs "Host: agent.local:9000", port included, and Go's server moves that
// header to r.Host.
func TestHostVerifiedAsReceived(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	server, results := startVerifyingServer(t, func() time.Time { return now })
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })

	sign := func(host string) *http.Request {
		req, _ := http.NewRequest("GET", server.URL+"/photos?list-type=2", nil)
		req.Host = host
		req.Header.Set("X-Amz-Content-Sha256", EmptySHA256)
		if err := signer.SignHTTP(context.Background(), clientCredentials(), req, EmptySHA256, "s3", clientRegion, now); err != nil {
			t.Fatal(err)
		}
		return req
	}

	got := send(t, sign("agent.local:9000"), results)
	if got.err != nil {
		t.Fatalf("Verify() error = %v, want nil", got.err)
	}
	if got.host != "agent.local:9000" {
		t.Errorf("r.Host = %q, want %q", got.host, "agent.local:9000")
	}

	// The same request arriving under another Host (a proxy that dropped
	// the port) no longer verifies.
	moved := sign("agent.local:9000")
	moved.Host = "agent.local"
	got = send(t, moved, results)
	wantErrorIs(t, "Verify() with the port dropped", got.err, ErrSignatureMismatch)
}

// rawRequest writes head and body to the server on a fresh connection and
// returns the status line's code.
func rawRequest(t *testing.T, serverURL, head string, body []byte) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(serverURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, strings.ReplaceAll(head, "\n", "\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	var status [12]byte
	if _, err := io.ReadFull(conn, status[:]); err != nil {
		t.Fatal(err)
	}
	code := 0
	for _, c := range status[9:12] {
		code = code*10 + int(c-'0')
	}
	return code
}

// TestUnsignedTrailerWithSignedTransferEncoding sends the upload that
// aws-cli 2.23, boto3 1.36 and the JavaScript SDK 3.729 (and later versions)
// make by default for a stream body. Transfer-Encoding: chunked is among the
// signed headers, but Go's server removes it from r.Header. So the verifier
// has to rebuild "transfer-encoding:chunked" from r.TransferEncoding.
func TestUnsignedTrailerWithSignedTransferEncoding(t *testing.T) {
	server, results := startVerifyingServer(t, time.Now)

	upload := func(checksum string) verified {
		// minio-go signs every header in req.Header, Transfer-Encoding
		// included, which gives the signed header list of these clients.
		req, _ := http.NewRequest("PUT", server.URL+"/photos/a%20b%2Bc.txt", nil)
		req.Host = "agent.local:9000"
		req.Header.Set("Transfer-Encoding", "chunked")
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Content-Sha256", StreamingUnsignedPayloadTrailer)
		req.Header.Set("X-Amz-Decoded-Content-Length", "8")
		req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		req.Header.Set("X-Amz-Sdk-Checksum-Algorithm", "CRC32")
		signed := miniosigner.SignV4(*req, clientAccessKey, clientSecretKey, "", clientRegion)
		auth := signed.Header.Get("Authorization")
		if want := "SignedHeaders=content-encoding;host;transfer-encoding;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-sdk-checksum-algorithm;x-amz-trailer"; !strings.Contains(auth, want) {
			t.Fatalf("Authorization = %q, want it to contain %q", auth, want)
		}

		head := "PUT /photos/a%20b%2Bc.txt HTTP/1.1\nHost: agent.local:9000\nTransfer-Encoding: chunked\n"
		for _, name := range []string{"Authorization", "Content-Encoding", "X-Amz-Content-Sha256", "X-Amz-Date",
			"X-Amz-Decoded-Content-Length", "X-Amz-Trailer", "X-Amz-Sdk-Checksum-Algorithm"} {
			head += name + ": " + signed.Header.Get(name) + "\n"
		}
		head += "\n"
		awsChunked := "8\r\nabcdefgh\r\n0\r\nx-amz-checksum-crc32:" + checksum + "\r\n\r\n"
		httpChunked := []byte(strconv.FormatInt(int64(len(awsChunked)), 16) + "\r\n" + awsChunked + "\r\n0\r\n\r\n")
		rawRequest(t, server.URL, head, httpChunked)
		return <-results
	}

	got := upload(crc32Base64([]byte("abcdefgh")))
	if got.err != nil {
		t.Fatalf("Verify() and read error = %v, want nil", got.err)
	}
	if string(got.payload) != "abcdefgh" {
		t.Errorf("payload = %q, want %q", got.payload, "abcdefgh")
	}

	got = upload(crc32Base64([]byte("abcdefgX")))
	wantErrorIs(t, "reading payload with a wrong CRC", got.err, ErrBadDigest)
	if len(got.payload) != 0 {
		t.Errorf("bytes returned before the error = %q, want none", got.payload)
	}
}

func TestTransferEncodingRebuiltForCanonicalRequest(t *testing.T) {
	r := httptest.NewRequest("PUT", "http://agent.local:9000/photos/k", strings.NewReader("x"))
	r.TransferEncoding = []string{"chunked"}
	r.ContentLength = -1
	if got := canonicalHeaderValue(r, "transfer-encoding"); got != "chunked" {
		t.Errorf("canonicalHeaderValue(transfer-encoding) = %q, want %q", got, "chunked")
	}
	if got := canonicalHeaderValue(r, "content-length"); got != "" {
		t.Errorf("canonicalHeaderValue(content-length) of a chunked body = %q, want empty", got)
	}
}

// TestUploadPartSignedChunksAreFraming: the chunk headers and signatures of
// an UploadPart are framing, and the part is exactly the 1024 decoded bytes.
func TestUploadPartSignedChunksAreFraming(t *testing.T) {
	at := time.Now().UTC().Truncate(time.Second)
	server, results := startVerifyingServer(t, func() time.Time { return at })
	part := bytes.Repeat([]byte{0x5a}, 1024)

	req, _ := http.NewRequest("PUT", server.URL+"/photos/big.bin?partNumber=1&uploadId=u1", bytes.NewReader(part))
	req.Header.Set("Content-Encoding", "gzip")
	req = miniosigner.StreamingSignV4(req, clientAccessKey, clientSecretKey, "", clientRegion, int64(len(part)), at, newSHA256Hasher())
	if got := req.Header.Get("Content-Encoding"); got != "aws-chunked,gzip" {
		t.Fatalf("Content-Encoding = %q, want %q", got, "aws-chunked,gzip")
	}
	if req.ContentLength != int64(len("400;chunk-signature=")+64+2+1024+2+len("0;chunk-signature=")+64+2+2) {
		t.Fatalf("ContentLength = %d, want one 1024-byte chunk and the final chunk", req.ContentLength)
	}

	got := send(t, req, results)
	if got.err != nil {
		t.Fatalf("Verify() and read error = %v, want nil", got.err)
	}
	if md5.Sum(got.payload) != md5.Sum(part) || len(got.payload) != 1024 {
		t.Errorf("part = %d bytes with MD5 %x, want 1024 bytes with MD5 %x", len(got.payload), md5.Sum(got.payload), md5.Sum(part))
	}
}

func TestStripAWSChunked(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "only aws-chunked", in: "aws-chunked", want: ""},
		{name: "before gzip", in: "aws-chunked,gzip", want: "gzip"},
		{name: "after gzip with spaces", in: "gzip, aws-chunked", want: "gzip"},
		{name: "upper case", in: "AWS-Chunked, br", want: "br"},
		{name: "none", in: "", want: ""},
		{name: "others kept in order", in: "gzip,aws-chunked,br", want: "gzip,br"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripAWSChunked(tt.in); got != tt.want {
				t.Errorf("StripAWSChunked(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestListenerSignatureErrors covers the signature errors the listener
// maps to S3 error codes: SignatureDoesNotMatch, RequestTimeTooSkewed and
// InvalidAccessKeyId.
func TestListenerSignatureErrors(t *testing.T) {
	signedAt := time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	build := func(t *testing.T) *http.Request {
		req, _ := http.NewRequest("GET", "http://agent.local:9000/photos/missing.txt", nil)
		req.Header.Set("X-Amz-Content-Sha256", EmptySHA256)
		if err := signer.SignHTTP(context.Background(), clientCredentials(), req, EmptySHA256, "s3", clientRegion, signedAt); err != nil {
			t.Fatal(err)
		}
		return asServerRequest(t, req)
	}
	verifier := &Verifier{Credentials: StaticCredentials{clientAccessKey: clientSecretKey}}

	tests := []struct {
		name    string
		change  func(r *http.Request)
		now     time.Time
		wantErr error
	}{
		{name: "valid", now: signedAt.Add(14*time.Minute + 59*time.Second)},
		{name: "clock 15 minutes behind", now: signedAt.Add(-MaxClockSkew)},
		{name: "date 20 minutes off", now: signedAt.Add(20 * time.Minute), wantErr: ErrRequestTimeTooSkewed},
		{name: "date 20 minutes ahead", now: signedAt.Add(-20 * time.Minute), wantErr: ErrRequestTimeTooSkewed},
		{name: "bad signature", now: signedAt, wantErr: ErrSignatureMismatch, change: func(r *http.Request) {
			auth := r.Header.Get("Authorization")
			r.Header.Set("Authorization", auth[:len(auth)-1]+string("10"[boolToInt(auth[len(auth)-1] == '1')]))
		}},
		{name: "unknown access key", now: signedAt, wantErr: ErrInvalidAccessKey, change: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AKIDCLIENT", "AKIDOTHER", 1))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(t)
			if tt.change != nil {
				tt.change(r)
			}
			_, err := verifier.Verify(r, tt.now)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify() error = %v, want nil", err)
				}
				return
			}
			wantErrorIs(t, "Verify()", err, tt.wantErr)
		})
	}
}
