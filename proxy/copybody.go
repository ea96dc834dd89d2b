package proxy

import (
	"io"
	"sync"
)

// copyBuffers holds the 32 KiB buffers that stream response bodies to
// clients. io.Copy would allocate one per response: a batched body
// implements neither WriterTo nor ReaderFrom, nor does a Recorder, and
// net/http's own ReadFrom ends in the TCP connection's generic copy, which
// allocates too. At thousands of small objects per second that garbage
// keeps the collector busy.
var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// CopyBody copies body to w through a pooled buffer and returns the number
// of bytes written. Unlike io.Copy it never calls w's ReadFrom, so the
// pooled buffer is the only one used.
func CopyBody(w io.Writer, body io.Reader) (int64, error) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	return io.CopyBuffer(writerOnly{w}, body, *buf)
}

// writerOnly hides every method of a Writer but Write.
type writerOnly struct{ io.Writer }
