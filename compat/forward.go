package compat

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/s3-batching-agent/s3-batching-agent/proxy"
	"github.com/s3-batching-agent/s3-batching-agent/sigv4"
)

// skippedForwardHeaders never reach the upstream on a forwarded request:
// hop-by-hop headers, headers Go derives from the request (Host,
// Content-Length), the client's authentication, which the agent replaces,
// and Expect, so the upstream leg never waits for a 100 Continue.
var skippedForwardHeaders = map[string]bool{
	"Host":                 true,
	"Content-Length":       true,
	"Expect":               true,
	"Authorization":        true,
	"X-Amz-Date":           true,
	"X-Amz-Security-Token": true,
	"X-Amz-Content-Sha256": true,
}

// bodyError records the first error the client's body returned while the
// upstream request read it, so that a failed upload is reported as the
// client's fault rather than the upstream's.
type bodyError struct {
	err error
}

// recordingReader passes reads through and records the first error other
// than io.EOF.
type recordingReader struct {
	r   io.Reader
	rec *bodyError
}

func (r recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.rec.err == nil {
		r.rec.err = err
	}
	return n, err
}

// outgoingRequest builds the upstream request for a forwarded operation.
// The body is decoded from aws-chunked when the client sent it that way:
// without trailers it goes upstream as plain bytes with UNSIGNED-PAYLOAD,
// with trailers it is re-framed as STREAMING-UNSIGNED-PAYLOAD-TRAILER so
// that the upstream checks and stores the checksum. In verify mode the
// payload is checked against the client's signature as it streams. The
// returned bodyError is filled in while the upstream reads the body.
func outgoingRequest(r *http.Request, op operation, query url.Values, v *sigv4.Verification) (*proxy.Request, *bodyError, *proxy.APIError) {
	header := http.Header{}
	for name, values := range r.Header {
		if proxy.IsHopHeader(name) || skippedForwardHeaders[name] {
			continue
		}
		header[name] = append([]string(nil), values...)
	}
	out := &proxy.Request{
		Op:     op.Name,
		Method: r.Method,
		Bucket: op.Bucket,
		Key:    op.Key,
		Query:  query,
		Header: header,
	}
	rec := &bodyError{}

	declared := r.Header.Get("X-Amz-Content-Sha256")
	if declared == "" {
		declared = proxy.UnsignedPayload
	}
	mode, err := sigv4.ParsePayloadMode(declared)
	if err != nil {
		return nil, nil, authError(err)
	}

	hasBody := r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
	if !hasBody && !mode.Streaming() {
		out.PayloadHash = outgoingHash(declared, mode)
		if r.ContentLength == 0 && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodDelete {
			out.Body, out.ContentLength = http.NoBody, 0
		}
		return out, rec, nil
	}

	var payload sigv4.PayloadReader
	if v != nil {
		payload, err = v.NewPayloadReader(r.Body, r.Header)
	} else {
		payload, err = sigv4.NewUnverifiedPayloadReader(r.Body, r.Header)
	}
	if err != nil {
		return nil, nil, authError(err)
	}
	body := recordingReader{r: payload, rec: rec}

	if !mode.Streaming() {
		out.Body, out.ContentLength = body, r.ContentLength
		out.PayloadHash = outgoingHash(declared, mode)
		return out, rec, nil
	}

	decoded, apiErr := decodedLength(r.Header)
	if apiErr != nil {
		return nil, nil, apiErr
	}
	trailers := trailerNames(r.Header)
	coding := sigv4.StripAWSChunked(strings.Join(r.Header.Values("Content-Encoding"), ","))
	trailerValues := payload.Trailers

	if len(trailers) == 0 && (hasChecksumHeader(r.Header) || query.Has("uploadId")) {
		// The upstream checks the body against the client's checksum
		// header, so a body cut short is not stored. A part cut short
		// never becomes part of an object, because its client gets no
		// ETag to complete the upload with. Parts also get no checksum
		// of ours: on an upload created without one, a part checksum
		// makes some upstreams (versitygw v1.8.0) reject the completion.
		header.Del("X-Amz-Decoded-Content-Length")
		header.Del("X-Amz-Trailer")
		setOrDelete(header, "Content-Encoding", coding)
		out.Body, out.ContentLength = body, decoded
		out.PayloadHash = proxy.UnsignedPayload
		return out, rec, nil
	}
	if len(trailers) == 0 {
		// Without a checksum, a plain body that the agent cuts short when a
		// chunk fails verification can be stored truncated (versitygw
		// v1.8.0 does). A CRC32 trailer computed here makes the upstream
		// reject a body that lacks its final chunk and trailer.
		crc := &crc32Reader{r: body}
		body = recordingReader{r: crc, rec: rec}
		trailers = []string{"x-amz-checksum-crc32"}
		trailerValues = crc.trailers
	}

	length, err := sigv4.UnsignedTrailerLength(decoded, sigv4.DefaultEncodeChunkSize, trailers)
	if err != nil {
		return nil, nil, authError(err)
	}
	// The framing is announced by x-amz-content-sha256 and x-amz-trailer,
	// the headers AWS's trailing-checksum documentation requires. Content-
	// Encoding leaves aws-chunked out, because upstreams that store that
	// header as received (versitygw v1.8.0) would store it too.
	// NOTE: checked against versitygw only, not against AWS S3.
	setOrDelete(header, "Content-Encoding", coding)
	header.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(decoded, 10))
	header.Set("X-Amz-Trailer", strings.Join(trailers, ","))
	out.Body = sigv4.NewUnsignedTrailerEncoder(body, sigv4.DefaultEncodeChunkSize, trailerValues)
	out.ContentLength = length
	out.PayloadHash = sigv4.StreamingUnsignedPayloadTrailer
	return out, rec, nil
}

