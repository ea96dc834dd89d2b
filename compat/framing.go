package compat

import (
	"bytes"
	"errors"
	"net"
	"strconv"
)

// ambiguousFramingHeader replaces the name of every Content-Length header
// of a request that also carries Transfer-Encoding. It has the same length
// as "Content-Length", so the byte stream keeps its framing.
const ambiguousFramingHeader = "X-Ambiguous-Cl"

// maxHeaderBlock bounds how much of a request's header block the framing
// check holds; a longer block passes through unchecked and Go's server
// rejects it for exceeding http.Server.MaxHeaderBytes.
const maxHeaderBlock = 1 << 20

// FramingListener wraps an S3 listener's net.Listener so that requests
// carrying both Content-Length and Transfer-Encoding can be rejected. Go's
// server accepts such requests (RFC 9112, section 6.3 lets it) and drops
// Content-Length before any handler runs; S3 rejects them, and a proxy
// that forwards them invites request smuggling. The wrapped connections
// rename those Content-Length headers to X-Ambiguous-Cl, which the
// Listener rejects with 400.
func FramingListener(ln net.Listener) net.Listener {
	return framingListener{ln}
}

type framingListener struct {
	net.Listener
}

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

// framingConn follows the HTTP/1.1 request stream as it is read: header
// blocks are held until complete and checked, and bodies (fixed length or
// chunked) are skipped over without changes. It is read by one goroutine,
// the server's, so it needs no lock.
type framingConn struct {
	net.Conn

	header  []byte // header block being collected
	pending []byte // checked bytes not yet returned

	state     framingState
	remaining int64  // bytes left in a fixed body or chunk
	line      []byte // chunk-size or trailer line being collected
	passAll   bool   // stop following the stream (unparseable input)
}

type framingState int

const (
	stateHeader framingState = iota
	stateFixedBody
	stateChunkSize
	stateChunkData
	stateChunkDataEnd
	stateTrailer
)

func (c *framingConn) Read(p []byte) (int, error) {
	for {
		if len(c.pending) > 0 {
			n := copy(p, c.pending)
			c.pending = c.pending[n:]
			return n, nil
		}

		n, err := c.Conn.Read(p)
		if released := c.scan(p[:n]); released > 0 {
			return released, err
		}
		if len(c.pending) > 0 {
			continue
		}
		if err != nil {
			// Hand over a header block cut short so the server can
			// respond to it; the connection is ending anyway. A timeout keeps
			// the block: net/http's server ends its one-byte background
			// read with a read deadline in the past when a handler
			// returns, and then reads on.
			if len(c.header) > 0 && !isTimeout(err) {
				c.pending, c.header = c.header, nil
				continue
			}
			return 0, err
		}
	}
}

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// scan follows data, just read into the caller's buffer, through the
// request stream. Body bytes before any header block stay where they are:
// scan returns their count. From the first header byte on, the bytes are
// moved out (a header block is held until it is complete and checked) and
// reach the caller through pending.
func (c *framingConn) scan(data []byte) int {
	i := 0
	for i < len(data) && c.state != stateHeader && !c.passAll {
		i += c.step(data[i:], false)
	}
	if c.passAll {
		return len(data)
	}
	if i < len(data) {
		c.consume(bytes.Clone(data[i:]))
	}
	return i
}

// consume follows data through the request stream and appends it to
// pending, header blocks once they are complete and checked.
func (c *framingConn) consume(data []byte) {
	for len(data) > 0 {
		if c.passAll {
			c.pending = append(c.pending, data...)
			return
		}
		if c.state == stateHeader {
			data = c.consumeHeader(data)
			continue
		}
		n := c.step(data, true)
		data = data[n:]
	}
}

