package batching

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkDirectCall is the baseline for BenchmarkJoin: the same function
// called without a Coalescer.
func BenchmarkDirectCall(b *testing.B) {
	b.ReportAllocs()
	fn := func(ctx context.Context) (string, io.ReadCloser, error) {
		return "m", io.NopCloser(bytes.NewReader(nil)), nil
	}
	for b.Loop() {
		_, body, _ := fn(context.Background())
		io.Copy(io.Discard, body)
		body.Close()
	}
}

// BenchmarkJoin measures what a lone request pays for going through a
// Coalescer with no window: opening a group, the call goroutine and the
// fan-out stream.
func BenchmarkJoin(b *testing.B) {
	for _, mode := range []struct {
		name string
		cfg  Config
	}{
		{"disabled", Config{Disabled: true}},
		{"window0", Config{MaxSize: 10}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			c := New[string, string](mode.cfg)
			fn := func(ctx context.Context) (string, io.ReadCloser, error) {
				return "m", io.NopCloser(bytes.NewReader(nil)), nil
			}
			for b.Loop() {
				resp, err := c.Do(context.Background(), "k", fn)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkFanOut measures the throughput of one 16 MiB body streamed to
// 1, 8 and 64 members. MB/s counts the bytes delivered to all members.
func BenchmarkFanOut(b *testing.B) {
	body := pattern(16 << 20)
	for _, members := range []int{1, 8, 64} {
		b.Run(strconv.Itoa(members), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body) * members))
			c := New[string, string](Config{Window: time.Hour, MaxSize: members})
			fn := func(ctx context.Context) (string, io.ReadCloser, error) {
				return "m", io.NopCloser(bytes.NewReader(body)), nil
			}
			for b.Loop() {
				var wg sync.WaitGroup
				for range members {
					wg.Go(func() {
						resp, err := c.Do(context.Background(), "k", fn)
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					})
				}
				wg.Wait()
			}
		})
	}
}
