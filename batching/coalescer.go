package batching

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"
)

// Default values used when a Config field is zero.
const (
	DefaultBufferSize   = 1 << 20
	DefaultChunkSize    = 32 << 10
	DefaultLargeChunk   = 256 << 10
	DefaultStallTimeout = 30 * time.Second
)

// Config sets how requests are grouped. The zero value dispatches every
// group at once with no size limit beyond what arrives while a call for the
// same key is in flight.
type Config struct {
	// Disabled makes every request run its own call, with the caller's
	// context and no fan-out.
	Disabled bool

	// Window is how long a group stays open for new members after its first
	// request arrived. Zero dispatches the first request at once and lets
	// later requests gather behind the call in flight.
	Window time.Duration

	// MaxSize is the number of members at which a group is dispatched before
	// its window ends. Zero or less means no limit.
	MaxSize int

	// JoinInFlight lets requests join a call that has been dispatched but
	// whose function has not returned yet.
	JoinInFlight bool

	// BufferSize is how many body bytes may be buffered ahead of the slowest
	// member. Zero means DefaultBufferSize.
	BufferSize int

	// ChunkSize is the size of one read from a call's body. Zero means
	// DefaultChunkSize.
	ChunkSize int

	// LargeChunkSize is the read size for a body that reports, through a
	// ContentLength() int64 method, at least four times that many bytes:
	// fewer, larger reads and writes move large objects faster, while
	// small bodies keep small buffers. Zero means DefaultLargeChunk; it is
	// capped at BufferSize.
	LargeChunkSize int

	// StallTimeout is how long the slowest members may hold a full buffer
	// before they are cut off with ErrSlowReader. Zero means
	// DefaultStallTimeout.
	StallTimeout time.Duration
}

// Func is the call a group runs. It returns metadata that every member
// receives (and must treat as read-only) and a body that the group reads
// once and closes. A nil body is treated as empty.
type Func[M any] func(ctx context.Context) (M, io.ReadCloser, error)

// Response is one member's share of a call's result.
type Response[M any] struct {
	// Meta is shared by every member of the group. It must not be modified.
	Meta M

	// Body is this member's stream of the call's body. The member must
	// close it; closing it early leaves the group without cancelling the
	// call for the other members.
	Body io.ReadCloser

	// GroupSize is the number of members that received this result.
	GroupSize int

	// Opener reports whether this member's request opened the group. Every
	// other member was served without a call of its own.
	Opener bool
}

// PanicError is the error every member of a group receives when the
// group's function panicked.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("batched call panicked: %v", e.Value)
}

// Coalescer groups requests by key and runs one call per group. The zero
// value is not usable: create one with New. A Coalescer is safe for
// concurrent use.
type Coalescer[K comparable, M any] struct {
	cfg Config

	mu   sync.Mutex // guards keys and every group's membership fields
	keys map[K]*keyState[K, M]
}

// keyState holds the groups of one key that requests may still join.
type keyState[K comparable, M any] struct {
	open     *group[K, M] // gathering members, not dispatched
	inflight *group[K, M] // dispatched most recently, function not returned
}

// group is one shared call. Fields marked "c.mu" are guarded by the
// Coalescer's mutex; the others are written once before done is closed.
type group[K comparable, M any] struct {
	c      *Coalescer[K, M]
	ks     *keyState[K, M]
	key    K
	fn     Func[M]
	ctx    context.Context
	cancel context.CancelFunc

	readers    []*reader // c.mu: members still in the group before done
	dispatched bool      // c.mu
	resolved   bool      // c.mu: fn has returned and done is closed
	timer      *time.Timer

	done      chan struct{}
	meta      M
	err       error
	groupSize int
}

// New returns a Coalescer with the given configuration.
func New[K comparable, M any](cfg Config) *Coalescer[K, M] {
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = DefaultBufferSize
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.LargeChunkSize <= 0 {
		cfg.LargeChunkSize = DefaultLargeChunk
	}
	cfg.LargeChunkSize = max(min(cfg.LargeChunkSize, cfg.BufferSize), cfg.ChunkSize)
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	return &Coalescer[K, M]{cfg: cfg, keys: make(map[K]*keyState[K, M])}
}

// Do joins or opens the group for key and waits for its result. fn runs
// only if this request dispatches a new group. It runs under a context the
// group owns, which keeps ctx's values but not its cancellation. Do returns
// early with ctx's error when ctx is done before the result is there.
func (c *Coalescer[K, M]) Do(ctx context.Context, key K, fn Func[M]) (*Response[M], error) {
	if c.cfg.Disabled {
		return c.direct(ctx, fn)
	}

	g, r, opener := c.join(ctx, key, fn)

	select {
	case <-g.done:
	case <-ctx.Done():
		if c.leaveBeforeDone(g, r) {
			return nil, ctx.Err()
		}
		// The result arrived while leaving: once done is closed, r is
		// attached to the stream (or to nothing, after an error).
		<-g.done
		r.Close()
		return nil, ctx.Err()
	}

	if g.err != nil {
		return nil, g.err
	}
	return &Response[M]{Meta: g.meta, Body: r, GroupSize: g.groupSize, Opener: opener}, nil
}

// Seal closes every group whose key matches to new members: open groups are
// dispatched at once with the members they have, and calls in flight can no
// longer be joined. Requests that arrive after Seal returns start a new
// group. A write calls it so that reads that start after the write never
// get a result from before it.
func (c *Coalescer[K, M]) Seal(match func(K) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()

	for key, ks := range c.keys {
		if !match(key) {
			continue
		}
		if ks.open != nil {
			c.dispatchLocked(ks.open)
		}
		ks.inflight = nil
		delete(c.keys, key)
	}
}

