package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The aws-chunked body format is defined in "Signature Calculations for the
// Authorization Header: Transferring Payload in Multiple Chunks" and
// "Signature calculations for trailing headers" of the Amazon S3 API
// reference:
//
//	signed chunk:   hex-size;chunk-signature=<64 hex>\r\n <data> \r\n
//	unsigned chunk: hex-size\r\n <data> \r\n
//	final chunk:    a chunk of size 0 with no data
//	trailers:       name:value\r\n ... [x-amz-trailer-signature:<64 hex>\r\n] \r\n
//
// Clients differ in the trailer section. minio-go v7 ends each trailer line
// with a bare \n and puts a blank line before x-amz-trailer-signature, and
// the AWS SDK for JavaScript ends an unsigned body right after "0\r\n" when it
// has no trailer. The decoder accepts these forms and nothing looser.

const (
	// DefaultMaxChunkSize is the largest signed chunk NewChunkedReader
	// accepts when ChunkedConfig.MaxChunkSize is zero. minio-go v7 signs
	// 64 KiB chunks, so 16 MiB leaves a wide margin. The decoder holds one
	// whole signed chunk in memory, to check its signature before returning
	// any of its bytes, so this is also the memory bound per signed upload.
	DefaultMaxChunkSize = 16 << 20

	// unsignedPieceSize is how much of an unsigned chunk the decoder reads
	// and returns at a time. Unsigned chunks have no size limit, because
	// aws-sdk-go-v2 (service/internal/checksum v1.11) sends a stream of known
	// length as a single chunk, whatever its size.
	unsignedPieceSize = 64 << 10

	// maxLineLength bounds a chunk header line and a trailer line. A signed
	// chunk header is about 90 bytes.
	maxLineLength = 4096

	// maxTrailerBytes and maxTrailerLines bound the trailer section.
	maxTrailerBytes = 16 << 10
	maxTrailerLines = 64

	// maxTrailingNewlines bounds the CR and LF bytes accepted after the
	// trailer section, where minio-go writes one extra CRLF.
	maxTrailingNewlines = 8

	trailerSignatureName = "x-amz-trailer-signature"
	chunkSignaturePrefix = "chunk-signature="
)

// ChunkedConfig configures a ChunkedReader.
type ChunkedConfig struct {
	// Mode is PayloadStreamingSigned, PayloadStreamingSignedTrailer or
	// PayloadStreamingUnsignedTrailer.
	Mode PayloadMode

	// DecodedLength is x-amz-decoded-content-length, which the decoded
	// payload must match exactly, or -1 when the request has none. Zero
	// means an empty payload.
	DecodedLength int64

	// Trailers are the lower-case names declared in x-amz-trailer. Each must
	// be x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1 or -sha256, and
	// each must arrive in the trailer section.
	Trailers []string

	// SigningKey, SeedSignature, SigningTime and Region check chunk and
	// trailer signatures in the signed modes. Verification.NewPayloadReader
	// fills them in from the verified request.
	SigningKey    SigningKey
	SeedSignature string
	SigningTime   time.Time
	Region        string

	// SkipSignatures parses chunk and trailer signatures without checking
	// them, for a caller that trusts its clients. Checksums and the decoded
	// length are still checked.
	SkipSignatures bool

	// MaxChunkSize is the largest signed chunk accepted, in bytes. Zero
	// means DefaultMaxChunkSize. Unsigned chunks have no limit of their own.
	MaxChunkSize int
}

