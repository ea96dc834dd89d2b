package test

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3-batching-agent/s3-batching-agent/test/internal/harness"
)

// closedPort returns a port on 127.0.0.1 that nothing listens on: it was
// bound a moment ago and released.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

func TestHelperUpstreamUnreachable(t *testing.T) {
	t.Parallel()
	port := strconv.Itoa(closedPort(t))
	agent := harness.StartAgent(t, harness.AgentOptions{Args: []string{
		"--s3-port=0", "--endpoint=http://127.0.0.1:" + port,
	}})
	st := &stack{agent: agent, client: newHTTPClient(t)}

	paths := []string{
		helperQuery("/s3/getObject", "bucket", "bkt", "key", "k"),
		helperQuery("/s3/listObjects", "bucket", "bkt"),
		"/s3/listBuckets",
	}
	for _, path := range paths {
		r := st.get(t, path)
		decodeAPIError(t, "GET "+path, r, http.StatusBadGateway, "BadGateway")
		if strings.Contains(string(r.body), port) {
			t.Errorf("GET %s body names the upstream port %s, want no upstream address; body %s", path, port, r.body)
		}
	}

	ready := st.get(t, "/ready")
	if ready.status != http.StatusServiceUnavailable {
		t.Errorf("GET /ready with an unreachable upstream status = %d, want 503; body %s", ready.status, ready.body)
	}
}

func TestHelperReadyAfterUpstreamAnswer(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})
	mustStatus(t, "listBuckets", st.get(t, "/s3/listBuckets"), http.StatusOK)

	r := st.get(t, "/ready")
	if r.status != http.StatusOK {
		t.Errorf("GET /ready after an upstream answer status = %d, want 200; body %s", r.status, r.body)
	}
}

func TestHelperUpstreamHeaderTimeout(t *testing.T) {
	st := newStack(t, stackOptions{buckets: []string{"bkt"}, agentArgs: []string{"--upstream-timeout=1s"}})
	st.s3.Put(t, "bkt", "slow", []byte("never sent"), "", nil)

	// The hold is never closed: the counter releases it when the test ends.
	hold := make(chan struct{})
	st.counter.Inject(t, harness.Fault{Match: harness.MatchObject("", "bkt", ""), Hold: hold})
	st.counter.Inject(t, harness.Fault{Match: harness.MatchObject("", "bkt", "slow"), Hold: hold})

	for _, path := range []string{
		helperQuery("/s3/getObject", "bucket", "bkt", "key", "slow"),
		helperQuery("/s3/listObjects", "bucket", "bkt"),
	} {
		start := time.Now()
		r := st.get(t, path)
		decodeAPIError(t, "GET "+path, r, http.StatusGatewayTimeout, "GatewayTimeout")
		if elapsed := time.Since(start); elapsed < time.Second {
			t.Errorf("GET %s answered 504 after %v, want at least the 1s --upstream-timeout", path, elapsed)
		}
	}
}

func TestHelperUpstreamErrorStatus(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})
	st.s3.Put(t, "bkt", "k", []byte("fine"), "", nil)
	path := helperQuery("/s3/getObject", "bucket", "bkt", "key", "k")

	tests := []struct {
		name       string
		status     int
		code       string
		wantStatus int
		wantCode   string
	}{
		{name: "throttled", status: http.StatusServiceUnavailable, wantStatus: http.StatusServiceUnavailable, wantCode: "SlowDown"},
		{name: "access denied", status: http.StatusForbidden, code: "AccessDenied", wantStatus: http.StatusForbidden, wantCode: "AccessDenied"},
		// The agent returns 502 for an upstream 500, because the
		// fault lies beyond the agent.
		{name: "internal error", status: http.StatusInternalServerError, wantStatus: http.StatusBadGateway, wantCode: "BadGateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remove := st.counter.Inject(t, harness.Fault{
				Match:  harness.MatchObject(http.MethodGet, "bkt", "k"),
				Status: tt.status,
				Code:   tt.code,
			})
			r := st.get(t, path)
			remove()

			e := decodeAPIError(t, "GET "+path, r, tt.wantStatus, tt.wantCode)
			if e.Bucket != "bkt" || e.Key != "k" {
				t.Errorf("error Bucket, Key = %q, %q, want bkt, k", e.Bucket, e.Key)
			}
			if strings.Contains(e.Message, "injected by the test harness") && tt.wantCode == "BadGateway" {
				t.Errorf("502 error Message = %q, want the agent's own message", e.Message)
			}

			after := st.get(t, path)
			mustStatus(t, "getObject after the fault", after, http.StatusOK)
			if string(after.body) != "fine" {
				t.Errorf("getObject after the fault body = %q, want %q", after.body, "fine")
			}
		})
	}
}

func TestHelperDebugConfig(t *testing.T) {
	t.Parallel()
	t.Run("off by default", func(t *testing.T) {
		st := newStack(t, stackOptions{})
		for _, path := range []string{"/debug/config", "/debug/pprof/"} {
			decodeAPIError(t, "GET "+path, st.get(t, path), http.StatusNotFound, "NotFound")
		}
	})

	t.Run("with --debug", func(t *testing.T) {
		st := newStack(t, stackOptions{agentArgs: []string{"--debug", "--batch-window=250ms"}})
		r := st.get(t, "/debug/config")

		var body map[string]any
		decodeJSON(t, "GET /debug/config", r, &body)
		if !strings.Contains(string(r.body), `"batch-window":"250ms"`) {
			t.Errorf("GET /debug/config has no \"batch-window\":\"250ms\", want the effective flags; body %s", r.body)
		}
		if strings.Contains(string(r.body), harness.SecretKey) {
			t.Errorf("GET /debug/config contains the secret access key, want it masked; body %s", r.body)
		}
		if strings.Contains(string(r.body), harness.AccessKey) {
			t.Errorf("GET /debug/config contains the whole access key id, want it masked; body %s", r.body)
		}
		if log := st.agent.Log(t); strings.Contains(log, harness.SecretKey) {
			t.Errorf("agent log contains the secret access key, want it never logged")
		}
	})
}
