package batching

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// ErrSlowReader is returned to a member that kept the shared buffer full
// for longer than Config.StallTimeout.
var ErrSlowReader = errors.New("member fell too far behind the shared stream")

// errClosed is returned by Read after the member closed its body.
var errClosed = errors.New("read on closed batched body")

// stream reads a call's body once and lets every member read it at its own
// pace. Bytes live in chunks of exactly chunkSize bytes, except the last.
// A chunk is never changed once its bytes are published, so readers copy
// from it without holding the lock. The pump stops reading
// while the chunks held reach limit bytes, so memory stays below
// limit + chunkSize whatever the body size and member count.
type stream struct {
	body         io.ReadCloser
	cancel       context.CancelFunc
	chunkSize    int
	limit        int64
	stallTimeout time.Duration

	mu          sync.Mutex // guards the fields below
	chunks      [][]byte
	base        int64 // body offset of chunks[0]
	end         int64 // body bytes read so far
	err         error // io.EOF after a complete body, else the read error
	readers     map[*reader]struct{}
	dataReady   chan struct{} // closed when end, err or the reader set changes
	spaceReady  chan struct{} // closed when a reader advances while the pump waits
	pumpWaiting bool
}

// reader is one member's view of a stream.
type reader struct {
	ctx context.Context

	// s is set once, before the group's done channel is closed.
	s *stream

	off int64 // guarded by s.mu
	err error // guarded by s.mu: set when the member is closed or cut off
}

var chunkPools sync.Map // chunk size -> *sync.Pool

func chunkPool(size int) *sync.Pool {
	if p, ok := chunkPools.Load(size); ok {
		return p.(*sync.Pool)
	}
	p, _ := chunkPools.LoadOrStore(size, &sync.Pool{New: func() any {
		b := make([]byte, size)
		return &b
	}})
	return p.(*sync.Pool)
}

func newStream(body io.ReadCloser, cancel context.CancelFunc, cfg Config, readers []*reader) *stream {
	chunkSize := cfg.ChunkSize
	if sized, ok := body.(interface{ ContentLength() int64 }); ok && sized.ContentLength() >= 4*int64(cfg.LargeChunkSize) {
		chunkSize = cfg.LargeChunkSize
	}
	s := &stream{
		body:         body,
		cancel:       cancel,
		chunkSize:    chunkSize,
		limit:        int64(cfg.BufferSize),
		stallTimeout: cfg.StallTimeout,
		readers:      make(map[*reader]struct{}, len(readers)),
		dataReady:    make(chan struct{}),
		spaceReady:   make(chan struct{}),
	}
	for _, r := range readers {
		r.s = s
		s.readers[r] = struct{}{}
	}
	return s
}

// pump copies the body into chunks until EOF, an error, or the last reader
// leaving. It owns the body and closes it.
func (s *stream) pump() {
	defer s.body.Close()
	defer s.cancel()

	pool := chunkPool(s.chunkSize)
	for {
		if !s.waitForSpace() {
			return
		}

		// Fill the tail chunk if it has room, else start a new one. Bytes
		// beyond a chunk's length are invisible to readers, so writing them
		// needs no lock.
		s.mu.Lock()
		var buf []byte
		if n := len(s.chunks); n > 0 && len(s.chunks[n-1]) < s.chunkSize {
			buf = s.chunks[n-1]
		} else {
			buf = (*pool.Get().(*[]byte))[:0]
			s.chunks = append(s.chunks, buf)
		}
		tail := len(s.chunks) - 1
		s.mu.Unlock()

		n, err := s.body.Read(buf[len(buf):s.chunkSize])

		s.mu.Lock()
		s.chunks[tail] = buf[:len(buf)+n]
		s.end += int64(n)
		if err != nil {
			s.err = err
		}
		s.broadcastLocked()
		s.mu.Unlock()

		if err != nil {
			return
		}
	}
}

// waitForSpace trims chunks every reader has passed and blocks while the
// buffer is full. Readers that hold it full past the stall timeout are cut
// off. It reports false when no reader is left.
func (s *stream) waitForSpace() bool {
	s.mu.Lock()
	defer s.mu.Unlock()

	var stall *time.Timer
	defer func() {
		if stall != nil {
			stall.Stop()
		}
	}()
	lastMin := int64(-1)

	for {
		if len(s.readers) == 0 {
			return false
		}
		minOff := s.trimLocked()
		if s.end-s.base < s.limit {
			return true
		}

		if minOff != lastMin {
			lastMin = minOff
			if stall == nil {
				stall = time.NewTimer(s.stallTimeout)
			} else {
				stall.Reset(s.stallTimeout)
			}
		}
		s.pumpWaiting = true
		space := s.spaceReady
		s.mu.Unlock()

		select {
		case <-space:
			s.mu.Lock()
		case <-stall.C:
			s.mu.Lock()
			s.cutSlowestLocked(minOff)
			lastMin = -1
		}
		s.pumpWaiting = false
	}
}

