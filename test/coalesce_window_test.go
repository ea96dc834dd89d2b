package test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/s3-batching-agent/s3-batching-agent/test/internal/harness"
)

// heldCall starts one getObject whose upstream call the counter holds,
// waits until that call reaches the counter, then starts more identical
// getObject calls and waits until all of them wait in the agent. The
// returned function releases the hold and returns every caller's result.
func heldCall(t *testing.T, st *stack, key string, more int) (release func() []fetchResult) {
	t.Helper()
	arrived := make(chan harness.Request, 1)
	hold := make(chan struct{})
	st.counter.Inject(t, harness.Fault{
		Match:   harness.MatchObject(http.MethodGet, "bkt", key),
		Times:   1,
		Arrived: arrived,
		Hold:    hold,
	})
	target := st.objectURL("bkt", key)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	t.Cleanup(cancel)

	results := make(chan fetchResult, more+1)
	go func() { results <- fetch(ctx, st.client, http.MethodGet, target) }()
	select {
	case <-arrived:
	case <-ctx.Done():
		t.Fatalf("the first getObject never reached the upstream")
	}

	for range more {
		go func() { results <- fetch(ctx, st.client, http.MethodGet, target) }()
	}
	waitForGoroutines(t, st, frameGroupWait, more+1)

	return func() []fetchResult {
		close(hold)
		var all []fetchResult
		for range more + 1 {
			all = append(all, <-results)
		}
		return all
	}
}

// TestCoalesceWindowZeroGathersBehindCall checks --batch-window=0: reads
// that arrive while a call is in flight form the next group, which goes
// upstream once the call in flight has its response headers.
func TestCoalesceWindowZeroGathersBehindCall(t *testing.T) {
	st := newStack(t, stackOptions{
		buckets:   []string{"bkt"},
		agentArgs: []string{"--debug", "--batch-window=0", "--max-batch-size=100"},
	})
	data := randomBytes(t, 256<<10)
	st.s3.Put(t, "bkt", "k", data, "", nil)

	release := heldCall(t, st, "k", 9)
	results := release()

	checkBodies(t, "getObject", results, data)
	if n := st.counter.Count(http.MethodGet, "bkt", "k"); n != 2 {
		t.Errorf("upstream GETs = %d, want 2: the held call and one for the 9 reads gathered behind it", n)
	}
}

// TestCoalesceJoinInFlight checks --join-inflight: reads that arrive while
// a call is in flight join that call.
func TestCoalesceJoinInFlight(t *testing.T) {
	st := newStack(t, stackOptions{
		buckets:   []string{"bkt"},
		agentArgs: []string{"--debug", "--batch-window=0", "--max-batch-size=100", "--join-inflight"},
	})
	data := randomBytes(t, 256<<10)
	st.s3.Put(t, "bkt", "k", data, "", nil)

	release := heldCall(t, st, "k", 9)
	results := release()

	checkBodies(t, "getObject", results, data)
	if n := st.counter.Count(http.MethodGet, "bkt", "k"); n != 1 {
		t.Errorf("upstream GETs = %d, want 1: the 9 later reads join the call in flight", n)
	}
}

// TestCoalesceWindowZeroLoneRequest checks that --batch-window=0 does not
// delay a lone read. The same reads with a 500ms window show that the
// measurement detects a window's delay.
func TestCoalesceWindowZeroLoneRequest(t *testing.T) {
	const reads = 5

	tests := []struct {
		name      string
		window    time.Duration
		check     func(median time.Duration) bool
		wantRange string
	}{
		{
			name:   "window 0",
			window: 0,
			// 100ms is the default window, so an agent that took 0 as
			// "use the default" fails here.
			check:     func(median time.Duration) bool { return median < 100*time.Millisecond },
			wantRange: "under 100ms",
		},
		{
			name:      "window 500ms",
			window:    500 * time.Millisecond,
			check:     func(median time.Duration) bool { return median >= 500*time.Millisecond },
			wantRange: "at least 500ms",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStack(t, stackOptions{
				buckets:   []string{"bkt"},
				agentArgs: []string{"--batch-window=" + tt.window.String()},
			})
			for i := range reads {
				st.s3.Put(t, "bkt", "lone-"+strconv.Itoa(i), []byte("lone read"), "", nil)
			}
			// One read first, so that connection setup is not measured.
			mustStatus(t, "warm-up getObject", st.get(t, helperQuery("/s3/getObject", "bucket", "bkt", "key", "lone-0")), http.StatusOK)

			var elapsed []time.Duration
			for i := 1; i < reads; i++ {
				start := time.Now()
				r := st.get(t, helperQuery("/s3/getObject", "bucket", "bkt", "key", "lone-"+strconv.Itoa(i)))
				elapsed = append(elapsed, time.Since(start))
				mustStatus(t, "getObject", r, http.StatusOK)
			}
			slices.Sort(elapsed)
			median := elapsed[len(elapsed)/2]
			t.Logf("lone getObject times with --batch-window=%v: %v", tt.window, elapsed)
			if !tt.check(median) {
				t.Errorf("median time of a lone getObject with --batch-window=%v = %v, want %s (all: %v)", tt.window, median, tt.wantRange, elapsed)
			}
		})
	}
}
