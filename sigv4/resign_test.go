package sigv4

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The agent re-signs forwarded requests with its node credentials. The
// upstream in these tests is a loopback server that verifies with those
// node credentials, as S3 would.

const (
	nodeAccessKey = "AKIDNODE"
	nodeSecretKey = "node-secret"
	nodeRegion    = "us-east-1"
)

func nodeCredentials() aws.Credentials {
	return aws.Credentials{AccessKeyID: nodeAccessKey, SecretAccessKey: nodeSecretKey}
}

// upstreamSeen is what the upstream server saw.
type upstreamSeen struct {
	verified
	rawQuery string
	header   http.Header
}

// startUpstream starts a loopback server that verifies with the node
// credentials at the current time.
func startUpstream(t *testing.T) (*httptest.Server, <-chan upstreamSeen) {
	t.Helper()
	verifier := &Verifier{Credentials: StaticCredentials{nodeAccessKey: nodeSecretKey}}
	results := make(chan upstreamSeen, 64)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen := upstreamSeen{verified: verified{escapedPath: r.URL.EscapedPath(), host: r.Host}, rawQuery: r.URL.RawQuery, header: r.Header.Clone()}
		seen.verification, seen.err = verifier.Verify(r, time.Now())
		if seen.err == nil {
			var payload PayloadReader
			payload, seen.err = seen.verification.NewPayloadReader(r.Body, r.Header)
			if seen.err == nil {
				seen.payload, seen.err = io.ReadAll(payload)
				seen.trailers = payload.Trailers()
			}
		}
		results <- seen
	}))
	t.Cleanup(server.Close)
	return server, results
}

// forwardRequest builds the outgoing request the agent would send for a
// client request: same method, escaped path, query and headers, aimed at
// upstream.
func forwardRequest(t testing.TB, upstream string, client *http.Request, body io.Reader) *http.Request {
	t.Helper()
	out, err := http.NewRequest(client.Method, upstream, body)
	if err != nil {
		t.Fatal(err)
	}
	out.URL.Path = client.URL.Path
	out.URL.RawPath = client.URL.RawPath
	out.URL.RawQuery = client.URL.RawQuery
	out.Header = client.Header.Clone()
	return out
}

