package compat

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// startFramingServer serves a handler that reports the request's body
// length and framing check result, behind FramingListener.
func startFramingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkFraming(r); err != nil {
			w.WriteHeader(err.Status)
			fmt.Fprint(w, err.Code)
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d %q", r.URL.Path, len(b), b)
	})}
	go srv.Serve(FramingListener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// exchange writes raw requests on one connection and reads n responses.
func exchange(t *testing.T, addr, raw string, n int) []string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var out []string
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading response %d: %v", len(out)+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, fmt.Sprintf("%d %s", resp.StatusCode, b))
	}
	return out
}

func TestFramingRejectsContentLengthWithTransferEncoding(t *testing.T) {
	addr := startFramingServer(t)
	got := exchange(t, addr, "PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 1)
	if got[0] != "400 InvalidRequest" {
		t.Errorf("response = %q, want 400 InvalidRequest", got[0])
	}
}

func TestFramingFollowsKeepAliveStream(t *testing.T) {
	addr := startFramingServer(t)
	// A fixed-length body and a chunked body whose bytes look like header
	// lines must not be mistaken for requests.
	lookalike := "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
	raw := fmt.Sprintf("PUT /b/one HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(lookalike), lookalike) +
		fmt.Sprintf("PUT /b/two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x;ext=1\r\n%s\r\n0\r\nTrailer-Field: v\r\n\r\n", len(lookalike), lookalike) +
		"GET /b/three HTTP/1.1\r\nHost: x\r\n\r\n"
	got := exchange(t, addr, raw, 3)
	want := []string{
		fmt.Sprintf("200 /b/one %d %q", len(lookalike), lookalike),
		fmt.Sprintf("200 /b/two %d %q", len(lookalike), lookalike),
		`200 /b/three 0 ""`,
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("response %d = %q, want %q", i+1, got[i], want[i])
		}
	}
}

// Each request below hid a Content-Length + Transfer-Encoding request from
// an earlier version of the check, which split lines on CRLF only, did not
// join folded header lines, and honoured Transfer-Encoding on HTTP/1.0,
// which Go's server ignores. The hidden request must get 400.
func TestFramingRejectsHiddenAmbiguousRequests(t *testing.T) {
	smuggled := "PUT /b/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	tests := []struct {
		name string
		raw  string
		n    int // responses to read; the last is the smuggled request's
	}{
		{"bare LF inside the block", "PUT /b/k HTTP/1.1\r\nHost: x\r\nX-A: y\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 1},
		{"bare LF only", "PUT /b/k HTTP/1.1\nHost: x\nContent-Length: 3\nTransfer-Encoding: chunked\n\n3\r\nabc\r\n0\r\n\r\n", 1},
		{"after a folded Transfer-Encoding", "PUT /b/fold HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + smuggled, 2},
		{"after HTTP/1.0 with Transfer-Encoding", "GET /b/k HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggled, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startFramingServer(t)
			got := exchange(t, addr, tt.raw, tt.n)
			if last := got[len(got)-1]; last != "400 InvalidRequest" {
				t.Errorf("responses = %q, want the last to be 400 InvalidRequest", got)
			}
		})
	}
}

func TestFramingAnswersBareLFRequests(t *testing.T) {
	addr := startFramingServer(t)
	got := exchange(t, addr, "GET /b/lf HTTP/1.1\nHost: x\n\n", 1)
	if got[0] != `200 /b/lf 0 ""` {
		t.Errorf("response = %q, want 200 for a request with bare LF line ends", got[0])
	}
}

// FuzzFramingConn checks that the connection wrapper returns every byte
// it reads, in order, changing nothing but the names of Content-Length
// headers in requests that also carry Transfer-Encoding.
func FuzzFramingConn(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), uint8(7))
	f.Add([]byte("PUT /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\n\r\n"), uint8(3))
	f.Add([]byte("PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nhi\r\n0\r\n\r\n"), uint8(1))
	f.Fuzz(func(t *testing.T, input []byte, step uint8) {
		server, client := net.Pipe()
		go func() {
			client.Write(input)
			client.Close()
		}()
		c := &framingConn{Conn: server}
		var out bytes.Buffer
		buf := make([]byte, int(step)%64+1)
		for {
			n, err := c.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				break
			}
		}
		got := out.Bytes()
		// A stream the wrapper cannot follow ends early, after every byte
		// it had read; otherwise every byte comes through.
		if len(got) > len(input) || (!c.passAll && len(got) != len(input)) {
			t.Fatalf("read %d bytes of %d (stream ended early: %v)", len(got), len(input), c.passAll)
		}
		want := bytes.ReplaceAll(input[:len(got)], []byte(ambiguousFramingHeader), []byte("Content-Length"))
		normalised := bytes.ReplaceAll(got, []byte(ambiguousFramingHeader), []byte("Content-Length"))
		if !bytes.EqualFold(normalised, want) {
			t.Fatalf("output differs from input beyond header renames:\n in: %q\nout: %q", input, got)
		}
		if strings.Count(string(got), ambiguousFramingHeader) < strings.Count(string(input), ambiguousFramingHeader) {
			t.Fatalf("output lost bytes")
		}
	})
}