// ChunkedReader decodes an aws-chunked request body while it streams.
//
// A signed chunk is read whole and its signature checked before any of its
// bytes are returned. An unsigned chunk is returned in pieces of 64 KiB as
// it arrives. In both cases the last bytes of the payload are returned only
// after the final chunk, the trailers, their signature, the trailing
// checksums and the decoded length have all been checked. A failure is
// returned by Read before the bytes it concerns, so a caller copying to an
// upstream can abort and nothing is stored. Errors wrap
// ErrSignatureMismatch, ErrBadDigest, ErrIncompleteBody or
// ErrMalformedPayload, or are the body's own read error. Errors are sticky.
//
// Memory is one buffer, of the largest signed chunk seen (at most
// MaxChunkSize) or of 64 KiB for unsigned chunks, plus a 4 KiB line buffer.
// A ChunkedReader is not safe for concurrent use.
type ChunkedReader struct {
	body   *bufio.Reader
	config ChunkedConfig

	scope    string
	amzDate  string
	previous string // signature of the last chunk checked: the chain

	buf     []byte
	pending []byte // decoded bytes not yet returned, a slice of buf

	started   bool
	nextSize  int64  // size of the chunk whose header has been read last
	nextSig   string // signature in that header, signed modes only
	remaining int64  // bytes of the current chunk not yet read

	decoded   int64
	checksums []*trailerChecksum
	trailers  []Trailer

	finished bool  // the whole body has been checked
	err      error // sticky error, io.EOF once pending is drained after finished
}

// NewChunkedReader returns a reader that decodes body as config describes.
// The caller still owns body and closes it. The error wraps
// ErrMalformedPayload when config cannot describe a valid upload.
func NewChunkedReader(body io.Reader, config ChunkedConfig) (*ChunkedReader, error) {
	if !config.Mode.Streaming() {
		return nil, fmt.Errorf("decoding aws-chunked body: payload mode %s is not aws-chunked: %w", config.Mode, ErrMalformedPayload)
	}
	if config.MaxChunkSize <= 0 {
		config.MaxChunkSize = DefaultMaxChunkSize
	}
	if config.Mode.signedChunks() && !config.SkipSignatures {
		if len(config.SigningKey) == 0 || !isLowerHex(config.SeedSignature, 64) || config.SigningTime.IsZero() || !validRegion(config.Region) {
			return nil, fmt.Errorf("decoding aws-chunked body: signed chunks need a signing key, seed signature, signing time and region")
		}
	}
	if !config.Mode.hasTrailer() && len(config.Trailers) > 0 {
		return nil, fmt.Errorf("decoding aws-chunked body: x-amz-trailer with %s: %w", config.Mode, ErrMalformedPayload)
	}

	r := &ChunkedReader{
		body:     bufio.NewReaderSize(body, maxLineLength),
		config:   config,
		previous: config.SeedSignature,
	}
	for _, name := range config.Trailers {
		if slices.ContainsFunc(r.checksums, func(c *trailerChecksum) bool { return c.name == name }) {
			return nil, fmt.Errorf("decoding aws-chunked body: trailer %s declared twice: %w", name, ErrMalformedPayload)
		}
		checksum, err := newTrailerChecksum(name)
		if err != nil {
			return nil, err
		}
		r.checksums = append(r.checksums, checksum)
	}
	if config.Mode.signedChunks() {
		t := config.SigningTime.UTC()
		r.amzDate = t.Format(TimeFormat)
		r.scope = Scope{Date: t.Format(dateFormat), Region: config.Region, Service: service}.String()
	}
	return r, nil
}