func doUpstream(t *testing.T, req *http.Request, results <-chan upstreamSeen) upstreamSeen {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("Do() error = %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return <-results
}

func TestResignedRequestVerifiesUpstream(t *testing.T) {
	upstream, results := startUpstream(t)
	signer := NewSigner()

	// A client PUT signed with the client's key, as the listener receives it.
	body := "abcdefgh"
	client := httptest.NewRequest("PUT", "http://agent.local:9000/photos/reports/a%20b%2Bc.txt", strings.NewReader(body))
	client.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDCLIENT/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature="+strings.Repeat("0", 64))
	client.Header.Set("X-Amz-Date", "20250101T000000Z")
	client.Header.Set("X-Amz-Security-Token", "client-token")
	client.Header.Set("X-Amz-Content-Sha256", sha256HexOf([]byte(body)))
	client.Header.Set("X-Amz-Checksum-Crc32", crc32Base64([]byte(body)))
	client.Header.Set("X-Amz-Sdk-Checksum-Algorithm", "CRC32")
	client.Header.Set("X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256")
	client.Header.Set("X-Amz-Server-Side-Encryption-Customer-Key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	client.Header.Set("X-Amz-Server-Side-Encryption-Customer-Key-Md5", "zWq1k1o3a7Vp0Xb0kQ2z2A==")
	client.Header.Set("X-Amz-Meta-Owner", "team a")
	client.Header.Set("Content-Type", "text/plain")
	client.Header.Set("User-Agent", "aws-cli/2.23")
	client.Header.Set("Connection", "keep-alive, X-Hop")
	client.Header.Set("X-Hop", "dropped by the next hop")

	out := forwardRequest(t, upstream.URL, client, strings.NewReader(body))
	out.ContentLength = int64(len(body))
	if err := signer.Sign(out, nodeCredentials(), nodeRegion, sha256HexOf([]byte(body)), time.Now()); err != nil {
		t.Fatalf("Sign() error = %v", err)
	}
	out.Header.Del("Connection")
	out.Header.Del("X-Hop")

	seen := doUpstream(t, out, results)
	if seen.err != nil {
		t.Fatalf("upstream Verify() and read error = %v, want nil", seen.err)
	}
	if seen.verification.AccessKey != nodeAccessKey {
		t.Errorf("upstream access key = %q, want %q", seen.verification.AccessKey, nodeAccessKey)
	}
	if seen.escapedPath != "/photos/reports/a%20b%2Bc.txt" {
		t.Errorf("upstream path = %q, want %q", seen.escapedPath, "/photos/reports/a%20b%2Bc.txt")
	}
	if string(seen.payload) != body {
		t.Errorf("upstream payload = %q, want %q", seen.payload, body)
	}
	if got := seen.header.Get("X-Amz-Security-Token"); got != "" {
		t.Errorf("upstream X-Amz-Security-Token = %q, want the client's token removed", got)
	}
	for _, name := range []string{
		"content-length", "content-type", "host", "x-amz-checksum-crc32", "x-amz-content-sha256", "x-amz-date",
		"x-amz-meta-owner", "x-amz-sdk-checksum-algorithm",
		"x-amz-server-side-encryption-customer-algorithm", "x-amz-server-side-encryption-customer-key",
		"x-amz-server-side-encryption-customer-key-md5",
	} {
		if !slices.Contains(seen.verification.SignedHeaders, name) {
			t.Errorf("signed headers = %v, want %s among them", seen.verification.SignedHeaders, name)
		}
	}
	for _, name := range []string{"user-agent", "connection", "x-hop", "accept-encoding"} {
		if slices.Contains(seen.verification.SignedHeaders, name) {
			t.Errorf("signed headers = %v, want %s left out", seen.verification.SignedHeaders, name)
		}
	}
}

func TestResignedPresignedRequestDropsClientParams(t *testing.T) {
	upstream, results := startUpstream(t)

	// A presigned PUT whose query also carries a checksum and a response
	// override, both of which must reach the upstream.
	query := "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDCLIENT%2F20250101%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20250101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&x-amz-security-token=tok" +
		"&X-Amz-Signature=" + strings.Repeat("a", 64) +
		"&x-amz-checksum-crc32=AAAAAA%3D%3D&response-content-type=text%2Fplain&uploads"
	client := httptest.NewRequest("PUT", "http://agent.local:9000/photos/k.txt?"+query, nil)

	out := forwardRequest(t, upstream.URL, client, http.NoBody)
	if err := NewSigner().Sign(out, nodeCredentials(), nodeRegion, UnsignedPayload, time.Now()); err != nil {
		t.Fatalf("Sign() error = %v", err)
	}
	seen := doUpstream(t, out, results)
	if seen.err != nil {
		t.Fatalf("upstream Verify() error = %v, want nil", seen.err)
	}
	params, err := url.ParseQuery(seen.rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	for name := range params {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-") && name != "x-amz-checksum-crc32" {
			t.Errorf("upstream query has %s, want the client's presigned parameters removed", name)
		}
	}
	if got := params.Get("x-amz-checksum-crc32"); got != "AAAAAA==" {
		t.Errorf("upstream x-amz-checksum-crc32 = %q, want %q", got, "AAAAAA==")
	}
	if got := params.Get("response-content-type"); got != "text/plain" {
		t.Errorf("upstream response-content-type = %q, want %q", got, "text/plain")
	}
	if _, ok := params["uploads"]; !ok {
		t.Errorf("upstream query = %q, want uploads kept", seen.rawQuery)
	}
}

// TestResignedPathIsEscapedOnce guards against escaping the path a second
// time, which turns %20 into %2520 so that S3 responds with 403. It also
// guards against forwarding a raw '+', which S3 signs as %2B.
func TestResignedPathIsEscapedOnce(t *testing.T) {
	upstream, results := startUpstream(t)
	tests := []struct {
		name     string
		path     string // escaped, as the client sent it
		wantPath string
	}{
		{name: "escaped space and plus", path: "/photos/reports/a%20b%2Bc.txt", wantPath: "/photos/reports/a%20b%2Bc.txt"},
		{name: "raw plus", path: "/photos/pkgs/libstdc++-docs.rpm", wantPath: "/photos/pkgs/libstdc%2B%2B-docs.rpm"},
		{name: "lower-case escapes", path: "/photos/pkgs/libstdc%2b%2b-docs.rpm", wantPath: "/photos/pkgs/libstdc%2B%2B-docs.rpm"},
		{name: "parentheses", path: "/photos/img/image(1).jpg", wantPath: "/photos/img/image%281%29.jpg"},
		{name: "UTF-8", path: "/photos/%E5%86%99%E7%9C%9F%201.jpg", wantPath: "/photos/%E5%86%99%E7%9C%9F%201.jpg"},
		{name: "dot segments kept", path: "/photos/a/../b//c", wantPath: "/photos/a/../b//c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := httptest.NewRequest("GET", "http://agent.local:9000"+tt.path, nil)
			out := forwardRequest(t, upstream.URL, client, http.NoBody)
			if err := NewSigner().Sign(out, nodeCredentials(), nodeRegion, EmptySHA256, time.Now()); err != nil {
				t.Fatalf("Sign() error = %v", err)
			}
			seen := doUpstream(t, out, results)
			if seen.err != nil {
				t.Fatalf("upstream Verify() error = %v, want nil", seen.err)
			}
			if seen.escapedPath != tt.wantPath {
				t.Errorf("upstream path = %q, want %q", seen.escapedPath, tt.wantPath)
			}
		})
	}
}

func TestResignSetsSessionToken(t *testing.T) {
	upstream, results := startUpstream(t)
	creds := nodeCredentials()
	creds.SessionToken = "node-session-token"

	out, _ := http.NewRequest("GET", upstream.URL+"/photos/a.txt", nil)
	if err := NewSigner().Sign(out, creds, nodeRegion, EmptySHA256, time.Now()); err != nil {
		t.Fatalf("Sign() error = %v", err)
	}
	seen := doUpstream(t, out, results)
	if seen.err != nil {
		t.Fatalf("upstream Verify() error = %v, want nil", seen.err)
	}
	if got := seen.header.Get("X-Amz-Security-Token"); got != creds.SessionToken {
		t.Errorf("X-Amz-Security-Token = %q, want %q", got, creds.SessionToken)
	}
	if !slices.Contains(seen.verification.SignedHeaders, "x-amz-security-token") {
		t.Errorf("signed headers = %v, want x-amz-security-token", seen.verification.SignedHeaders)
	}
}

func TestResignSignsTheHostGoSends(t *testing.T) {
	tests := []struct {
		name     string
		url      string
		host     string // req.Host before signing
		wantHost string // Host header sent and signed
	}{
		{name: "default http port dropped", url: "http://s3.local:80/photos/a", wantHost: "s3.local"},
		{name: "default https port dropped", url: "https://s3.local:443/photos/a", wantHost: "s3.local"},
		{name: "other port kept", url: "http://s3.local:9000/photos/a", wantHost: "s3.local:9000"},
		{name: "no port", url: "https://s3.us-east-1.amazonaws.com/photos/a", wantHost: "s3.us-east-1.amazonaws.com"},
		{name: "explicit req.Host", url: "http://127.0.0.1:7070/photos/a", host: "versitygw.local:7070", wantHost: "versitygw.local:7070"},
	}
	verifier := &Verifier{Credentials: StaticCredentials{nodeAccessKey: nodeSecretKey}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			out, _ := http.NewRequest("GET", tt.url, nil)
			out.Host = tt.host
			if err := NewSigner().Sign(out, nodeCredentials(), nodeRegion, EmptySHA256, now); err != nil {
				t.Fatalf("Sign() error = %v", err)
			}
			server := asServerRequest(t, out)
			if server.Host != tt.wantHost {
				t.Errorf("Host sent = %q, want %q", server.Host, tt.wantHost)
			}
			if _, err := verifier.Verify(server, now); err != nil {
				t.Errorf("Verify() error = %v, want nil", err)
			}
		})
	}
}