// OpenGroups returns the number of groups that have not returned yet.
func (c *Coalescer[K, M]) OpenGroups() int {
	c.mu.Lock()
	defer c.mu.Unlock()

	n := 0
	for _, ks := range c.keys {
		if ks.open != nil {
			n++
		}
		if ks.inflight != nil {
			n++
		}
	}
	return n
}

func (c *Coalescer[K, M]) direct(ctx context.Context, fn Func[M]) (*Response[M], error) {
	meta, body, err := callSafely(ctx, fn)
	if err != nil {
		return nil, err
	}
	if body == nil {
		body = io.NopCloser(eofReader{})
	}
	return &Response[M]{Meta: meta, Body: body, GroupSize: 1, Opener: true}, nil
}

// join adds a member for key to a joinable group, opening one if needed,
// and returns the group, the member's reader and whether it opened it.
func (c *Coalescer[K, M]) join(ctx context.Context, key K, fn Func[M]) (*group[K, M], *reader, bool) {
	r := &reader{ctx: ctx}

	c.mu.Lock()
	defer c.mu.Unlock()

	ks := c.keys[key]
	if ks == nil {
		ks = &keyState[K, M]{}
		c.keys[key] = ks
	}

	if c.cfg.JoinInFlight && ks.inflight != nil && !c.fullLocked(ks.inflight) {
		ks.inflight.readers = append(ks.inflight.readers, r)
		return ks.inflight, r, false
	}

	if g := ks.open; g != nil {
		g.readers = append(g.readers, r)
		if c.fullLocked(g) {
			c.dispatchLocked(g)
		}
		return g, r, false
	}

	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g := &group[K, M]{
		c:       c,
		ks:      ks,
		key:     key,
		fn:      fn,
		ctx:     gctx,
		cancel:  cancel,
		readers: []*reader{r},
		done:    make(chan struct{}),
	}
	ks.open = g

	switch {
	case c.fullLocked(g):
		c.dispatchLocked(g)
	case c.cfg.Window > 0:
		g.timer = time.AfterFunc(c.cfg.Window, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if !g.dispatched {
				c.dispatchLocked(g)
			}
		})
	case ks.inflight == nil:
		c.dispatchLocked(g)
	}
	return g, r, true
}

// currentLocked returns g's key state if it is still the key's current
// one; Seal replaces it.
func (c *Coalescer[K, M]) currentLocked(g *group[K, M]) *keyState[K, M] {
	if ks := c.keys[g.key]; ks == g.ks {
		return ks
	}
	return nil
}

func (c *Coalescer[K, M]) fullLocked(g *group[K, M]) bool {
	return c.cfg.MaxSize > 0 && len(g.readers) >= c.cfg.MaxSize
}

// dispatchLocked starts g's call and makes g the key's call in flight.
func (c *Coalescer[K, M]) dispatchLocked(g *group[K, M]) {
	g.dispatched = true
	if g.timer != nil {
		g.timer.Stop()
	}
	if ks := c.currentLocked(g); ks != nil {
		if ks.open == g {
			ks.open = nil
		}
		ks.inflight = g
	}
	go g.run()
}

// run calls the group's function and hands its result to the members.
func (g *group[K, M]) run() {
	meta, body, err := callSafely(g.ctx, g.fn)

	c := g.c
	c.mu.Lock()
	g.resolved = true
	readers := g.readers
	g.readers = nil
	if ks := c.currentLocked(g); ks != nil {
		if ks.inflight == g {
			ks.inflight = nil
		}
		// With no window, the group gathered behind this call goes now.
		if c.cfg.Window == 0 && ks.open != nil && !ks.open.dispatched {
			c.dispatchLocked(ks.open)
		}
		if ks.open == nil && ks.inflight == nil {
			delete(c.keys, g.key)
		}
	}
	c.mu.Unlock()

	g.meta, g.err, g.groupSize = meta, err, len(readers)
	if err == nil {
		if body == nil {
			body = io.NopCloser(eofReader{})
		}
		if len(readers) == 0 {
			body.Close()
			g.cancel()
		} else {
			s := newStream(body, g.cancel, c.cfg, readers)
			go s.pump()
		}
	} else {
		g.cancel()
	}
	close(g.done)
}

// leaveBeforeDone removes r from g if g's result is not there yet and
// reports whether it did. The last member to leave cancels the call, and
// an undispatched group with no members is dropped.
func (c *Coalescer[K, M]) leaveBeforeDone(g *group[K, M], r *reader) bool {
	c.mu.Lock()
	defer c.mu.Unlock()

	if g.resolved {
		return false
	}
	for i, m := range g.readers {
		if m == r {
			g.readers = append(g.readers[:i], g.readers[i+1:]...)
			break
		}
	}
	if len(g.readers) > 0 {
		return true
	}

	g.cancel()
	ks := c.currentLocked(g)
	if ks == nil {
		return true
	}
	if ks.open == g {
		if g.timer != nil {
			g.timer.Stop()
		}
		// Never dispatched: run finishes nothing, so close done here for
		// anyone still selecting on it.
		g.dispatched = true
		g.resolved = true
		g.err = context.Canceled
		close(g.done)
		ks.open = nil
	}
	if ks.inflight == g {
		ks.inflight = nil
	}
	if ks.open == nil && ks.inflight == nil {
		delete(c.keys, g.key)
	}
	return true
}

// callSafely runs fn and turns a panic into a *PanicError.
func callSafely[M any](ctx context.Context, fn Func[M]) (meta M, body io.ReadCloser, err error) {
	defer func() {
		if v := recover(); v != nil {
			var zero M
			meta, body, err = zero, nil, &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