// trimLocked returns the smallest reader offset and recycles the chunks
// that lie wholly before it.
func (s *stream) trimLocked() int64 {
	minOff := s.end
	for r := range s.readers {
		minOff = min(minOff, r.off)
	}
	pool := chunkPool(s.chunkSize)
	for len(s.chunks) > 0 && len(s.chunks[0]) == s.chunkSize && s.base+int64(s.chunkSize) <= minOff {
		b := s.chunks[0][:s.chunkSize]
		s.chunks[0] = nil
		s.chunks = s.chunks[1:]
		s.base += int64(s.chunkSize)
		pool.Put(&b)
	}
	return minOff
}

// cutSlowestLocked removes the readers still at offset off, but only when
// another reader is further on and so held back by them. Readers that are
// all equally slow hold back no other reader, so they keep their stream.
func (s *stream) cutSlowestLocked(off int64) {
	ahead := false
	for r := range s.readers {
		if r.off > off {
			ahead = true
			break
		}
	}
	if !ahead {
		return
	}
	for r := range s.readers {
		if r.off == off {
			r.err = ErrSlowReader
			delete(s.readers, r)
		}
	}
	s.broadcastLocked()
}

func (s *stream) broadcastLocked() {
	close(s.dataReady)
	s.dataReady = make(chan struct{})
}

func (s *stream) removeLocked(r *reader) {
	if _, ok := s.readers[r]; !ok {
		return
	}
	delete(s.readers, r)
	if s.pumpWaiting {
		close(s.spaceReady)
		s.spaceReady = make(chan struct{})
	}
	if len(s.readers) > 0 {
		return
	}
	if s.err == nil {
		// The last member left before the body ended: stop the call.
		s.cancel()
		return
	}
	// The pump has finished and no reader is left.
	pool := chunkPool(s.chunkSize)
	for i, c := range s.chunks {
		b := c[:s.chunkSize]
		pool.Put(&b)
		s.chunks[i] = nil
	}
	s.chunks = nil
}

// Read copies the next bytes of the shared body. It blocks until the pump
// has read past the member's offset, the body ended, or the member's
// context is done.
func (r *reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	src, err := r.next()
	if err != nil {
		return 0, err
	}
	n := copy(p, src)
	if err := r.advance(n); err != nil {
		return 0, err
	}
	return n, nil
}

// WriteTo writes the rest of the shared body to w straight from the shared
// chunks, without a copy buffer, so each write can be a whole chunk.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		src, err := r.next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, werr := w.Write(src)
		// On a cut-off the chunk may have been recycled during the write.
		// advance reports the cut-off and the caller aborts the response,
		// so those bytes never pass for a complete body.
		if err := r.advance(n); err != nil {
			return total, err
		}
		total += int64(n)
		if werr != nil {
			return total, werr
		}
	}
}

// next blocks until bytes past the member's offset are published and
// returns them, up to the end of their chunk. The slice is immutable and its
// chunk is not recycled before advance moves the offset past it.
func (r *reader) next() ([]byte, error) {
	s := r.s
	if s == nil {
		return nil, errClosed
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if r.err != nil {
			return nil, r.err
		}
		if r.off < s.end {
			break
		}
		if s.err != nil {
			return nil, s.err
		}

		ready := s.dataReady
		s.mu.Unlock()
		select {
		case <-ready:
			s.mu.Lock()
		case <-r.ctx.Done():
			s.mu.Lock()
			if r.err == nil {
				r.err = r.ctx.Err()
			}
			s.removeLocked(r)
			return nil, r.err
		}
	}

	i := (r.off - s.base) / int64(s.chunkSize)
	return s.chunks[i][(r.off-s.base)%int64(s.chunkSize):], nil
}

// advance moves the member's offset n bytes on and wakes the pump when a
// chunk was passed. It returns the member's error if it was cut off or
// closed since next: bytes taken from the chunk since then may have been
// overwritten and must not be trusted.
func (r *reader) advance(n int) error {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	oldChunk := (r.off - s.base) / int64(s.chunkSize)
	r.off += int64(n)
	if s.pumpWaiting && (r.off-s.base)/int64(s.chunkSize) != oldChunk {
		close(s.spaceReady)
		s.spaceReady = make(chan struct{})
	}
	return nil
}

// Close leaves the group. It is safe to call more than once.
func (r *reader) Close() error {
	s := r.s
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.err == nil {
		r.err = errClosed
	}
	s.removeLocked(r)
	return nil
}
