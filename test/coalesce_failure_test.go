package test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/s3-batching-agent/s3-batching-agent/test/internal/harness"
)

// TestCoalesceCallerDisconnectMidBody hangs up one member of a group while
// the upstream body is held, and checks that the other members still get
// the whole object from the one upstream call.
func TestCoalesceCallerDisconnectMidBody(t *testing.T) {
	const callers = 5
	st := newStack(t, stackOptions{
		buckets:   []string{"bkt"},
		agentArgs: []string{"--debug", "--max-batch-size=5", "--batch-window=30s"},
	})
	data := randomBytes(t, 1<<20)
	st.s3.Put(t, "bkt", "big.bin", data, "", nil)

	// The first 16 KiB fit in the socket buffers of every member, so each
	// member's handler ends up waiting in the shared stream.
	bodyHold := make(chan struct{})
	st.counter.Inject(t, harness.Fault{
		Match:     harness.MatchObject(http.MethodGet, "bkt", "big.bin"),
		Times:     1,
		BodyAfter: 16 << 10,
		BodyHold:  bodyHold,
	})
	target := st.objectURL("bkt", "big.bin")
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()

	results := make(chan fetchResult, callers-1)
	for range callers - 1 {
		go func() { results <- fetch(ctx, st.client, http.MethodGet, target) }()
	}

	quitCtx, quit := context.WithCancel(ctx)
	defer quit()
	req, err := http.NewRequestWithContext(quitCtx, http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := st.client.Do(req)
	if err != nil {
		t.Fatalf("GET by the caller that hangs up = %v", err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
		t.Fatalf("reading the first 1 KiB = %v", err)
	}

	waitForGoroutines(t, st, frameStreamRead, callers)
	quit()
	resp.Body.Close()
	waitForGoroutines(t, st, frameStreamRead, callers-1)
	close(bodyHold)

	var all []fetchResult
	for range callers - 1 {
		all = append(all, <-results)
	}
	checkBodies(t, "getObject after one member hung up", all, data)
	if n := st.counter.Count(http.MethodGet, "bkt", "big.bin"); n != 1 {
		t.Errorf("upstream GETs = %d, want 1", n)
	}
}

// TestCoalesceUpstreamErrorReachesEveryMember fails the upstream call of a
// full group and checks that every member gets the error, and that the
// next read goes upstream again instead of getting the kept error.
func TestCoalesceUpstreamErrorReachesEveryMember(t *testing.T) {
	const callers = 10

	tests := []struct {
		name       string
		status     int
		wantStatus int
		wantCode   string
	}{
		{name: "503 SlowDown", status: http.StatusServiceUnavailable, wantStatus: http.StatusServiceUnavailable, wantCode: "SlowDown"},
		{name: "500 InternalError", status: http.StatusInternalServerError, wantStatus: http.StatusBadGateway, wantCode: "BadGateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The 10 callers fill a group at once; the lone read after
			// the error waits out the 2s window.
			st := newStack(t, stackOptions{
				buckets:   []string{"bkt"},
				agentArgs: []string{"--max-batch-size=10", "--batch-window=2s"},
			})
			data := randomBytes(t, 100<<10)
			st.s3.Put(t, "bkt", "k", data, "", nil)

			// Every attempt fails, the agent's own retries included,
			// until the fault is removed.
			remove := st.counter.Inject(t, harness.Fault{
				Match:  harness.MatchObject(http.MethodGet, "bkt", "k"),
				Status: tt.status,
			})
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			results := fetchAll(ctx, st.client, st.objectURL("bkt", "k"), callers)
			remove()

			for i, r := range results {
				if r.err != nil {
					t.Errorf("caller %d: error %v, want status %d", i, r.err, tt.wantStatus)
					continue
				}
				if r.status != tt.wantStatus {
					t.Errorf("caller %d: status %d, want %d; body %.200s", i, r.status, tt.wantStatus, r.body)
				}
				if text := internalText(r.body); text != "" {
					t.Errorf("caller %d: body contains %q, want no internal error text; body %s", i, text, r.body)
				}
				var e apiError
				if err := json.Unmarshal(r.body, &e); err != nil {
					t.Errorf("caller %d: body %q is not a JSON error: %v", i, r.body, err)
				} else if e.Code != tt.wantCode {
					t.Errorf("caller %d: error Code = %q, want %q", i, e.Code, tt.wantCode)
				}
			}
			failed := st.counter.Count(http.MethodGet, "bkt", "k")
			if failed < 1 || failed >= callers {
				t.Errorf("upstream GETs for %d callers = %d, want at least 1 and fewer than one per caller", callers, failed)
			}

			after := fetch(ctx, st.client, http.MethodGet, st.objectURL("bkt", "k"))
			checkBodies(t, "getObject after the error", []fetchResult{after}, data)
			if n := st.counter.Count(http.MethodGet, "bkt", "k"); n != failed+1 {
				t.Errorf("upstream GETs after the next read = %d, want %d (the error is not kept)", n, failed+1)
			}
		})
	}
}
