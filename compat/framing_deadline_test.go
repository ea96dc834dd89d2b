package compat

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
)

// scriptedConn returns data one byte per Read and fails one Read with a
// timeout when the position reaches timeoutAt, as a read deadline set in
// the past does. Only Read is implemented.
type scriptedConn struct {
	net.Conn
	data      []byte
	pos       int
	timeoutAt int
	timedOut  bool
	// exhausted is set once a Read has found no data left.
	exhausted bool
}

func (c *scriptedConn) Read(p []byte) (int, error) {
	if !c.timedOut && c.pos == c.timeoutAt {
		c.timedOut = true
		return 0, os.ErrDeadlineExceeded
	}
	if c.pos == len(c.data) {
		c.exhausted = true
		return 0, io.EOF
	}
	n := copy(p[:1], c.data[c.pos:])
	c.pos += n
	return n, nil
}

// TestFramingKeepsHeaderAcrossReadDeadline interrupts the header block of
// a keep-alive request with a read timeout. net/http's server causes one
// whenever a handler returns during its one-byte background read: it sets a
// read deadline in the past to stop that read. The wrapper used to release
// the partial header unchecked and start a new header block at the next
// byte, so it skipped the header line that the timeout split. When that
// line was Content-Length, it took the body for a header block and held it
// until the client gave up (minio-go waits 60 s for response headers), and
// a split Content-Length with Transfer-Encoding passed unrenamed.
func TestFramingKeepsHeaderAcrossReadDeadline(t *testing.T) {
	first := "PUT /b/part HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
	tests := []struct {
		name   string
		second string
		// renamed reports whether the second request must come out with
		// Content-Length renamed.
		renamed bool
	}{
		{name: "fixed length", second: "POST /b/k?uploadId=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n<a/>"},
		{name: "length with chunked", second: "PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", renamed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := first + tt.second
			headerEnd := len(first) + bytes.Index([]byte(tt.second), []byte("\r\n\r\n")) + 4
			for at := len(first) + 1; at < headerEnd; at++ {
				conn := &scriptedConn{data: []byte(input), timeoutAt: at}
				c := &framingConn{Conn: conn}
				var out bytes.Buffer
				outAtEOF := -1
				buf := make([]byte, 1)
				for {
					n, err := c.Read(buf)
					out.Write(buf[:n])
					if conn.exhausted && outAtEOF < 0 {
						outAtEOF = out.Len() - n
					}
					if errors.Is(err, os.ErrDeadlineExceeded) {
						continue // the server reads again after the abort
					}
					if err != nil {
						break
					}
				}

				got := out.String()
				want := input
				if tt.renamed {
					want = first + string(bytes.Replace([]byte(tt.second), []byte("Content-Length"), []byte(ambiguousFramingHeader), 1))
				}
				if got != want {
					t.Fatalf("timeout at byte %d: output = %q, want %q", at, got, want)
				}
				if outAtEOF != len(input) {
					t.Fatalf("timeout at byte %d: %d of %d bytes released before the connection ran dry, want all of them", at, outAtEOF, len(input))
				}
			}
		})
	}
}
