package batching

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"
)

var errUpstream = errors.New("upstream failed")

func TestCallErrorReachesWholeGroupOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{Window: 10 * time.Millisecond, MaxSize: 100})
		var calls counter
		failing := func(ctx context.Context) (string, io.ReadCloser, error) {
			calls.calls.Add(1)
			return "", nil, errUpstream
		}

		for i, r := range doAll(t.Context(), c, 5, "k", failing)() {
			if !errors.Is(r.err, errUpstream) {
				t.Errorf("member %d: error = %v, want errUpstream", i, r.err)
			}
		}
		if got := calls.calls.Load(); got != 1 {
			t.Errorf("calls = %d, want 1", got)
		}

		next := doRead(t.Context(), c, "k", calls.bodyFunc("m", []byte("fresh")))
		if next.err != nil || string(next.body) != "fresh" {
			t.Errorf("request after the error = %q, %v, want a fresh call", next.body, next.err)
		}
		if got := calls.calls.Load(); got != 2 {
			t.Errorf("calls = %d, want 2", got)
		}
	})
}

func TestPanicReachesEveryMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{Window: 10 * time.Millisecond, MaxSize: 100})
		fn := func(ctx context.Context) (string, io.ReadCloser, error) {
			panic("boom")
		}
		for i, r := range doAll(t.Context(), c, 4, "k", fn)() {
			var pe *PanicError
			if !errors.As(r.err, &pe) || pe.Value != "boom" {
				t.Errorf("member %d: error = %v, want *PanicError with value boom", i, r.err)
			}
		}
	})
}

func TestBodyErrorReachesEveryMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{Window: 10 * time.Millisecond, MaxSize: 100})
		fn := func(ctx context.Context) (string, io.ReadCloser, error) {
			return "m", io.NopCloser(io.MultiReader(&slowReader{data: pattern(100), step: 7}, errReader{errUpstream})), nil
		}
		for i, r := range doAll(t.Context(), c, 4, "k", fn)() {
			if !errors.Is(r.err, errUpstream) {
				t.Errorf("member %d: error = %v, want errUpstream", i, r.err)
			}
			if len(r.body) != 100 {
				t.Errorf("member %d: got %d bytes before the error, want 100", i, len(r.body))
			}
		}
	})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
