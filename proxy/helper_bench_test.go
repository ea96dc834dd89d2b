package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/s3-batching-agent/s3-batching-agent/batching"
)

// BenchmarkHelperGetObject measures one helper API GetObject of a 1 KiB
// object, sent by one client at a time over loopback, through the helper
// handler, the read path and the signed upstream call to an httptest
// upstream. The "direct" case sends the same GET straight to the upstream:
// the difference is what the agent's path adds per request. Client, agent
// and upstream share this process, so the figures show relative cost, not
// the latency of separate processes.
func BenchmarkHelperGetObject(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 64)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		w.Write(body)
	}))
	defer up.Close()
	endpoint, err := url.Parse(up.URL)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("direct", func(b *testing.B) {
		benchmarkGet(b, up.URL+"/bucket/key", len(body))
	})

	for _, mode := range []struct {
		name string
		cfg  batching.Config
	}{
		{"batching=false", batching.Config{Disabled: true}},
		{"window=0", batching.Config{MaxSize: 10}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			upstream := NewUpstream(UpstreamConfig{
				Endpoint:    endpoint,
				Region:      "us-east-1",
				Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "bench-secret", ""),
			})
			// The agent always records metrics, which wraps every response
			// writer in a Recorder.
			helper := NewHelper(NewReadPath(upstream, mode.cfg, nil), HelperConfig{Observer: NewMetrics(nil)})
			srv := httptest.NewServer(helper)
			defer srv.Close()
			benchmarkGet(b, srv.URL+"/s3/getObject?bucket=bucket&key=key", len(body))
		})
	}
}

// benchmarkGet sends GET target once per iteration and checks that the
// body has size bytes.
func benchmarkGet(b *testing.B, target string, size int) {
	b.ReportAllocs()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	for b.Loop() {
		resp, err := client.Get(target)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || n != int64(size) {
			b.Fatalf("GET %s = status %d, %d bytes, %v; want 200, %d bytes", target, resp.StatusCode, n, err, size)
		}
	}
}
