package batching

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
)

// counter counts calls of the functions it makes.
type counter struct {
	calls atomic.Int32
}

// bodyFunc returns a Func that counts its calls and serves body.
func (c *counter) bodyFunc(meta string, body []byte) Func[string] {
	return func(ctx context.Context) (string, io.ReadCloser, error) {
		c.calls.Add(1)
		return meta, io.NopCloser(bytes.NewReader(body)), nil
	}
}

// result is what one member received.
type result struct {
	resp *Response[string]
	body []byte
	err  error
}

// doAll starts n concurrent Do calls for key and returns a function that
// waits for and returns their results.
func doAll(ctx context.Context, c *Coalescer[string, string], n int, key string, fn Func[string]) func() []result {
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = doRead(ctx, c, key, fn)
		})
	}
	return func() []result {
		wg.Wait()
		return results
	}
}

// doRead runs one Do and reads the whole body.
func doRead(ctx context.Context, c *Coalescer[string, string], key string, fn Func[string]) result {
	resp, err := c.Do(ctx, key, fn)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{resp: resp, body: b, err: err}
}

func checkBodies(t *testing.T, results []result, want []byte) {
	t.Helper()
	for i, r := range results {
		if r.err != nil {
			t.Errorf("member %d: error %v, want none", i, r.err)
			continue
		}
		if !bytes.Equal(r.body, want) {
			t.Errorf("member %d: body of %d bytes differs from the %d bytes served", i, len(r.body), len(want))
		}
	}
}

// groupSizes returns how many members saw each group size.
func groupSizes(results []result) map[int]int {
	m := map[int]int{}
	for _, r := range results {
		if r.resp != nil {
			m[r.resp.GroupSize]++
		}
	}
	return m
}

// pattern returns n bytes that differ at every offset modulo 251.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}
