package sigv4

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// An upload whose client sent signed aws-chunked data cannot be forwarded as
// it is, because its chunk signatures chain from the client's signature and
// the agent re-signs with its own credentials. The caller decodes it with a
// ChunkedReader and then forwards the decoded bytes in one of two ways:
//
//   - with x-amz-content-sha256: UNSIGNED-PAYLOAD and Content-Length set to
//     the decoded length. The trailing checksum was checked by the decoder,
//     but the upstream neither receives nor stores it.
//   - re-framed by an UnsignedTrailerEncoder as STREAMING-UNSIGNED-PAYLOAD-TRAILER
//     with the same trailers, so the upstream checks and stores the checksum.
//     The outgoing request then needs Content-Encoding: aws-chunked (before
//     any other coding), x-amz-decoded-content-length,
//     x-amz-trailer naming the trailers, and Content-Length from
//     UnsignedTrailerLength, because S3 rejects Transfer-Encoding: chunked.

// DefaultEncodeChunkSize is the chunk size the AWS SDK for Go v2 uses for
// unsigned aws-chunked uploads: 64 KiB.
const DefaultEncodeChunkSize = 64 << 10

// UnsignedTrailerEncoder frames bytes as a STREAMING-UNSIGNED-PAYLOAD-TRAILER
// body: "hex-size\r\n data \r\n" chunks of exactly the chunk size except the
// last, a "0\r\n" chunk, the trailers as "name:value\r\n" and a final "\r\n".
// Memory is one chunk buffer. It is not safe for concurrent use.
type UnsignedTrailerEncoder struct {
	src      io.Reader
	trailers func() []Trailer

	buf      []byte
	header   []byte
	crlf     []byte
	segments [][]byte // output not yet returned, in order
	done     bool     // the final chunk and trailers are in segments
	err      error
}

// NewUnsignedTrailerEncoder returns an encoder reading src in chunkSize
// pieces (DefaultEncodeChunkSize when chunkSize is zero or less). trailers is
// called once, after src returned io.EOF, and may be nil when there are no
// trailers. Passing a ChunkedReader's Trailers method forwards the trailers
// it checked. The caller still owns src.
func NewUnsignedTrailerEncoder(src io.Reader, chunkSize int, trailers func() []Trailer) *UnsignedTrailerEncoder {
	if chunkSize <= 0 {
		chunkSize = DefaultEncodeChunkSize
	}
	return &UnsignedTrailerEncoder{
		src:      src,
		trailers: trailers,
		buf:      make([]byte, chunkSize),
		crlf:     []byte("\r\n"),
	}
}

// Read returns encoded bytes. An error reading src is returned as it is.
func (e *UnsignedTrailerEncoder) Read(p []byte) (int, error) {
	for len(e.segments) == 0 {
		if e.err != nil {
			return 0, e.err
		}
		if e.done {
			e.err = io.EOF
			return 0, io.EOF
		}
		if err := e.fill(); err != nil {
			e.err = err
			return 0, err
		}
	}

	n := 0
	for n < len(p) && len(e.segments) > 0 {
		copied := copy(p[n:], e.segments[0])
		n += copied
		e.segments[0] = e.segments[0][copied:]
		if len(e.segments[0]) == 0 {
			e.segments = e.segments[1:]
		}
	}
	return n, nil
}

// fill reads the next chunk from src and queues its framing.
func (e *UnsignedTrailerEncoder) fill() error {
	n, err := io.ReadFull(e.src, e.buf)
	if n > 0 {
		e.header = strconv.AppendInt(e.header[:0], int64(n), 16)
		e.header = append(e.header, "\r\n"...)
		e.segments = append(e.segments[:0], e.header, e.buf[:n], e.crlf)
	}
	switch {
	case err == nil:
		return nil
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		e.segments = append(e.segments, e.finalChunk())
		e.done = true
		return nil
	}
	return err
}

// finalChunk formats "0\r\n", the trailers and the closing "\r\n".
func (e *UnsignedTrailerEncoder) finalChunk() []byte {
	out := []byte("0\r\n")
	if e.trailers != nil {
		for _, t := range e.trailers() {
			out = append(out, t.Name...)
			out = append(out, ':')
			out = append(out, t.Value...)
			out = append(out, "\r\n"...)
		}
	}
	return append(out, "\r\n"...)
}

// UnsignedTrailerLength returns the length of the body that an
// UnsignedTrailerEncoder with chunkSize (DefaultEncodeChunkSize when zero or
// less) produces from decodedLength bytes and trailers with the given names,
// for the outgoing Content-Length. Each name must be a supported
// x-amz-checksum-* trailer, whose value has a fixed length.
func UnsignedTrailerLength(decodedLength int64, chunkSize int, trailerNames []string) (int64, error) {
	if decodedLength < 0 {
		return 0, fmt.Errorf("computing aws-chunked length: negative decoded length %d", decodedLength)
	}
	if chunkSize <= 0 {
		chunkSize = DefaultEncodeChunkSize
	}

	size := int64(chunkSize)
	full, rest := decodedLength/size, decodedLength%size
	length := full * chunkFramedLength(size)
	if rest > 0 {
		length += chunkFramedLength(rest)
	}
	length += int64(len("0\r\n"))
	for _, name := range trailerNames {
		valueLength, ok := checksumValueLength(name)
		if !ok {
			return 0, fmt.Errorf("computing aws-chunked length: trailer %q has no fixed length: %w", name, ErrMalformedPayload)
		}
		length += int64(len(name) + 1 + valueLength + 2)
	}
	return length + int64(len("\r\n")), nil
}

// chunkFramedLength is the encoded length of one data chunk of n bytes.
func chunkFramedLength(n int64) int64 {
	return int64(len(strconv.FormatInt(n, 16))) + 2 + n + 2
}