func TestResignRejectsPayloadHashes(t *testing.T) {
	tests := []struct {
		name        string
		payloadHash string
	}{
		{name: "signed streaming", payloadHash: StreamingSignedPayload},
		{name: "signed streaming trailer", payloadHash: StreamingSignedPayloadTrailer},
		{name: "upper-case hex", payloadHash: strings.ToUpper(EmptySHA256)},
		{name: "empty", payloadHash: ""},
		{name: "short hex", payloadHash: "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := http.NewRequest("GET", "http://s3.local/photos/a", nil)
			if err := NewSigner().Sign(out, nodeCredentials(), nodeRegion, tt.payloadHash, time.Now()); err == nil {
				t.Errorf("Sign(%q) error = nil, want an error", tt.payloadHash)
			}
		})
	}
}

// TestResignConcurrentUse shares one Signer between goroutines, so the race
// detector reports any shared state that Sign changes.
func TestResignConcurrentUse(t *testing.T) {
	upstream, results := startUpstream(t)
	signer := NewSigner()

	const workers, perWorker = 8, 6
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				body := fmt.Sprintf("worker %d request %d", w, i)
				out, _ := http.NewRequest("PUT", fmt.Sprintf("%s/photos/w%d/%d+x", upstream.URL, w, i), strings.NewReader(body))
				out.Header.Set("X-Amz-Meta-Worker", fmt.Sprint(w))
				if err := signer.Sign(out, nodeCredentials(), nodeRegion, sha256HexOf([]byte(body)), time.Now()); err != nil {
					errs <- err
					continue
				}
				resp, err := http.DefaultClient.Do(out)
				if err != nil {
					errs <- err
					continue
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Sign() or Do() error = %v", err)
	}
	for range workers * perWorker {
		if seen := <-results; seen.err != nil {
			t.Errorf("upstream Verify() error = %v, want nil", seen.err)
		}
	}
}

