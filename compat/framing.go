package compat

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// ambiguousFramingHeader replaces the name of every Content-Length header
// of a request that also carries Transfer-Encoding. It has the same length
// as "Content-Length", so the byte stream keeps its framing.
const ambiguousFramingHeader = "X-Ambiguous-Cl"

// maxHeaderBlock bounds how much of a request's header block the framing
// check holds. A longer block passes through unchecked, and Go's server
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
	passAll   bool   // release what was read as is, then end the stream
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

		if c.passAll {
			// The stream could not be followed (a framing Go's server
			// rejects, or an oversized header block). The server closes the
			// connection after its error; no further request is let in.
			return 0, io.EOF
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

	start := max(len(c.header)-2, 0)
	c.header = append(c.header, data...)
	end := headerBlockEnd(c.header, start)
	if end < 0 {
		if len(c.header) > maxHeaderBlock {
			c.pending = append(c.pending, c.header...)
			c.header = nil
			c.passAll = true
		}
		return nil
	}

	block, rest := c.header[:end], c.header[end:]
	c.setBodyState(block)
	c.pending = append(c.pending, block...)
	c.header = nil
	return bytes.Clone(rest)
}

// headerBlockEnd returns the offset just past the empty line that ends the
// header block in b, searching from from, or -1. Like Go's server, it takes
// a bare LF as a line end.
func headerBlockEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// setBodyState reads the framing headers of block the way Go's server
// will, renames Content-Length when Transfer-Encoding is present too, and
// sets the state for the body. A framing Go's server rejects stops the
// following: the server closes such a connection after its error.
func (c *framingConn) setBodyState(block []byte) {
	var lengths []string // Content-Length values
	var lengthStarts []int
	var encodings []string // Transfer-Encoding values, folded lines joined
	lastName := ""
	http11 := true

	offset := 0
	for i, raw := range bytes.Split(block, []byte("\n")) {
		lineStart := offset
		offset += len(raw) + 1
		line := bytes.TrimSuffix(raw, []byte("\r"))
		if i == 0 {
			http11 = protoAtLeast11(line)
			continue
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// An obsolete folded line continues the previous header.
			if lastName == "transfer-encoding" && len(encodings) > 0 {
				encodings[len(encodings)-1] += " " + string(bytes.TrimSpace(line))
			}
			if lastName == "content-length" && len(lengths) > 0 {
				lengths[len(lengths)-1] += " " + string(bytes.TrimSpace(line))
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			lastName = ""
			continue
		}
		lastName = strings.ToLower(string(name))
		switch lastName {
		case "content-length":
			lengths = append(lengths, string(bytes.TrimSpace(value)))
			lengthStarts = append(lengthStarts, lineStart)
		case "transfer-encoding":
			encodings = append(encodings, string(bytes.TrimSpace(value)))
		}
	}

	if len(encodings) > 0 && len(lengths) > 0 {
		for _, s := range lengthStarts {
			copy(block[s:], ambiguousFramingHeader)
		}
		lengths = nil
	}

	switch {
	case len(encodings) > 0 && http11:
		// Go's server takes exactly one Transfer-Encoding, "chunked".
		if len(encodings) != 1 || !strings.EqualFold(strings.TrimSpace(encodings[0]), "chunked") {
			c.passAll = true
			return
		}
		c.state = stateChunkSize
	case len(lengths) > 0:
		// Go's server ignores Transfer-Encoding on HTTP/1.0, and rejects
		// differing or malformed Content-Length values.
		for _, v := range lengths[1:] {
			if v != lengths[0] {
				c.passAll = true
				return
			}
		}
		n, err := strconv.ParseUint(lengths[0], 10, 63)
		if err != nil {
			c.passAll = true
			return
		}
		if n > 0 {
			c.state, c.remaining = stateFixedBody, int64(n)
		}
	}
}

// protoAtLeast11 reports whether a request line names HTTP/1.1 or later.
// A line Go's server cannot parse counts as HTTP/1.1: the server rejects
// it anyway.
func protoAtLeast11(requestLine []byte) bool {
	fields := bytes.Fields(requestLine)
	if len(fields) == 0 {
		return true
	}
	major, minor, ok := http.ParseHTTPVersion(string(fields[len(fields)-1]))
	return !ok || major > 1 || (major == 1 && minor >= 1)
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
