package harness

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSignerAgainstVersitygw checks the raw signer against a real S3
// server: versitygw must accept every form it produces, so that tests
// that use it against the agent fail only for the agent's faults.
func TestSignerAgainstVersitygw(t *testing.T) {
	s := Versitygw(t)
	s.CreateBucket(t, "bkt")
	signer := Signer{AccessKey: s.AccessKey, SecretKey: s.SecretKey, Region: s.Region}
	host := strings.TrimPrefix(s.Endpoint, "http://")
	// Three chunks of 8 KiB, the smallest size S3 accepts for a chunk
	// that is not the last, and a shorter last one.
	data := bytes.Repeat([]byte("signed by the harness "), 1200)

	send := func(t *testing.T, r *RawRequest) *RawResponse {
		t.Helper()
		conn := DialRaw(t, host)
		conn.Write(t, r.Bytes(), 10*time.Second)
		resp, err := conn.ReadResponse(r.Method, 10*time.Second)
		if err != nil {
			t.Fatalf("%s %s: %v", r.Method, r.Path, err)
		}
		return resp
	}

	tests := []struct {
		name    string
		key     string
		request func(key string) *RawRequest
	}{
		{
			name: "header signature",
			key:  "plain a+b.txt",
			request: func(key string) *RawRequest {
				r := &RawRequest{Method: http.MethodPut, Path: "/bkt/" + uriEscape(key, true), Host: host,
					Header: http.Header{"Content-Length": {strconv.Itoa(len(data))}}, Body: data}
				signer.SignRaw(r, SHA256Hex(data))
				return r
			},
		},
		{
			name: "signed chunks",
			key:  "chunked.txt",
			request: func(key string) *RawRequest {
				at := signer
				at.Time = time.Now()
				r := &RawRequest{Method: http.MethodPut, Path: "/bkt/" + key, Host: host, Header: http.Header{
					"Content-Encoding":             {"aws-chunked"},
					"X-Amz-Decoded-Content-Length": {strconv.Itoa(len(data))},
				}}
				seed := at.SignRaw(r, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "content-encoding", "x-amz-decoded-content-length")
				r.Body = SignedChunkedBody(at.NewChunkSigner(seed), data, 8192)
				r.Header.Set("Content-Length", strconv.Itoa(len(r.Body)))
				return r
			},
		},
		{
			name: "signed chunks with a signed trailer",
			key:  "signed-trailer.txt",
			request: func(key string) *RawRequest {
				at := signer
				at.Time = time.Now()
				r := &RawRequest{Method: http.MethodPut, Path: "/bkt/" + key, Host: host, Header: http.Header{
					"Content-Encoding":             {"aws-chunked"},
					"X-Amz-Decoded-Content-Length": {strconv.Itoa(len(data))},
					"X-Amz-Trailer":                {"x-amz-checksum-sha256"},
				}}
				seed := at.SignRaw(r, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "content-encoding", "x-amz-decoded-content-length", "x-amz-trailer")
				r.Body = SignedChunkedBody(at.NewChunkSigner(seed), data, 8192, "x-amz-checksum-sha256:"+sha256Base64(data))
				r.Header.Set("Content-Length", strconv.Itoa(len(r.Body)))
				return r
			},
		},
		{
			name: "unsigned payload with a trailer over HTTP chunked",
			key:  "unsigned-trailer.txt",
			request: func(key string) *RawRequest {
				r := &RawRequest{Method: http.MethodPut, Path: "/bkt/" + key, Host: host, Header: http.Header{
					"Transfer-Encoding":            {"chunked"},
					"Content-Encoding":             {"aws-chunked"},
					"X-Amz-Decoded-Content-Length": {strconv.Itoa(len(data))},
					"X-Amz-Trailer":                {"x-amz-checksum-sha256"},
				}}
				signer.SignRaw(r, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "content-encoding", "transfer-encoding", "x-amz-decoded-content-length", "x-amz-trailer")
				r.Body = HTTPChunked(UnsignedChunkedBody(data, 8192, "x-amz-checksum-sha256:"+sha256Base64(data)))
				return r
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := send(t, tt.request(tt.key))
			if resp.Status != http.StatusOK {
				t.Fatalf("PUT status = %d, want 200; body %s", resp.Status, resp.Body[bytes.Index(resp.Body, []byte("<Error")):])
			}
			if got := s.Get(t, "bkt", tt.key); !bytes.Equal(got, data) {
				t.Errorf("stored object has %d bytes that differ from the %d sent", len(got), len(data))
			}
		})
	}

	t.Run("presigned GET", func(t *testing.T) {
		target, err := signer.Presign(http.MethodGet, s.Endpoint, "/bkt/"+uriEscape("plain a+b.txt", true), url.Values{"response-content-type": {"text/x-test"}}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(target)
		if err != nil {
			t.Fatalf("GET presigned URL: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
			t.Errorf("presigned GET = %d with %d bytes, want 200 with the %d stored", resp.StatusCode, len(body), len(data))
		}
		if got := resp.Header.Get("Content-Type"); got != "text/x-test" {
			t.Errorf("presigned GET Content-Type = %q, want text/x-test", got)
		}
	})

	t.Run("wrong secret rejected", func(t *testing.T) {
		wrong := signer
		wrong.SecretKey = "not-the-secret"
		r := &RawRequest{Method: http.MethodGet, Path: "/bkt/chunked.txt", Host: host}
		wrong.SignRaw(r, EmptySHA256)
		if resp := send(t, r); resp.Status != http.StatusForbidden {
			t.Errorf("GET with a wrong secret status = %d, want 403", resp.Status)
		}
	})
}

// TestTapRecordsAndResponds checks that a Tap forwards requests with their
// bodies, records them, and returns canned responses once.
func TestTapRecordsAndResponds(t *testing.T) {
	s := Versitygw(t)
	s.CreateBucket(t, "bkt")
	tap := NewTap(t, s.Endpoint)
	signer := Signer{AccessKey: s.AccessKey, SecretKey: s.SecretKey, Region: s.Region}
	data := []byte("through the tap")

	req, err := http.NewRequest(http.MethodPut, tap.URL+"/bkt/k.txt", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	signer.SignHTTP(req, SHA256Hex(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT through the tap: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT through the tap status = %d, want 200", resp.StatusCode)
	}
	requests := tap.Requests()
	if len(requests) != 1 || !bytes.Equal(requests[0].Body, data) || requests[0].ContentLength != int64(len(data)) {
		t.Fatalf("Requests() = %+v, want one PUT with the %d-byte body", requests, len(data))
	}
	if got := s.Get(t, "bkt", "k.txt"); !bytes.Equal(got, data) {
		t.Errorf("stored object = %q, want %q", got, data)
	}

	tap.Respond(func(r TapRequest) bool { return r.Method == http.MethodGet }, http.StatusServiceUnavailable,
		http.Header{"Content-Type": {"application/xml"}}, "<Error><Code>SlowDown</Code></Error>")
	for i, want := range []int{http.StatusServiceUnavailable, http.StatusOK} {
		req, err := http.NewRequest(http.MethodGet, tap.URL+"/bkt/k.txt", nil)
		if err != nil {
			t.Fatal(err)
		}
		signer.SignHTTP(req, EmptySHA256)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %d through the tap: %v", i+1, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %d through the tap status = %d, want %d; body %s", i+1, resp.StatusCode, want, body)
		}
	}
	if n := len(tap.Requests()); n != 3 {
		t.Errorf("len(Requests()) = %d, want 3: the PUT and both GETs, canned or not", n)
	}
}

// sha256Base64 returns the x-amz-checksum-sha256 value of data.
func sha256Base64(data []byte) string {
	sum := sha256.Sum256(data)
	return base64.StdEncoding.EncodeToString(sum[:])
}
