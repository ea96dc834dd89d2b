package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Credentials and time of the worked examples in the Amazon S3 API
// reference.
const (
	exampleAccessKey = "AKIAIOSFODNN7EXAMPLE"
	exampleSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	exampleRegion    = "us-east-1"
)

var exampleTime = time.Date(2013, time.May, 24, 0, 0, 0, 0, time.UTC)

func exampleVerifier() *Verifier {
	return &Verifier{Credentials: StaticCredentials{exampleAccessKey: exampleSecretKey}}
}

// readServerRequest parses raw HTTP/1.1 request text the way Go's server
// does, with "\n" line ends turned into CRLF in the head. A head without
// Content-Length or Transfer-Encoding gets a Content-Length for body.
func readServerRequest(t testing.TB, head string, body []byte) *http.Request {
	t.Helper()
	head = strings.TrimLeft(head, "\n")
	lower := strings.ToLower(head)
	if len(body) > 0 && !strings.Contains(lower, "\ncontent-length:") && !strings.Contains(lower, "\ntransfer-encoding:") {
		head = strings.TrimSuffix(head, "\n\n") + "\nContent-Length: " + strconv.Itoa(len(body)) + "\n\n"
	}
	head = strings.ReplaceAll(head, "\n", "\r\n")
	raw := append([]byte(head), body...)
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("http.ReadRequest() error = %v", err)
	}
	return r
}

// asServerRequest writes an outgoing client request to the wire format and
// reads it back, giving the request a Go server would pass to its handler.
func asServerRequest(t testing.TB, req *http.Request) *http.Request {
	t.Helper()
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatalf("Request.Write() error = %v", err)
	}
	r, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatalf("http.ReadRequest() error = %v", err)
	}
	return r
}

// readPayload verifies r at now and reads its payload to the end. It
// returns the bytes read before any error.
func readPayload(t testing.TB, v *Verifier, r *http.Request, now time.Time) ([]byte, []Trailer, error) {
	t.Helper()
	verification, err := v.Verify(r, now)
	if err != nil {
		return nil, nil, err
	}
	payload, err := verification.NewPayloadReader(r.Body, r.Header)
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(payload)
	return data, payload.Trailers(), err
}

// sha256Hasher adapts crypto/sha256 to the hasher interface that minio-go's
// streaming signer takes.
type sha256Hasher struct{ hash.Hash }

func (sha256Hasher) Close() {}

func newSHA256Hasher() sha256Hasher { return sha256Hasher{sha256.New()} }

// flipByteReader changes the byte at offset as it passes.
type flipByteReader struct {
	r      io.Reader
	offset int64
	read   int64
}

func (f *flipByteReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.offset >= f.read && f.offset < f.read+int64(n) {
		p[f.offset-f.read] ^= 0x01
	}
	f.read += int64(n)
	return n, err
}

func (f *flipByteReader) Close() error { return nil }

// wantErrorIs fails unless errors.Is(err, want).
func wantErrorIs(t testing.TB, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s error = %v, want %v", call, err, want)
	}
}
