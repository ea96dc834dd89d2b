package batching

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// countingBody counts the bytes the pump has read.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return nil }

func TestFanOutDeliversEveryByte(t *testing.T) {
	body := pattern(1<<20 + 123)
	for _, members := range []int{1, 8, 64} {
		c := New[string, string](Config{Window: time.Hour, MaxSize: members, BufferSize: 256 << 10, ChunkSize: 16 << 10})
		var calls counter
		results := doAll(t.Context(), c, members, "k", calls.bodyFunc("m", body))()
		checkBodies(t, results, body)
		if got := calls.calls.Load(); got != 1 {
			t.Errorf("%d members: calls = %d, want 1", members, got)
		}
	}
}

func TestFanOutBufferIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{Window: time.Millisecond, MaxSize: 2, BufferSize: 64 << 10, ChunkSize: 8 << 10}
		c := New[string, string](cfg)
		body := pattern(10 << 20)
		src := &countingBody{r: bytes.NewReader(body)}
		fn := func(ctx context.Context) (string, io.ReadCloser, error) { return "m", src, nil }

		got := make(chan *Response[string], 2)
		for range 2 {
			go func() {
				resp, err := c.Do(t.Context(), "k", fn)
				if err != nil {
					t.Errorf("Do() error = %v", err)
				}
				got <- resp
			}()
		}
		fast, idle := <-got, <-got
		synctest.Wait()

		// No member reads yet, so the pump stops at the buffer limit.
		limit := int64(cfg.BufferSize + cfg.ChunkSize)
		if n := src.read.Load(); n > limit {
			t.Errorf("pump read %d bytes ahead of idle members, want at most %d", n, limit)
		}

		// One member reads as fast as it can: the idle one holds it back,
		// so the pump still stays within the limit.
		fastBody := make(chan []byte, 1)
		go func() {
			b, err := io.ReadAll(fast.Body)
			if err != nil {
				t.Errorf("fast member: read error = %v", err)
			}
			fastBody <- b
		}()
		synctest.Wait()
		if n := src.read.Load(); n > limit {
			t.Errorf("pump read %d bytes while one member is idle, want at most %d", n, limit)
		}

		// The idle member leaves: the fast one gets the rest.
		idle.Body.Close()
		if b := <-fastBody; !bytes.Equal(b, body) {
			t.Errorf("fast member got %d bytes, want the %d bytes served", len(b), len(body))
		}
		fast.Body.Close()
	})
}

// sizedReader reports its length the way the read path's bodies do.
type sizedReader struct {
	*bytes.Reader
	n int64
}

func (s sizedReader) ContentLength() int64 { return s.n }
func (s sizedReader) Close() error         { return nil }

func TestLargeBodiesUseLargeChunksAndWriteTo(t *testing.T) {
	body := pattern(3<<20 + 17)
	c := New[string, string](Config{Window: time.Hour, MaxSize: 4, BufferSize: 1 << 20, ChunkSize: 4 << 10, LargeChunkSize: 128 << 10})
	fn := func(ctx context.Context) (string, io.ReadCloser, error) {
		return "m", sizedReader{bytes.NewReader(body), int64(len(body))}, nil
	}
	results := make([][]byte, 4)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			resp, err := c.Do(t.Context(), "k", fn)
			if err != nil {
				t.Errorf("Do() error = %v", err)
				return
			}
			defer resp.Body.Close()
			r := resp.Body.(*reader)
			if r.s.chunkSize != 128<<10 {
				t.Errorf("chunk size = %d, want the large chunk size %d", r.s.chunkSize, 128<<10)
			}
			var buf bytes.Buffer
			if _, err := r.WriteTo(&buf); err != nil {
				t.Errorf("WriteTo() error = %v", err)
			}
			results[i] = buf.Bytes()
		})
	}
	wg.Wait()
	for i, got := range results {
		if !bytes.Equal(got, body) {
			t.Errorf("member %d got %d bytes, want the %d bytes served", i, len(got), len(body))
		}
	}
}