// TestSignedChunksForwardedAsUnsignedTrailer runs the whole path of a
// streaming upload. A client sends signed chunks with a signed checksum
// trailer. The agent verifies and decodes them, re-frames the bytes as
// STREAMING-UNSIGNED-PAYLOAD-TRAILER and re-signs. The upstream verifies
// with the node credentials and checks the checksum.
func TestSignedChunksForwardedAsUnsignedTrailer(t *testing.T) {
	upstream, upstreamResults := startUpstream(t)
	signer := NewSigner()
	clientVerifier := &Verifier{Credentials: StaticCredentials{clientAccessKey: clientSecretKey}}

	agentErrs := make(chan error, 4)
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agentErrs <- forwardStreaming(r, upstream.URL, clientVerifier, signer)
	}))
	defer agent.Close()

	data := bytes.Repeat([]byte("streamed "), 30_000) // 270,000 bytes: five chunks
	at := time.Now().UTC().Truncate(time.Second)

	t.Run("valid upload", func(t *testing.T) {
		trailer := http.Header{"x-amz-checksum-crc32": {crc32Base64(data)}}
		resp, err := http.DefaultClient.Do(minioStreamingRequest(t, agent.URL+"/photos/big.bin?partNumber=2&uploadId=abc", data, trailer, at))
		if err != nil {
			t.Fatalf("Do() error = %v", err)
		}
		resp.Body.Close()
		if err := <-agentErrs; err != nil {
			t.Fatalf("agent error = %v, want nil", err)
		}
		seen := <-upstreamResults
		if seen.err != nil {
			t.Fatalf("upstream Verify() and read error = %v, want nil", seen.err)
		}
		if !bytes.Equal(seen.payload, data) {
			t.Errorf("upstream payload = %d bytes, want %d", len(seen.payload), len(data))
		}
		want := Trailer{Name: "x-amz-checksum-crc32", Value: crc32Base64(data)}
		if len(seen.trailers) != 1 || seen.trailers[0] != want {
			t.Errorf("upstream trailers = %v, want [%v]", seen.trailers, want)
		}
		if got := seen.header.Get("Content-Encoding"); got != "aws-chunked" {
			t.Errorf("upstream Content-Encoding = %q, want %q", got, "aws-chunked")
		}
	})

	t.Run("bad chunk aborts the upstream upload", func(t *testing.T) {
		req := minioStreamingRequest(t, agent.URL+"/photos/big.bin", data, nil, at)
		req.Body = &flipByteReader{r: req.Body, offset: 3*65626 + 200}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		wantErrorIs(t, "agent", <-agentErrs, ErrSignatureMismatch)
		seen := <-upstreamResults
		wantErrorIs(t, "upstream read", seen.err, ErrIncompleteBody)
		if len(seen.payload) >= len(data) {
			t.Errorf("upstream payload = %d bytes, want fewer than %d", len(seen.payload), len(data))
		}
	})
}

