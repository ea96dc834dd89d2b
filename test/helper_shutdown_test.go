package test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/s3-batching-agent/s3-batching-agent/test/internal/harness"
)

// waitForLog polls the agent's log until it contains text, and fails the
// test after 20s.
func waitForLog(t *testing.T, a *harness.Agent, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(a.Log(t), text) {
		if time.Now().After(deadline) {
			t.Fatalf("agent log has no %q after 20s", text)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not an ordering wait
	}
}

// waitForExit polls until the agent process has exited, and fails the test
// after limit.
func waitForExit(t *testing.T, a *harness.Agent, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for a.Running() {
		if time.Now().After(deadline) {
			t.Fatalf("agent still running %v after SIGTERM", limit)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not an ordering wait
	}
}

// startHeldDownload starts a getObject of bkt/big.bin whose upstream body
// the counter stops after 64 KiB until bodyHold is closed, and returns the
// response once those 64 KiB have arrived.
func startHeldDownload(t *testing.T, st *stack, data []byte, bodyHold chan struct{}) *http.Response {
	t.Helper()
	st.s3.Put(t, "bkt", "big.bin", data, "", nil)
	st.counter.Inject(t, harness.Fault{
		Match:     harness.MatchObject(http.MethodGet, "bkt", "big.bin"),
		Times:     1,
		BodyAfter: 64 << 10,
		BodyHold:  bodyHold,
	})

	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.objectURL("bkt", "big.bin"), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := st.client.Do(req)
	if err != nil {
		t.Fatalf("GET big.bin = %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET big.bin status = %d, want 200", resp.StatusCode)
	}

	first := make([]byte, 64<<10)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("reading the first 64 KiB of big.bin = %v", err)
	}
	if !bytes.Equal(first, data[:len(first)]) {
		t.Fatalf("first 64 KiB of big.bin differ from the object")
	}
	return resp
}

func TestShutdownFinishesStreamingResponse(t *testing.T) {
	st := newStack(t, stackOptions{buckets: []string{"bkt"}, agentArgs: []string{"--shutdown-timeout=20s"}})
	data := randomBytes(t, 1<<20)
	bodyHold := make(chan struct{})
	resp := startHeldDownload(t, st, data, bodyHold)

	sent := time.Now()
	if err := st.agent.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("sending SIGTERM = %v", err)
	}
	waitForLog(t, st.agent, "shutting down")

	// The listener is closed once shutdown has begun.
	fresh := fetch(context.Background(), newHTTPClient(t), http.MethodGet, st.agent.HelperURL+"/health")
	if fresh.err == nil {
		t.Errorf("GET /health during shutdown = status %d, want a refused connection", fresh.status)
	}

	close(bodyHold)
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the rest of big.bin during shutdown = %v", err)
	}
	whole := append(bytes.Clone(data[:64<<10]), rest...)
	if !bytes.Equal(whole, data) {
		t.Errorf("big.bin read across shutdown: %d bytes that differ from the %d-byte object", len(whole), len(data))
	}

	// Stop would send a second SIGTERM, which can reach the agent after it
	// restored the default signal action and so kill it.
	waitForExit(t, st.agent, 20*time.Second)
	if code := st.agent.Stop(t); code != 0 {
		t.Errorf("agent exit status after SIGTERM = %d, want 0", code)
	}
	if elapsed := time.Since(sent); elapsed >= 20*time.Second {
		t.Errorf("agent exited %v after SIGTERM, want within the 20s --shutdown-timeout", elapsed)
	}
	log := st.agent.Log(t)
	if !strings.Contains(log, "stopped") {
		t.Errorf("agent log has no \"stopped\" line after shutdown")
	}
	if strings.Contains(log, "cut_off") {
		t.Errorf("agent log reports cut-off requests, want none: the response finished in time")
	}
}

func TestShutdownCutsOffHeldResponse(t *testing.T) {
	st := newStack(t, stackOptions{buckets: []string{"bkt"}, agentArgs: []string{"--shutdown-timeout=1s"}})
	data := randomBytes(t, 1<<20)
	// Never closed: the counter releases the body when the test ends.
	bodyHold := make(chan struct{})
	resp := startHeldDownload(t, st, data, bodyHold)

	sent := time.Now()
	if err := st.agent.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("sending SIGTERM = %v", err)
	}
	waitForExit(t, st.agent, 15*time.Second)
	if elapsed := time.Since(sent); elapsed < time.Second {
		t.Errorf("agent exited %v after SIGTERM, want after the 1s --shutdown-timeout", elapsed)
	}

	if rest, err := io.ReadAll(resp.Body); err == nil {
		t.Errorf("reading the cut-off big.bin = %d more bytes and no error, want a truncated body", len(rest))
	}
	st.agent.Stop(t)

	log := st.agent.Log(t)
	if !strings.Contains(log, "shutdown deadline passed") {
		t.Errorf("agent log has no \"shutdown deadline passed\" line, want the cut-off reported")
	}
	if !strings.Contains(log, "cut_off=1") {
		t.Errorf("agent log has no cut_off=1, want the number of requests cut off")
	}
}
