package sigv4

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func decodeChunked(t *testing.T, body string, config ChunkedConfig) ([]byte, []Trailer, error) {
	t.Helper()
	r, err := NewChunkedReader(strings.NewReader(body), config)
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(r)
	return data, r.Trailers(), err
}

func unsignedTrailerConfig(decodedLength int64, trailers ...string) ChunkedConfig {
	return ChunkedConfig{Mode: PayloadStreamingUnsignedTrailer, DecodedLength: decodedLength, Trailers: trailers}
}

var crcOfABCDEFGH = crc32Base64([]byte("abcdefgh"))

func TestChunkedReaderAcceptsClientForms(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		config       ChunkedConfig
		wantTrailers []Trailer
	}{
		{
			name:         "AWS form",
			body:         "8\r\nabcdefgh\r\n0\r\nx-amz-checksum-crc32:" + crcOfABCDEFGH + "\r\n\r\n",
			config:       unsignedTrailerConfig(8, "x-amz-checksum-crc32"),
			wantTrailers: []Trailer{{Name: "x-amz-checksum-crc32", Value: crcOfABCDEFGH}},
		},
		{
			name:         "minio-go form with LF trailer line and extra CRLF",
			body:         "8\r\nabcdefgh\r\n0\r\nx-amz-checksum-crc32:" + crcOfABCDEFGH + "\n\r\n\r\n",
			config:       unsignedTrailerConfig(8, "x-amz-checksum-crc32"),
			wantTrailers: []Trailer{{Name: "x-amz-checksum-crc32", Value: crcOfABCDEFGH}},
		},
		{
			name:         "trailer name in mixed case and spaces around the value",
			body:         "8\r\nabcdefgh\r\n0\r\nX-Amz-Checksum-CRC32: " + crcOfABCDEFGH + " \r\n\r\n",
			config:       unsignedTrailerConfig(8, "x-amz-checksum-crc32"),
			wantTrailers: []Trailer{{Name: "x-amz-checksum-crc32", Value: crcOfABCDEFGH}},
		},
		{
			name:   "JavaScript SDK form ending after the final chunk",
			body:   "3\r\nabc\r\n5\r\ndefgh\r\n0\r\n",
			config: unsignedTrailerConfig(8),
		},
		{
			name:   "no trailers",
			body:   "8\r\nabcdefgh\r\n0\r\n\r\n",
			config: unsignedTrailerConfig(-1),
		},
		{
			name:   "upper-case hex size",
			body:   "A\r\nabcdefghij\r\n0\r\n\r\n",
			config: unsignedTrailerConfig(10),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, trailers, err := decodeChunked(t, tt.body, tt.config)
			if err != nil {
				t.Fatalf("ReadAll() error = %v, want nil", err)
			}
			want := "abcdefgh"
			if tt.config.DecodedLength == 10 {
				want = "abcdefghij"
			}
			if string(data) != want {
				t.Errorf("ReadAll() = %q, want %q", data, want)
			}
			if diff := cmp.Diff(tt.wantTrailers, trailers); diff != "" {
				t.Errorf("Trailers() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChunkedReaderRejects(t *testing.T) {
	const trailer = "x-amz-checksum-crc32"
	good := "8\r\nabcdefgh\r\n0\r\n" + trailer + ":" + crcOfABCDEFGH + "\r\n\r\n"
	tests := []struct {
		name    string
		body    string
		config  ChunkedConfig
		wantErr error
	}{
		{name: "empty body", body: "", config: unsignedTrailerConfig(8, trailer), wantErr: ErrIncompleteBody},
		{name: "cut in chunk data", body: good[:8], config: unsignedTrailerConfig(8, trailer), wantErr: ErrIncompleteBody},
		{name: "cut before the final chunk", body: "8\r\nabcdefgh\r\n", config: unsignedTrailerConfig(8, trailer), wantErr: ErrIncompleteBody},
		{name: "cut in a chunk header", body: "8\r\nabcdefgh\r\n0", config: unsignedTrailerConfig(8, trailer), wantErr: ErrIncompleteBody},
		{name: "bare LF after the size", body: strings.Replace(good, "8\r\n", "8\n", 1), config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "no CRLF after data", body: strings.Replace(good, "abcdefgh\r\n", "abcdefghXY", 1), config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "size not hex", body: strings.Replace(good, "8\r\n", "8g\r\n", 1), config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "size empty", body: "\r\n", config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "size with 17 digits", body: "00000000000000008\r\nabcdefgh\r\n0\r\n\r\n", config: unsignedTrailerConfig(8), wantErr: ErrMalformedPayload},
		{name: "negative size", body: "-8\r\nabcdefgh\r\n0\r\n\r\n", config: unsignedTrailerConfig(8), wantErr: ErrMalformedPayload},
		{name: "signed chunk over the limit", body: "8;chunk-signature=" + strings.Repeat("a", 64) + "\r\nabcdefgh\r\n", config: ChunkedConfig{Mode: PayloadStreamingSigned, SkipSignatures: true, DecodedLength: -1, MaxChunkSize: 7}, wantErr: ErrMalformedPayload},
		{name: "chunk larger than the declared length", body: "ff\r\n", config: unsignedTrailerConfig(8), wantErr: ErrMalformedPayload},
		{name: "huge declared chunk", body: "ffffffffffffffff\r\n", config: unsignedTrailerConfig(-1), wantErr: ErrMalformedPayload},
		{name: "extension on an unsigned chunk", body: strings.Replace(good, "8\r\n", "8;chunk-signature="+strings.Repeat("a", 64)+"\r\n", 1), config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "header line too long", body: strings.Repeat("0", maxLineLength+10) + "8\r\n", config: unsignedTrailerConfig(8), wantErr: ErrMalformedPayload},
		{name: "more bytes than declared", body: good, config: unsignedTrailerConfig(7, trailer), wantErr: ErrMalformedPayload},
		{name: "fewer bytes than declared", body: good, config: unsignedTrailerConfig(9, trailer), wantErr: ErrIncompleteBody},
		{name: "declared trailer missing", body: "8\r\nabcdefgh\r\n0\r\n\r\n", config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "trailer not declared", body: good, config: unsignedTrailerConfig(8), wantErr: ErrMalformedPayload},
		{name: "other trailer than declared", body: strings.Replace(good, trailer+":", "x-amz-checksum-crc32c:", 1), config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "trailer repeated", body: strings.Replace(good, "\r\n\r\n", "\r\n"+trailer+":"+crcOfABCDEFGH+"\r\n\r\n", 1), config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "trailer without colon", body: strings.Replace(good, trailer+":", trailer+" ", 1), config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "trailer with empty value", body: "8\r\nabcdefgh\r\n0\r\n" + trailer + ":\r\n\r\n", config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "trailer signature on an unsigned body", body: strings.Replace(good, "\r\n\r\n", "\r\nx-amz-trailer-signature:"+strings.Repeat("a", 64)+"\r\n\r\n", 1), config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "checksum not base64", body: strings.Replace(good, crcOfABCDEFGH, "@@@@@@==", 1), config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "checksum of the wrong length", body: strings.Replace(good, crcOfABCDEFGH, "AAAAAAAA", 1), config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "checksum mismatch", body: strings.Replace(good, "abcdefgh", "abcdefgX", 1), config: unsignedTrailerConfig(8, trailer), wantErr: ErrBadDigest},
		{name: "data after the end", body: good + "GET / HTTP/1.1\r\n", config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "many newlines after the end", body: good + strings.Repeat("\r\n", 10), config: unsignedTrailerConfig(8, trailer), wantErr: ErrMalformedPayload},
		{name: "trailers over the size limit", body: "0\r\n" + strings.Repeat(trailer+":"+crcOfABCDEFGH+"\r\n", maxTrailerLines+1) + "\r\n", config: unsignedTrailerConfig(0, trailer), wantErr: ErrMalformedPayload},
		{name: "unsupported checksum declared", body: good, config: unsignedTrailerConfig(8, "x-amz-checksum-md5"), wantErr: ErrMalformedPayload},
		{name: "checksum declared twice", body: good, config: unsignedTrailerConfig(8, trailer, trailer), wantErr: ErrMalformedPayload},
		{name: "trailer declared without a trailer mode", body: good, config: ChunkedConfig{Mode: PayloadStreamingSigned, SkipSignatures: true, DecodedLength: -1, Trailers: []string{trailer}}, wantErr: ErrMalformedPayload},
		{name: "not an aws-chunked mode", body: good, config: ChunkedConfig{Mode: PayloadUnsigned}, wantErr: ErrMalformedPayload},
		{name: "signed chunk without signature", body: "8\r\nabcdefgh\r\n0\r\n\r\n", config: ChunkedConfig{Mode: PayloadStreamingSigned, SkipSignatures: true, DecodedLength: -1}, wantErr: ErrMalformedPayload},
		{name: "signed chunk with a short signature", body: "8;chunk-signature=abc\r\nabcdefgh\r\n", config: ChunkedConfig{Mode: PayloadStreamingSigned, SkipSignatures: true, DecodedLength: -1}, wantErr: ErrMalformedPayload},
		{name: "signed chunk with another extension", body: "8;x=" + strings.Repeat("a", 64) + "\r\nabcdefgh\r\n", config: ChunkedConfig{Mode: PayloadStreamingSigned, SkipSignatures: true, DecodedLength: -1}, wantErr: ErrMalformedPayload},
		{name: "signed trailer body without trailer signature", body: "8;chunk-signature=" + strings.Repeat("a", 64) + "\r\nabcdefgh\r\n0;chunk-signature=" + strings.Repeat("b", 64) + "\r\n" + trailer + ":" + crcOfABCDEFGH + "\r\n\r\n",
			config: ChunkedConfig{Mode: PayloadStreamingSignedTrailer, SkipSignatures: true, DecodedLength: 8, Trailers: []string{trailer}}, wantErr: ErrMalformedPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, _, err := decodeChunked(t, tt.body, tt.config)
			wantErrorIs(t, "decoding", err, tt.wantErr)
			if len(data) > 0 && errors.Is(err, ErrBadDigest) {
				t.Errorf("bytes returned before %v = %q, want none", err, data)
			}
		})
	}
}

func TestChunkedReaderRequiresSigningInputs(t *testing.T) {
	_, err := NewChunkedReader(strings.NewReader(""), ChunkedConfig{Mode: PayloadStreamingSigned, DecodedLength: -1})
	if err == nil {
		t.Fatalf("NewChunkedReader() for signed chunks without a signing key error = nil, want an error")
	}
}

// TestChunkedReaderHoldsBackLastChunk checks that the bytes of the last
// data chunk are not returned when what follows them fails.
func TestChunkedReaderHoldsBackLastChunk(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 3000) // 30000 bytes
	encode := func(checksum string) string {
		var b strings.Builder
		for i := 0; i < len(data); i += 8192 {
			chunk := data[i:min(i+8192, len(data))]
			b.WriteString(strconv.FormatInt(int64(len(chunk)), 16) + "\r\n")
			b.Write(chunk)
			b.WriteString("\r\n")
		}
		b.WriteString("0\r\nx-amz-checksum-sha256:" + checksum + "\r\n\r\n")
		return b.String()
	}
	good := sha256Base64(data)

	got, _, err := decodeChunked(t, encode(good), unsignedTrailerConfig(int64(len(data)), "x-amz-checksum-sha256"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("decoding = %d bytes, %v; want %d bytes, nil", len(got), err, len(data))
	}

	got, _, err = decodeChunked(t, encode(sha256Base64([]byte("other"))), unsignedTrailerConfig(int64(len(data)), "x-amz-checksum-sha256"))
	wantErrorIs(t, "decoding with a wrong checksum", err, ErrBadDigest)
	if len(got) != 3*8192 {
		t.Errorf("bytes returned before the error = %d, want %d (all chunks but the last)", len(got), 3*8192)
	}
}

// TestChunkedReaderStreamsLargeUnsignedChunk decodes one unsigned chunk far
// above MaxChunkSize, as aws-sdk-go-v2 sends a stream of known length, and
// checks that its last piece is held back when the checksum fails.
func TestChunkedReaderStreamsLargeUnsignedChunk(t *testing.T) {
	data := bytes.Repeat([]byte("large chunk "), 50_000) // 600,000 bytes
	encode := func(checksum string) string {
		return strconv.FormatInt(int64(len(data)), 16) + "\r\n" + string(data) + "\r\n0\r\nx-amz-checksum-crc32c:" + checksum + "\r\n\r\n"
	}
	config := unsignedTrailerConfig(int64(len(data)), "x-amz-checksum-crc32c")
	config.MaxChunkSize = 1024

	got, _, err := decodeChunked(t, encode(checksumOf("x-amz-checksum-crc32c", data)), config)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("decoding = %d bytes, %v; want %d bytes, nil", len(got), err, len(data))
	}

	got, _, err = decodeChunked(t, encode(checksumOf("x-amz-checksum-crc32c", data[1:])), config)
	wantErrorIs(t, "decoding with a wrong checksum", err, ErrBadDigest)
	if want := len(data) - len(data)%unsignedPieceSize; len(got) != want {
		t.Errorf("bytes returned before the error = %d, want %d (all but the last piece)", len(got), want)
	}
}

func TestChunkedReaderPassesBodyErrors(t *testing.T) {
	gone := errors.New("client went away")
	body := io.MultiReader(strings.NewReader("8\r\nabcd"), iotest.ErrReader(gone))
	r, err := NewChunkedReader(body, unsignedTrailerConfig(8))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	if !errors.Is(err, gone) {
		t.Errorf("ReadAll() error = %v, want %v", err, gone)
	}
	if _, again := r.Read(make([]byte, 1)); !errors.Is(again, gone) {
		t.Errorf("Read() after the error = %v, want the same error again", again)
	}
}

func TestChunkedReaderTrailersOnlyAfterEOF(t *testing.T) {
	body := "8\r\nabcdefgh\r\n0\r\nx-amz-checksum-crc32:" + crcOfABCDEFGH + "\r\n\r\n"
	r, err := NewChunkedReader(strings.NewReader(body), unsignedTrailerConfig(8, "x-amz-checksum-crc32"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	if got := r.Trailers(); got != nil {
		t.Errorf("Trailers() before EOF = %v, want nil", got)
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	if got := r.Trailers(); len(got) != 1 {
		t.Errorf("Trailers() after EOF = %v, want one trailer", got)
	}
}

// TestChunkedReaderReadSizes reads a signed body through testing/iotest
// with every read size, from one byte up.
func TestChunkedReaderReadSizes(t *testing.T) {
	r := readServerRequest(t, documentedChunkedHead, documentedChunkedBody(documentedChunkSignatures, ""))
	v, err := exampleVerifier().Verify(r, exampleTime)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := v.NewPayloadReader(r.Body, r.Header)
	if err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(payload, bytes.Repeat([]byte{'a'}, 66560)); err != nil {
		t.Errorf("iotest.TestReader() error = %v", err)
	}

	body := documentedChunkedBody(documentedChunkSignatures, "")
	one, err := NewChunkedReader(iotest.OneByteReader(bytes.NewReader(body)), ChunkedConfig{
		Mode: PayloadStreamingSigned, DecodedLength: 66560,
		SigningKey: v.SigningKey, SeedSignature: v.Signature, SigningTime: v.SigningTime, Region: v.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(one)
	if err != nil || len(data) != 66560 {
		t.Errorf("ReadAll() over a one-byte reader = %d bytes, %v; want 66560, nil", len(data), err)
	}
}

func TestUnverifiedPayloadReaderSkipsSignatures(t *testing.T) {
	body := documentedChunkedBody([3]string{strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64)}, "")
	r := readServerRequest(t, documentedChunkedHead, body)

	payload, err := NewUnverifiedPayloadReader(r.Body, r.Header)
	if err != nil {
		t.Fatalf("NewUnverifiedPayloadReader() error = %v", err)
	}
	data, err := io.ReadAll(payload)
	if err != nil || len(data) != 66560 {
		t.Errorf("ReadAll() = %d bytes, %v; want 66560, nil", len(data), err)
	}

	// The decoded length is still enforced.
	r = readServerRequest(t, strings.Replace(documentedChunkedHead, "66560", "66561", 1), body)
	payload, err = NewUnverifiedPayloadReader(r.Body, r.Header)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(payload)
	wantErrorIs(t, "ReadAll() with a wrong decoded length", err, ErrIncompleteBody)
}

func TestPayloadReaderForPlainModes(t *testing.T) {
	tests := []struct {
		name    string
		header  map[string]string
		body    string
		wantErr error
	}{
		{name: "no header is unsigned", body: "anything"},
		{name: "UNSIGNED-PAYLOAD", header: map[string]string{"X-Amz-Content-Sha256": UnsignedPayload}, body: "anything"},
		{name: "hex hash matches", header: map[string]string{"X-Amz-Content-Sha256": sha256HexOf([]byte("body"))}, body: "body"},
		{name: "upper-case hex hash matches", header: map[string]string{"X-Amz-Content-Sha256": strings.ToUpper(sha256HexOf([]byte("body")))}, body: "body"},
		{name: "hex hash differs", header: map[string]string{"X-Amz-Content-Sha256": sha256HexOf([]byte("body"))}, body: "bodY", wantErr: ErrContentSHA256Mismatch},
		{name: "decoded length not a number", header: map[string]string{"X-Amz-Content-Sha256": StreamingUnsignedPayloadTrailer, "X-Amz-Decoded-Content-Length": "8x"}, body: "0\r\n\r\n", wantErr: ErrMalformedPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := make(map[string][]string)
			for k, v := range tt.header {
				header[k] = []string{v}
			}
			payload, err := NewUnverifiedPayloadReader(strings.NewReader(tt.body), header)
			var data []byte
			if err == nil {
				data, err = io.ReadAll(payload)
			}
			if tt.wantErr != nil {
				wantErrorIs(t, "reading payload", err, tt.wantErr)
				return
			}
			if err != nil || string(data) != tt.body {
				t.Errorf("reading payload = %q, %v; want %q, nil", data, err, tt.body)
			}
		})
	}
}

func TestChunkedReaderWrongSigningTimeFails(t *testing.T) {
	r := readServerRequest(t, documentedChunkedHead, documentedChunkedBody(documentedChunkSignatures, ""))
	v, err := exampleVerifier().Verify(r, exampleTime)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := NewChunkedReader(r.Body, ChunkedConfig{
		Mode: PayloadStreamingSigned, DecodedLength: -1,
		SigningKey: v.SigningKey, SeedSignature: v.Signature, SigningTime: v.SigningTime.Add(time.Second), Region: v.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(reader)
	wantErrorIs(t, "ReadAll() with another signing time", err, ErrSignatureMismatch)
}
