package batching

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// blockingCall returns a Func that signals started, then blocks until its
// context is cancelled or release is closed.
func blockingCall(started chan<- struct{}, release <-chan struct{}, callCtx *context.Context) Func[string] {
	return func(ctx context.Context) (string, io.ReadCloser, error) {
		*callCtx = ctx
		close(started)
		select {
		case <-release:
			return "m", io.NopCloser(strings.NewReader("body")), nil
		case <-ctx.Done():
			return "", nil, ctx.Err()
		}
	}
}

func TestLastMemberLeavingCancelsCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{Window: time.Hour, MaxSize: 3})
		started := make(chan struct{})
		var callCtx context.Context
		fn := blockingCall(started, make(chan struct{}), &callCtx)

		var cancels []context.CancelFunc
		var errs []chan error
		for range 3 {
			ctx, cancel := context.WithCancel(t.Context())
			cancels = append(cancels, cancel)
			errc := make(chan error, 1)
			errs = append(errs, errc)
			go func() {
				_, err := c.Do(ctx, "k", fn)
				errc <- err
			}()
		}
		<-started

		cancels[0]()
		cancels[1]()
		synctest.Wait()
		if err := callCtx.Err(); err != nil {
			t.Fatalf("call context after 2 of 3 members left: %v, want still running", err)
		}

		cancels[2]()
		synctest.Wait()
		if err := callCtx.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("call context after the last member left: %v, want context.Canceled", err)
		}
		for i, errc := range errs {
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Errorf("member %d: Do() error = %v, want context.Canceled", i, err)
			}
		}
		if n := c.OpenGroups(); n != 0 {
			t.Errorf("OpenGroups() = %d, want 0", n)
		}
	})
}

// A member whose client hangs up before the result leaves; the leader's
// departure must not cancel the call for those who stay.
func TestLeaderLeavingKeepsCallForOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{Window: 0, MaxSize: 100, JoinInFlight: true})
		started := make(chan struct{})
		release := make(chan struct{})
		var callCtx context.Context
		fn := blockingCall(started, release, &callCtx)

		leaderCtx, leaderLeaves := context.WithCancel(t.Context())
		leader := make(chan error, 1)
		go func() {
			_, err := c.Do(leaderCtx, "k", fn)
			leader <- err
		}()
		<-started
		follower := doAll(t.Context(), c, 1, "k", fn)
		synctest.Wait()

		leaderLeaves()
		if err := <-leader; !errors.Is(err, context.Canceled) {
			t.Errorf("leader: Do() error = %v, want context.Canceled", err)
		}
		if err := callCtx.Err(); err != nil {
			t.Fatalf("call context after the leader left: %v, want still running", err)
		}

		close(release)
		checkBodies(t, follower(), []byte("body"))
	})
}

// A member that stops reading mid-body and closes leaves the others
// complete; the call ends when the last member closes.
func TestMemberClosingMidBodyLeavesOthersComplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{Window: time.Hour, MaxSize: 3, BufferSize: 64, ChunkSize: 16})
		body := pattern(4096)
		var callCtx context.Context
		fn := func(ctx context.Context) (string, io.ReadCloser, error) {
			callCtx = ctx
			return "m", io.NopCloser(&slowReader{data: body, step: 16}), nil
		}

		quitter := make(chan error, 1)
		go func() {
			resp, err := c.Do(t.Context(), "k", fn)
			if err != nil {
				quitter <- err
				return
			}
			buf := make([]byte, 100)
			_, err = io.ReadFull(resp.Body, buf)
			resp.Body.Close()
			quitter <- err
		}()
		stayers := doAll(t.Context(), c, 2, "k", fn)

		if err := <-quitter; err != nil {
			t.Fatalf("quitter: read error = %v", err)
		}
		checkBodies(t, stayers(), body)
		synctest.Wait()
		if callCtx.Err() == nil {
			t.Errorf("call context still live after every member closed")
		}
	})
}

func TestMemberThatNeverReadsIsCutOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{Window: time.Hour, MaxSize: 2, BufferSize: 64, ChunkSize: 16, StallTimeout: 5 * time.Second}
		c := New[string, string](cfg)
		body := pattern(1024)
		var calls counter
		fn := calls.bodyFunc("m", body)
		start := time.Now()

		idle := make(chan *Response[string], 1)
		go func() {
			resp, err := c.Do(t.Context(), "k", fn)
			if err != nil {
				t.Errorf("idle member: Do() error = %v", err)
			}
			idle <- resp
		}()
		reader := doAll(t.Context(), c, 1, "k", fn)

		checkBodies(t, reader(), body)
		if got := time.Since(start); got != cfg.StallTimeout {
			t.Errorf("reading member finished after %v, want the %v stall timeout", got, cfg.StallTimeout)
		}

		resp := <-idle
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, ErrSlowReader) {
			t.Errorf("idle member: read error = %v, want ErrSlowReader", err)
		}
	})
}

func TestMemberContextDoneWhileReading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New[string, string](Config{Window: time.Hour, MaxSize: 2})
		gate := make(chan struct{})
		fn := func(ctx context.Context) (string, io.ReadCloser, error) {
			return "m", io.NopCloser(&gatedReader{gate: gate, data: []byte("late body")}), nil
		}

		ctx, cancel := context.WithCancel(t.Context())
		gone := make(chan error, 1)
		go func() {
			resp, err := c.Do(ctx, "k", fn)
			if err != nil {
				gone <- err
				return
			}
			defer resp.Body.Close()
			_, err = io.ReadAll(resp.Body)
			gone <- err
		}()
		stayer := doAll(t.Context(), c, 1, "k", fn)
		synctest.Wait()

		cancel()
		if err := <-gone; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled member: error = %v, want context.Canceled", err)
		}
		close(gate)
		checkBodies(t, stayer(), []byte("late body"))
	})
}

// slowReader returns at most step bytes per Read.
type slowReader struct {
	data []byte
	step int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.step)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// A lone reader that stops reading holds back no other reader, so it is
// never cut off; before, the stall timeout cut it like a slow member of a group.
func TestLoneSlowReaderIsNotCutOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{Window: time.Hour, MaxSize: 1, BufferSize: 64, ChunkSize: 16, StallTimeout: time.Second}
		c := New[string, string](cfg)
		body := pattern(1024)
		var calls counter

		resp, err := c.Do(t.Context(), "k", calls.bodyFunc("m", body))
		if err != nil {
			t.Fatalf("Do() error = %v", err)
		}
		defer resp.Body.Close()
		time.Sleep(10 * cfg.StallTimeout)

		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read after a long pause: error = %v, want none", err)
		}
		if !bytes.Equal(got, body) {
			t.Errorf("read %d bytes after a long pause, want the %d bytes served", len(got), len(body))
		}
	})
}