// Read returns decoded payload bytes. See ChunkedReader for when errors
// appear.
func (r *ChunkedReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.finished {
			r.err = io.EOF
			return 0, io.EOF
		}
		if err := r.advance(); err != nil {
			r.err = err
			return 0, err
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// Trailers returns the trailing headers once Read has returned io.EOF, and
// nil before. Their checksums and signature have been checked by then.
func (r *ChunkedReader) Trailers() []Trailer {
	if r.err != io.EOF {
		return nil
	}
	return slices.Clone(r.trailers)
}

// advance reads and checks the next piece of chunk data: a whole signed
// chunk, or up to 64 KiB of an unsigned one. After the last piece of a chunk
// it reads the header of the next chunk, and when that is the final chunk it
// checks the rest of the body too. So the last piece of the payload is
// released only when everything after it passed.
func (r *ChunkedReader) advance() error {
	if !r.started {
		r.started = true
		if err := r.readChunkHeader(); err != nil {
			return err
		}
		r.remaining = r.nextSize
	}
	if r.remaining == 0 {
		// An empty payload: the first chunk is the final one.
		return r.finish()
	}

	data, err := r.readPiece()
	if err != nil {
		return err
	}
	if r.remaining == 0 {
		if err := r.expectCRLF(); err != nil {
			return err
		}
		if err := r.readChunkHeader(); err != nil {
			return err
		}
		r.remaining = r.nextSize
		if r.nextSize == 0 {
			if err := r.finish(); err != nil {
				return err
			}
		}
	}
	r.pending = data
	return nil
}

// readPiece reads the next piece of the current chunk, checks the signature
// of a signed chunk and feeds the checksums and the length count.
func (r *ChunkedReader) readPiece() ([]byte, error) {
	size := r.remaining
	if !r.config.Mode.signedChunks() {
		size = min(size, unsignedPieceSize)
	}
	if int64(cap(r.buf)) < size {
		r.buf = make([]byte, size)
	}
	data := r.buf[:size]
	if _, err := io.ReadFull(r.body, data); err != nil {
		return nil, bodyReadError("reading chunk data", err)
	}
	r.remaining -= size

	if err := r.checkChunkSignature(data); err != nil {
		return nil, err
	}
	for _, c := range r.checksums {
		c.hash.Write(data)
	}
	r.decoded += size
	return data, nil
}

// checkChunkSignature checks the signature of one chunk, data being empty
// for the final chunk, and moves the chain on.
func (r *ChunkedReader) checkChunkSignature(data []byte) error {
	if !r.config.Mode.signedChunks() {
		return nil
	}
	if !r.config.SkipSignatures {
		sum := sha256.Sum256(data)
		expected := signHex(r.config.SigningKey, chunkStringToSign(r.amzDate, r.scope, r.previous, hex.EncodeToString(sum[:])))
		if !signatureEqual(expected, r.nextSig) {
			return fmt.Errorf("decoding aws-chunked body: chunk ending at byte %d: %w", r.decoded+int64(len(data)), ErrSignatureMismatch)
		}
	}
	r.previous = r.nextSig
	return nil
}

// readChunkHeader reads "hex-size[;chunk-signature=sig]\r\n" into nextSize
// and nextSig.
func (r *ChunkedReader) readChunkHeader() error {
	line, err := r.readLine(true)
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("decoding aws-chunked body: body ended before the final chunk: %w", ErrIncompleteBody)
		}
		return err
	}

	sizeText, extension, hasExtension := strings.Cut(line, ";")
	switch {
	case r.config.Mode.signedChunks():
		signature, ok := strings.CutPrefix(extension, chunkSignaturePrefix)
		if !hasExtension || !ok || !isLowerHex(signature, 64) {
			return fmt.Errorf("decoding aws-chunked body: chunk header has no valid chunk-signature: %w", ErrMalformedPayload)
		}
		r.nextSig = signature
	case hasExtension:
		return fmt.Errorf("decoding aws-chunked body: unsigned chunk header has an extension: %w", ErrMalformedPayload)
	}

	if sizeText == "" || len(sizeText) > 16 {
		return fmt.Errorf("decoding aws-chunked body: chunk size is not 1 to 16 hex digits: %w", ErrMalformedPayload)
	}
	size, err := strconv.ParseInt(sizeText, 16, 64)
	if err != nil || size < 0 {
		return fmt.Errorf("decoding aws-chunked body: chunk size is not a hex number below 2^63: %w", ErrMalformedPayload)
	}
	if r.config.Mode.signedChunks() && size > int64(r.config.MaxChunkSize) {
		return fmt.Errorf("decoding aws-chunked body: signed chunk of %d bytes is larger than the limit of %d: %w",
			size, r.config.MaxChunkSize, ErrMalformedPayload)
	}
	if r.config.DecodedLength >= 0 && size > r.config.DecodedLength-r.decoded {
		return fmt.Errorf("decoding aws-chunked body: more than x-amz-decoded-content-length %d bytes: %w",
			r.config.DecodedLength, ErrMalformedPayload)
	}
	r.nextSize = size
	return nil
}