// outgoingHash returns the payload hash to sign for a body forwarded as
// received: a hex SHA-256 stays, so the upstream checks the body itself.
func outgoingHash(declared string, mode sigv4.PayloadMode) string {
	if mode == sigv4.PayloadSHA256 {
		return strings.ToLower(declared)
	}
	return proxy.UnsignedPayload
}

func decodedLength(h http.Header) (int64, *proxy.APIError) {
	s := h.Get("X-Amz-Decoded-Content-Length")
	if s == "" {
		return 0, &proxy.APIError{Status: http.StatusLengthRequired, Code: "MissingContentLength",
			Message: "An aws-chunked upload must carry x-amz-decoded-content-length."}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, proxy.InvalidArgument("x-amz-decoded-content-length must be a non-negative integer.")
	}
	return n, nil
}

func trailerNames(h http.Header) []string {
	var names []string
	for _, v := range h.Values("X-Amz-Trailer") {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
				names = append(names, name)
			}
		}
	}
	return names
}

func setOrDelete(h http.Header, name, value string) {
	if value == "" {
		h.Del(name)
		return
	}
	h.Set(name, value)
}

// hasChecksumHeader reports whether the request carries an
// x-amz-checksum-<algorithm> header with the object's checksum.
func hasChecksumHeader(h http.Header) bool {
	for name := range h {
		if strings.HasPrefix(name, "X-Amz-Checksum-") && name != "X-Amz-Checksum-Type" && name != "X-Amz-Checksum-Algorithm" {
			return true
		}
	}
	return false
}

// crc32Reader computes the CRC32 (IEEE) of the bytes read through it.
type crc32Reader struct {
	r   io.Reader
	sum uint32
}

func (c *crc32Reader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.sum = crc32.Update(c.sum, crc32.IEEETable, p[:n])
	return n, err
}

// trailers returns the x-amz-checksum-crc32 trailer, base64 of the
// big-endian CRC as S3 expects.
func (c *crc32Reader) trailers() []sigv4.Trailer {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], c.sum)
	return []sigv4.Trailer{{Name: "x-amz-checksum-crc32", Value: base64.StdEncoding.EncodeToString(b[:])}}
}