// forwardStreaming is the agent side of TestSignedChunksForwardedAsUnsignedTrailer.
func forwardStreaming(r *http.Request, upstream string, verifier *Verifier, signer *Signer) error {
	verification, err := verifier.Verify(r, time.Now())
	if err != nil {
		return err
	}
	payload, err := verification.NewPayloadReader(r.Body, r.Header)
	if err != nil {
		return err
	}
	decodedLength, err := parseDecodedLength(r.Header.Get("X-Amz-Decoded-Content-Length"))
	if err != nil {
		return err
	}
	var trailerNames []string
	if names := r.Header.Get("X-Amz-Trailer"); names != "" {
		trailerNames = strings.Split(names, ",")
	}
	length, err := UnsignedTrailerLength(decodedLength, 0, trailerNames)
	if err != nil {
		return err
	}

	// errorKeepingReader keeps the decoder's error, which the transport hides
	// behind its own when the body read fails.
	body := &errorKeepingReader{r: NewUnsignedTrailerEncoder(payload, 0, payload.Trailers)}
	out, err := http.NewRequest(r.Method, upstream, body)
	if err != nil {
		return err
	}
	out.URL.Path, out.URL.RawPath, out.URL.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	out.ContentLength = length
	out.Header.Set("Content-Encoding", "aws-chunked")
	out.Header.Set("X-Amz-Decoded-Content-Length", r.Header.Get("X-Amz-Decoded-Content-Length"))
	if len(trailerNames) > 0 {
		out.Header.Set("X-Amz-Trailer", strings.Join(trailerNames, ","))
	}
	if err := signer.Sign(out, nodeCredentials(), nodeRegion, StreamingUnsignedPayloadTrailer, time.Now()); err != nil {
		return err
	}

	resp, err := http.DefaultClient.Do(out)
	if body.err != nil {
		return body.err
	}
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

type errorKeepingReader struct {
	r   io.Reader
	err error
}

func (e *errorKeepingReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

func parseDecodedLength(s string) (int64, error) {
	var n int64
	_, err := fmt.Sscan(s, &n)
	return n, err
}

// TestResignMatchesSDKSigning checks that, for a request without unsigned
// headers, Sign produces the signature the SDK signer produces on its own.
func TestResignMatchesSDKSigning(t *testing.T) {
	now := time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	build := func() *http.Request {
		req, _ := http.NewRequest("GET", "https://s3.us-east-1.amazonaws.com/photos/reports/a%20b%2Bc.txt?versionId=1", nil)
		req.Header.Set("Range", "bytes=0-99")
		return req
	}

	ours := build()
	if err := NewSigner().Sign(ours, nodeCredentials(), nodeRegion, EmptySHA256, now); err != nil {
		t.Fatal(err)
	}
	theirs := build()
	theirs.Header.Set("X-Amz-Content-Sha256", EmptySHA256)
	sdk := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := sdk.SignHTTP(context.Background(), nodeCredentials(), theirs, EmptySHA256, "s3", nodeRegion, now); err != nil {
		t.Fatal(err)
	}
	if got, want := ours.Header.Get("Authorization"), theirs.Header.Get("Authorization"); got != want {
		t.Errorf("Sign() Authorization = %q, want %q", got, want)
	}
}