// finish checks everything after the final chunk's header: its signature,
// the trailer section, the trailer signature, the checksums, the decoded
// length and the end of the body.
func (r *ChunkedReader) finish() error {
	if err := r.checkChunkSignature(nil); err != nil {
		return err
	}

	trailerSignature, ended, err := r.readTrailerSection()
	if err != nil {
		return err
	}
	if err := r.checkTrailerSignature(trailerSignature); err != nil {
		return err
	}
	for _, c := range r.checksums {
		if err := c.check(r.trailerValue(c.name)); err != nil {
			return err
		}
	}
	if r.config.DecodedLength >= 0 && r.decoded != r.config.DecodedLength {
		return fmt.Errorf("decoding aws-chunked body: %d bytes, x-amz-decoded-content-length is %d: %w",
			r.decoded, r.config.DecodedLength, ErrIncompleteBody)
	}
	if !ended {
		if err := r.expectEnd(); err != nil {
			return err
		}
	}
	r.finished = true
	return nil
}

// readTrailerSection reads the lines after the final chunk header. It
// returns the x-amz-trailer-signature value, if any, and whether the body
// ended inside the section. Blank lines are skipped until every declared
// trailer, and in the signed-trailer mode the signature, has arrived. The
// next blank line or the end of the body ends the section.
func (r *ChunkedReader) readTrailerSection() (signature string, ended bool, err error) {
	size, lines := 0, 0
	for {
		line, err := r.readLine(false)
		if err == io.EOF {
			ended = true
			break
		}
		if err != nil {
			return "", false, err
		}
		if line == "" {
			if r.trailersComplete(signature) {
				break
			}
			continue
		}

		size += len(line)
		lines++
		if size > maxTrailerBytes || lines > maxTrailerLines {
			return "", false, fmt.Errorf("decoding aws-chunked body: trailer section is larger than %d bytes or %d lines: %w",
				maxTrailerBytes, maxTrailerLines, ErrMalformedPayload)
		}
		name, value, ok := parseTrailerLine(line)
		if !ok {
			return "", false, fmt.Errorf("decoding aws-chunked body: trailer line is not name:value: %w", ErrMalformedPayload)
		}

		if name == trailerSignatureName {
			if r.config.Mode != PayloadStreamingSignedTrailer || signature != "" || !isLowerHex(value, 64) {
				return "", false, fmt.Errorf("decoding aws-chunked body: unexpected or invalid %s: %w", trailerSignatureName, ErrMalformedPayload)
			}
			signature = value
			continue
		}
		if signature != "" {
			return "", false, fmt.Errorf("decoding aws-chunked body: trailer after %s: %w", trailerSignatureName, ErrMalformedPayload)
		}
		if !slices.Contains(r.config.Trailers, name) {
			return "", false, fmt.Errorf("decoding aws-chunked body: trailer %s is not declared in x-amz-trailer: %w", name, ErrMalformedPayload)
		}
		if r.trailerValue(name) != "" {
			return "", false, fmt.Errorf("decoding aws-chunked body: trailer %s repeated: %w", name, ErrMalformedPayload)
		}
		r.trailers = append(r.trailers, Trailer{Name: name, Value: value})
	}

	if len(r.trailers) != len(r.config.Trailers) {
		return "", false, fmt.Errorf("decoding aws-chunked body: %d of %d declared trailers arrived: %w",
			len(r.trailers), len(r.config.Trailers), ErrMalformedPayload)
	}
	if r.config.Mode == PayloadStreamingSignedTrailer && signature == "" {
		return "", false, fmt.Errorf("decoding aws-chunked body: missing %s: %w", trailerSignatureName, ErrMalformedPayload)
	}
	return signature, ended, nil
}

func (r *ChunkedReader) trailersComplete(signature string) bool {
	if len(r.trailers) != len(r.config.Trailers) {
		return false
	}
	return r.config.Mode != PayloadStreamingSignedTrailer || signature != ""
}

func (r *ChunkedReader) trailerValue(name string) string {
	for _, t := range r.trailers {
		if t.Name == name {
			return t.Value
		}
	}
	return ""
}

