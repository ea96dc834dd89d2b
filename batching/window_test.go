package batching

import (
	"context"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestGroupSizeLimitSplitsGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{Window: 100 * time.Millisecond, MaxSize: 10})
		var calls counter
		body := pattern(4096)

		wait := doAll(t.Context(), c, 25, "k", calls.bodyFunc("m", body))
		synctest.Wait()
		if got := calls.calls.Load(); got != 2 {
			t.Errorf("calls before the window ends = %d, want 2 full groups", got)
		}

		time.Sleep(100 * time.Millisecond)
		results := wait()
		if got := calls.calls.Load(); got != 3 {
			t.Errorf("calls = %d, want 3", got)
		}
		checkBodies(t, results, body)
		if got, want := groupSizes(results), map[int]int{10: 20, 5: 5}; !equalCounts(got, want) {
			t.Errorf("group sizes = %v, want %v", got, want)
		}
	})
}

func TestWindowDelaysDispatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{Window: 100 * time.Millisecond, MaxSize: 10})
		start := time.Now()
		var calledAt time.Time
		fn := func(ctx context.Context) (string, io.ReadCloser, error) {
			calledAt = time.Now()
			return "m", io.NopCloser(strings.NewReader("x")), nil
		}

		r := doRead(t.Context(), c, "k", fn)
		if r.err != nil {
			t.Fatalf("Do() error = %v", r.err)
		}
		if got := calledAt.Sub(start); got != 100*time.Millisecond {
			t.Errorf("call started after %v, want the 100ms window", got)
		}
		if r.resp.GroupSize != 1 || !r.resp.Opener {
			t.Errorf("GroupSize, Opener = %d, %v, want 1, true", r.resp.GroupSize, r.resp.Opener)
		}
	})
}

func TestWindowZeroDispatchesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{MaxSize: 100})
		start := time.Now()
		release := make(chan struct{})
		var calls counter
		fn := func(ctx context.Context) (string, io.ReadCloser, error) {
			calls.calls.Add(1)
			<-release
			return "m", io.NopCloser(strings.NewReader("body")), nil
		}

		first := doAll(t.Context(), c, 1, "k", fn)
		synctest.Wait()
		if got := calls.calls.Load(); got != 1 {
			t.Fatalf("calls after a lone request = %d, want 1 at once", got)
		}
		if elapsed := time.Since(start); elapsed != 0 {
			t.Errorf("lone request waited %v, want 0", elapsed)
		}

		// Five requests arrive while the first call is in flight: they
		// gather in the next group and do not call yet.
		later := doAll(t.Context(), c, 5, "k", fn)
		synctest.Wait()
		if got := calls.calls.Load(); got != 1 {
			t.Errorf("calls while the first is in flight = %d, want 1", got)
		}

		close(release)
		r1, r2 := first(), later()
		if got := calls.calls.Load(); got != 2 {
			t.Errorf("calls = %d, want 2", got)
		}
		checkBodies(t, r1, []byte("body"))
		checkBodies(t, r2, []byte("body"))
		if got, want := groupSizes(append(r1, r2...)), map[int]int{1: 1, 5: 5}; !equalCounts(got, want) {
			t.Errorf("group sizes = %v, want %v", got, want)
		}
	})
}

func TestJoinInFlightSharesTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{MaxSize: 100, JoinInFlight: true})
		release := make(chan struct{})
		var calls counter
		fn := func(ctx context.Context) (string, io.ReadCloser, error) {
			calls.calls.Add(1)
			<-release
			return "m", io.NopCloser(strings.NewReader("body")), nil
		}

		first := doAll(t.Context(), c, 1, "k", fn)
		synctest.Wait()
		later := doAll(t.Context(), c, 5, "k", fn)
		synctest.Wait()
		close(release)

		results := append(first(), later()...)
		if got := calls.calls.Load(); got != 1 {
			t.Errorf("calls = %d, want 1", got)
		}
		checkBodies(t, results, []byte("body"))
		if got, want := groupSizes(results), map[int]int{6: 6}; !equalCounts(got, want) {
			t.Errorf("group sizes = %v, want %v", got, want)
		}
	})
}

func TestJoinInFlightStopsAtResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{MaxSize: 100, JoinInFlight: true})
		var calls counter
		hold := make(chan struct{})
		fn := func(ctx context.Context) (string, io.ReadCloser, error) {
			calls.calls.Add(1)
			return "m", io.NopCloser(&gatedReader{gate: hold, data: []byte("body")}), nil
		}

		first := doAll(t.Context(), c, 1, "k", fn)
		synctest.Wait()
		// The first call has returned and its body is streaming: a new
		// request must not join it, since it would miss bytes.
		second := doAll(t.Context(), c, 1, "k", fn)
		synctest.Wait()
		close(hold)

		checkBodies(t, first(), []byte("body"))
		checkBodies(t, second(), []byte("body"))
		if got := calls.calls.Load(); got != 2 {
			t.Errorf("calls = %d, want 2", got)
		}
	})
}

func TestDisabledCallsEveryTime(t *testing.T) {
	c := New[string, string](Config{Disabled: true, Window: time.Hour, MaxSize: 10})
	var calls counter
	results := doAll(t.Context(), c, 8, "k", calls.bodyFunc("m", []byte("abc")))()
	checkBodies(t, results, []byte("abc"))
	if got := calls.calls.Load(); got != 8 {
		t.Errorf("calls = %d, want 8", got)
	}
}

func TestDifferentKeysNeverShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{Window: 10 * time.Millisecond, MaxSize: 100})
		var waits []func() []result
		for _, k := range []string{"a", "b", "c"} {
			var calls counter
			waits = append(waits, doAll(t.Context(), c, 4, k, calls.bodyFunc(k, []byte("body of "+k))))
		}
		for i, k := range []string{"a", "b", "c"} {
			results := waits[i]()
			checkBodies(t, results, []byte("body of "+k))
			for _, r := range results {
				if r.resp != nil && r.resp.Meta != k {
					t.Errorf("key %s: Meta = %q, want %q", k, r.resp.Meta, k)
				}
			}
		}
	})
}

func TestSealDispatchesAndStartsAfresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{Window: time.Second, MaxSize: 100})
		var calls counter
		start := time.Now()

		before := doAll(t.Context(), c, 3, "obj", calls.bodyFunc("old", []byte("old")))
		synctest.Wait()
		c.Seal(func(k string) bool { return k == "obj" })
		synctest.Wait()
		if got := calls.calls.Load(); got != 1 {
			t.Errorf("calls right after Seal = %d, want 1 (sealed group dispatched)", got)
		}
		if elapsed := time.Since(start); elapsed != 0 {
			t.Errorf("sealed group waited %v, want no wait", elapsed)
		}
		checkBodies(t, before(), []byte("old"))

		after := doRead(t.Context(), c, "obj", calls.bodyFunc("new", []byte("new")))
		if string(after.body) != "new" {
			t.Errorf("read after Seal = %q, want %q", after.body, "new")
		}
	})
}

func equalCounts(a, b map[int]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// gatedReader returns data only after gate is closed.
type gatedReader struct {
	gate <-chan struct{}
	data []byte
}

func (r *gatedReader) Read(p []byte) (int, error) {
	<-r.gate
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}
