package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// x-amz-content-sha256 values other than a hex SHA-256 (Amazon S3 API
// reference, "Authenticating Requests: Using the Authorization Header").
const (
	UnsignedPayload                 = "UNSIGNED-PAYLOAD"
	StreamingSignedPayload          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingSignedPayloadTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// PayloadMode identifies how the request body is protected, as selected by
// x-amz-content-sha256.
type PayloadMode int

const (
	// PayloadSHA256: x-amz-content-sha256 is the hex SHA-256 of the body.
	PayloadSHA256 PayloadMode = iota + 1

	// PayloadUnsigned: UNSIGNED-PAYLOAD, the body is not covered.
	PayloadUnsigned

	// PayloadStreamingSigned: an aws-chunked body whose every chunk is
	// signed.
	PayloadStreamingSigned

	// PayloadStreamingSignedTrailer: signed chunks followed by signed
	// trailing headers.
	PayloadStreamingSignedTrailer

	// PayloadStreamingUnsignedTrailer: an aws-chunked body without chunk
	// signatures, followed by unsigned trailing headers, usually a checksum.
	PayloadStreamingUnsignedTrailer
)

// String returns the x-amz-content-sha256 value of m, or "SHA256" for
// PayloadSHA256.
func (m PayloadMode) String() string {
	switch m {
	case PayloadSHA256:
		return "SHA256"
	case PayloadUnsigned:
		return UnsignedPayload
	case PayloadStreamingSigned:
		return StreamingSignedPayload
	case PayloadStreamingSignedTrailer:
		return StreamingSignedPayloadTrailer
	case PayloadStreamingUnsignedTrailer:
		return StreamingUnsignedPayloadTrailer
	}
	return "PayloadMode(" + strconv.Itoa(int(m)) + ")"
}

// Streaming reports whether m frames the body as aws-chunked.
func (m PayloadMode) Streaming() bool {
	return m == PayloadStreamingSigned || m == PayloadStreamingSignedTrailer || m == PayloadStreamingUnsignedTrailer
}

// signedChunks reports whether each chunk of m carries a signature.
func (m PayloadMode) signedChunks() bool {
	return m == PayloadStreamingSigned || m == PayloadStreamingSignedTrailer
}

// hasTrailer reports whether m ends with trailing headers.
func (m PayloadMode) hasTrailer() bool {
	return m == PayloadStreamingSignedTrailer || m == PayloadStreamingUnsignedTrailer
}

// ParsePayloadMode returns the mode an x-amz-content-sha256 value selects.
// A hex SHA-256 may use either letter case. SigV4a streaming values and
// anything else are errors wrapping ErrMalformed.
func ParsePayloadMode(value string) (PayloadMode, error) {
	switch value {
	case UnsignedPayload:
		return PayloadUnsigned, nil
	case StreamingSignedPayload:
		return PayloadStreamingSigned, nil
	case StreamingSignedPayloadTrailer:
		return PayloadStreamingSignedTrailer, nil
	case StreamingUnsignedPayloadTrailer:
		return PayloadStreamingUnsignedTrailer, nil
	}
	if len(value) == sha256.Size*2 {
		if _, err := hex.DecodeString(value); err == nil {
			return PayloadSHA256, nil
		}
	}
	if strings.HasPrefix(value, "STREAMING-AWS4-ECDSA-P256-SHA256") {
		return 0, fmt.Errorf("x-amz-content-sha256: SigV4a streaming is not supported: %w", ErrMalformed)
	}
	return 0, fmt.Errorf("x-amz-content-sha256 is neither a hex SHA-256 nor a known keyword: %w", ErrMalformed)
}

// PayloadReader yields a request's payload and checks it against what the
// client declared. When the payload fails, Read returns an error wrapping
// ErrContentSHA256Mismatch, ErrSignatureMismatch, ErrBadDigest,
// ErrIncompleteBody or ErrMalformedPayload before it returns the last byte.
// So a caller that copies to an upstream with a fixed Content-Length cannot
// complete the upload with bad bytes.
type PayloadReader interface {
	io.Reader

	// Trailers returns the trailing headers, such as x-amz-checksum-crc32,
	// once Read has returned io.EOF. It returns nil before that and for
	// payloads without trailers.
	Trailers() []Trailer
}

// Trailer is one trailing header of an aws-chunked body.
type Trailer struct {
	// Name is lower case, such as "x-amz-checksum-crc32".
	Name  string
	Value string
}

// NewPayloadReader wraps body, a request body that v verified the headers
// of, so that reading yields the decoded payload and checks it:
//
//   - a hex x-amz-content-sha256 is checked when body ends;
//   - UNSIGNED-PAYLOAD passes body through unchanged;
//   - aws-chunked bodies are decoded, with chunk and trailer signatures,
//     trailing checksums and x-amz-decoded-content-length checked as they
//     stream.
//
// header supplies x-amz-decoded-content-length and x-amz-trailer. The caller
// still owns body and closes it.
func (v *Verification) NewPayloadReader(body io.Reader, header http.Header) (PayloadReader, error) {
	if !v.Payload.Streaming() {
		return newPlainPayloadReader(body, v.Payload, v.PayloadHash)
	}

	config, err := chunkedConfigFromHeader(v.Payload, header)
	if err != nil {
		return nil, err
	}
	config.SigningKey = v.SigningKey
	config.SeedSignature = v.Signature
	config.SigningTime = v.SigningTime
	config.Region = v.Region
	return NewChunkedReader(body, config)
}

// NewUnverifiedPayloadReader wraps body for a caller that does not verify
// signatures, such as a listener in a trusted network. It reads the payload
// mode from x-amz-content-sha256 in header (UNSIGNED-PAYLOAD when absent) and
// decodes aws-chunked bodies without checking chunk or trailer signatures.
// It still checks a hex x-amz-content-sha256, trailing checksums and
// x-amz-decoded-content-length. The caller still owns body and closes it.
func NewUnverifiedPayloadReader(body io.Reader, header http.Header) (PayloadReader, error) {
	payloadHash := header.Get("X-Amz-Content-Sha256")
	if payloadHash == "" {
		payloadHash = UnsignedPayload
	}
	mode, err := ParsePayloadMode(payloadHash)
	if err != nil {
		return nil, err
	}
	if !mode.Streaming() {
		return newPlainPayloadReader(body, mode, payloadHash)
	}

	config, err := chunkedConfigFromHeader(mode, header)
	if err != nil {
		return nil, err
	}
	config.SkipSignatures = true
	return NewChunkedReader(body, config)
}

func newPlainPayloadReader(body io.Reader, mode PayloadMode, payloadHash string) (PayloadReader, error) {
	if mode == PayloadSHA256 {
		return NewSHA256Reader(body, payloadHash)
	}
	return passthroughReader{body}, nil
}

// chunkedConfigFromHeader reads x-amz-decoded-content-length and
// x-amz-trailer.
func chunkedConfigFromHeader(mode PayloadMode, header http.Header) (ChunkedConfig, error) {
	config := ChunkedConfig{Mode: mode, DecodedLength: -1}

	if values := header.Values("X-Amz-Decoded-Content-Length"); len(values) > 0 {
		n, err := strconv.ParseInt(values[0], 10, 64)
		if len(values) > 1 || err != nil || n < 0 {
			return ChunkedConfig{}, fmt.Errorf("x-amz-decoded-content-length is not one non-negative integer: %w", ErrMalformedPayload)
		}
		config.DecodedLength = n
	}

	for _, value := range header.Values("X-Amz-Trailer") {
		for name := range strings.SplitSeq(value, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "" {
				config.Trailers = append(config.Trailers, name)
			}
		}
	}
	return config, nil
}

// StripAWSChunked removes the aws-chunked coding from a Content-Encoding
// value and keeps the others in order: "aws-chunked,gzip" gives "gzip" and
// "aws-chunked" gives "". S3 stores the object's Content-Encoding without
// aws-chunked, so a caller that forwards decoded bytes sets the result.
func StripAWSChunked(contentEncoding string) string {
	var kept []string
	for coding := range strings.SplitSeq(contentEncoding, ",") {
		coding = strings.TrimSpace(coding)
		if coding == "" || strings.EqualFold(coding, "aws-chunked") {
			continue
		}
		kept = append(kept, coding)
	}
	return strings.Join(kept, ",")
}

// passthroughReader is the PayloadReader of an UNSIGNED-PAYLOAD body.
type passthroughReader struct {
	io.Reader
}

func (passthroughReader) Trailers() []Trailer { return nil }

// SHA256Reader passes a body through and checks at its end that the
// SHA-256 of all bytes read equals the expected hex value. It holds back the
// last byte until the check passes, so that a consumer never reads a complete
// body that fails. It is not safe for concurrent use.
type SHA256Reader struct {
	body     io.Reader
	want     [sha256.Size]byte
	hash     hash.Hash
	heldByte byte
	haveHeld bool
	err      error // sticky: io.EOF after success, or the failure
}

// NewSHA256Reader returns a reader that checks body against wantHex, a hex
// SHA-256 in either letter case. A mismatch makes Read return an error
// wrapping ErrContentSHA256Mismatch. The caller still owns body and closes it.
func NewSHA256Reader(body io.Reader, wantHex string) (*SHA256Reader, error) {
	r := &SHA256Reader{body: body, hash: sha256.New()}
	if len(wantHex) != sha256.Size*2 {
		return nil, fmt.Errorf("x-amz-content-sha256 is not a hex SHA-256: %w", ErrMalformed)
	}
	if _, err := hex.Decode(r.want[:], []byte(wantHex)); err != nil {
		return nil, fmt.Errorf("x-amz-content-sha256 is not a hex SHA-256: %w", ErrMalformed)
	}
	return r, nil
}

// Read reads from the body and returns io.EOF only after the digest matched.
func (r *SHA256Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}

	for {
		// Read into p after the held byte, so that the held byte goes out
		// first and the last byte of this read becomes the new held byte.
		start := 0
		if r.haveHeld {
			p[0] = r.heldByte
			start = 1
		}
		var n int
		var err error
		if start < len(p) {
			n, err = r.body.Read(p[start:])
		} else {
			var single [1]byte
			n, err = r.body.Read(single[:])
			if n == 1 {
				// p is one byte long and full with the old held byte.
				r.hash.Write(single[:])
				r.heldByte = single[0]
				return 1, nil
			}
		}
		r.hash.Write(p[start : start+n])
		total := start + n

		if err == io.EOF {
			return r.finish(p, total)
		}
		if err != nil {
			r.err = err
			return 0, err
		}
		if total == 0 {
			continue
		}
		r.heldByte = p[total-1]
		r.haveHeld = true
		if total-1 > 0 {
			return total - 1, nil
		}
	}
}

// finish checks the digest once the body has ended. total bytes of p hold
// the rest of the payload, held byte included.
func (r *SHA256Reader) finish(p []byte, total int) (int, error) {
	var got [sha256.Size]byte
	r.hash.Sum(got[:0])
	if got != r.want {
		r.err = fmt.Errorf("checking payload: %w", ErrContentSHA256Mismatch)
		return 0, r.err
	}
	r.haveHeld = false
	r.err = io.EOF
	if total == 0 {
		return 0, io.EOF
	}
	return total, nil
}

// Trailers returns nil: a payload with a hex SHA-256 has no trailers.
func (r *SHA256Reader) Trailers() []Trailer { return nil }