// parseTrailerLine splits "name:value", lower-cases the name and trims the
// value. Values must be visible ASCII, as base64 checksums are.
func parseTrailerLine(line string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(line, ":")
	name = strings.ToLower(strings.TrimSpace(name))
	value = strings.Trim(value, " \t")
	if !ok || !validHeaderName(name) || value == "" {
		return "", "", false
	}
	for i := 0; i < len(value); i++ {
		if value[i] < ' ' || value[i] > '~' {
			return "", "", false
		}
	}
	return name, value, true
}

// checkTrailerSignature checks x-amz-trailer-signature over the canonical
// trailers: "name:value\n" for each, in the order received.
func (r *ChunkedReader) checkTrailerSignature(signature string) error {
	if r.config.Mode != PayloadStreamingSignedTrailer || r.config.SkipSignatures {
		return nil
	}

	var canonical strings.Builder
	for _, t := range r.trailers {
		canonical.WriteString(t.Name)
		canonical.WriteByte(':')
		canonical.WriteString(t.Value)
		canonical.WriteByte('\n')
	}
	expected := signHex(r.config.SigningKey, trailerStringToSign(r.amzDate, r.scope, r.previous, sha256Hex([]byte(canonical.String()))))
	if !signatureEqual(expected, signature) {
		return fmt.Errorf("decoding aws-chunked body: trailer: %w", ErrSignatureMismatch)
	}
	r.previous = signature
	return nil
}

// expectEnd accepts a few stray CR and LF bytes and then requires the end
// of the body.
func (r *ChunkedReader) expectEnd() error {
	for range maxTrailingNewlines + 1 {
		c, err := r.body.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return bodyReadError("reading the end of the body", err)
		}
		if c != '\r' && c != '\n' {
			return fmt.Errorf("decoding aws-chunked body: data after the final chunk: %w", ErrMalformedPayload)
		}
	}
	return fmt.Errorf("decoding aws-chunked body: data after the final chunk: %w", ErrMalformedPayload)
}

// expectCRLF reads the CRLF that ends chunk data.
func (r *ChunkedReader) expectCRLF() error {
	var crlf [2]byte
	if _, err := io.ReadFull(r.body, crlf[:]); err != nil {
		return bodyReadError("reading the end of a chunk", err)
	}
	if crlf != [2]byte{'\r', '\n'} {
		return fmt.Errorf("decoding aws-chunked body: chunk data is not followed by CRLF: %w", ErrMalformedPayload)
	}
	return nil
}

// readLine reads one line without its terminator. Chunk headers must end in
// CRLF, but trailer lines may end in a bare LF. It returns io.EOF when the
// body ends before the line starts.
func (r *ChunkedReader) readLine(strictCRLF bool) (string, error) {
	line, err := r.body.ReadSlice('\n')
	switch {
	case err == io.EOF && len(line) == 0:
		return "", io.EOF
	case errors.Is(err, bufio.ErrBufferFull):
		return "", fmt.Errorf("decoding aws-chunked body: line longer than %d bytes: %w", maxLineLength, ErrMalformedPayload)
	case err != nil:
		return "", bodyReadError("reading a line", err)
	}

	line = line[:len(line)-1]
	if trimmed, ok := bytes.CutSuffix(line, []byte{'\r'}); ok {
		line = trimmed
	} else if strictCRLF {
		return "", fmt.Errorf("decoding aws-chunked body: chunk header does not end in CRLF: %w", ErrMalformedPayload)
	}
	return string(line), nil
}

// bodyReadError maps a read error of the underlying body. A body that ends
// early is ErrIncompleteBody. Other errors, such as a client that went away,
// are returned wrapped as they are.
func bodyReadError(step string, err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("decoding aws-chunked body: %s: body ended early: %w", step, ErrIncompleteBody)
	}
	return fmt.Errorf("decoding aws-chunked body: %s: %w", step, err)
}

// decodeBase64Checksum decodes a trailing checksum value.
func decodeBase64Checksum(value string) ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(value)
	return b, err == nil
}