// step advances through a body state by at most len(data) bytes and
// returns how many it used. With hold, the bytes are appended to pending.
func (c *framingConn) step(data []byte, hold bool) int {
	var n int
	switch c.state {
	case stateFixedBody, stateChunkData:
		n = int(min(int64(len(data)), c.remaining))
		c.remaining -= int64(n)
		if c.remaining == 0 {
			if c.state == stateFixedBody {
				c.state = stateHeader
			} else {
				c.state, c.remaining = stateChunkDataEnd, 2 // the CRLF after chunk data
			}
		}
	case stateChunkDataEnd:
		n = 1
		if c.remaining--; c.remaining == 0 {
			c.state = stateChunkSize
		}
	case stateChunkSize, stateTrailer:
		n = c.consumeLine(data)
	}
	if hold {
		c.pending = append(c.pending, data[:n]...)
	}
	return n
}

// consumeHeader collects a header block; once it is complete it is checked
// and released, and the body state is set from it.
func (c *framingConn) consumeHeader(data []byte) []byte {
	// Blank lines before a request line are allowed (RFC 9112, 2.2).
	if len(c.header) == 0 {
		for len(data) > 0 && (data[0] == '\r' || data[0] == '\n') {
			c.pending = append(c.pending, data[0])
			data = data[1:]
		}
		if len(data) == 0 {
			return nil
		}
	}

	start := max(len(c.header)-3, 0)
	c.header = append(c.header, data...)
	end := bytes.Index(c.header[start:], []byte("\r\n\r\n"))
	if end < 0 {
		if len(c.header) > maxHeaderBlock {
			c.pending = append(c.pending, c.header...)
			c.header = nil
			c.passAll = true
		}
		return nil
	}
	end += start + 4

	block, rest := c.header[:end], c.header[end:]
	c.setBodyState(block)
	c.pending = append(c.pending, block...)
	c.header = nil
	return bytes.Clone(rest)
}

// setBodyState reads the framing headers of block, renames Content-Length
// when Transfer-Encoding is present too, and sets the state for the body.
func (c *framingConn) setBodyState(block []byte) {
	var lengths [][]byte // value slices of Content-Length lines
	var nameStarts []int
	chunked, transferEncoding := false, false

	lines := bytes.Split(block, []byte("\r\n"))
	offset := 0
	for i, line := range lines {
		lineStart := offset
		offset += len(line) + 2
		if i == 0 {
			continue // request line
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			lengths = append(lengths, value)
			nameStarts = append(nameStarts, lineStart)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			transferEncoding = true
			codings := bytes.Split(value, []byte(","))
			chunked = bytes.EqualFold(bytes.TrimSpace(codings[len(codings)-1]), []byte("chunked"))
		}
	}

	if transferEncoding && len(lengths) > 0 {
		for _, s := range nameStarts {
			copy(block[s:], ambiguousFramingHeader)
		}
	}

	switch {
	case transferEncoding && chunked:
		c.state = stateChunkSize
	case transferEncoding:
		// Not a framing Go's server accepts: it rejects the request and
		// closes the connection.
		c.passAll = true
	case len(lengths) > 0:
		n, err := strconv.ParseInt(string(lengths[0]), 10, 64)
		if err != nil || n < 0 {
			c.passAll = true
			return
		}
		if n > 0 {
			c.state, c.remaining = stateFixedBody, n
		}
	}
}

// consumeLine collects a chunk-size or trailer line, moves to the next
// state when it is complete, and returns how many bytes of data it used.
func (c *framingConn) consumeLine(data []byte) int {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		c.line = append(c.line, data...)
		if len(c.line) > 64<<10 {
			c.passAll = true
		}
		return len(data)
	}
	c.line = append(c.line, data[:i+1]...)
	line := bytes.TrimRight(c.line, "\r\n")
	c.line = c.line[:0]

	if c.state == stateTrailer {
		if len(line) == 0 {
			c.state = stateHeader
		}
		return i + 1
	}

	sizeField, _, _ := bytes.Cut(line, []byte(";"))
	size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeField)), 16, 64)
	switch {
	case err != nil || size < 0:
		c.passAll = true
	case size == 0:
		c.state = stateTrailer
	default:
		c.state, c.remaining = stateChunkData, size
	}
	return i + 1
}
