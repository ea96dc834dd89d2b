package sigv4

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func TestUnsignedTrailerEncoderRoundTrip(t *testing.T) {
	const chunkSize = 1000
	tests := []struct {
		name     string
		size     int
		trailers []string
	}{
		{name: "empty", size: 0},
		{name: "empty with checksum", size: 0, trailers: []string{"x-amz-checksum-crc32"}},
		{name: "one byte", size: 1, trailers: []string{"x-amz-checksum-sha256"}},
		{name: "one chunk less a byte", size: chunkSize - 1},
		{name: "one chunk", size: chunkSize, trailers: []string{"x-amz-checksum-crc64nvme"}},
		{name: "one chunk and a byte", size: chunkSize + 1},
		{name: "several chunks", size: 3*chunkSize + 5, trailers: []string{"x-amz-checksum-crc32c", "x-amz-checksum-sha1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{'x'}, tt.size)
			var trailers []Trailer
			for _, name := range tt.trailers {
				trailers = append(trailers, Trailer{Name: name, Value: checksumOf(name, data)})
			}

			encoded := encodeUnsignedTrailer(t, data, chunkSize, trailers)
			wantLength, err := UnsignedTrailerLength(int64(tt.size), chunkSize, tt.trailers)
			if err != nil || int64(len(encoded)) != wantLength {
				t.Errorf("UnsignedTrailerLength() = %d, %v; want the encoded length %d", wantLength, err, len(encoded))
			}

			decoded, gotTrailers, err := decodeChunked(t, string(encoded), unsignedTrailerConfig(int64(tt.size), tt.trailers...))
			if err != nil || !bytes.Equal(decoded, data) {
				t.Fatalf("decoding = %d bytes, %v; want %d bytes, nil", len(decoded), err, tt.size)
			}
			if diff := cmp.Diff(trailers, gotTrailers); diff != "" {
				t.Errorf("Trailers() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnsignedTrailerEncoderFormat(t *testing.T) {
	encoded := encodeUnsignedTrailer(t, []byte("abcdefghij"), 4, []Trailer{{Name: "x-amz-checksum-crc32", Value: "AAAAAA=="}})
	want := "4\r\nabcd\r\n4\r\nefgh\r\n2\r\nij\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
	if string(encoded) != want {
		t.Errorf("encoded = %q, want %q", encoded, want)
	}

	encoded = encodeUnsignedTrailer(t, nil, 4, nil)
	if string(encoded) != "0\r\n\r\n" {
		t.Errorf("encoded empty body = %q, want %q", encoded, "0\r\n\r\n")
	}
}

func TestUnsignedTrailerEncoderReadSizes(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 500)
	want := encodeUnsignedTrailer(t, data, 777, nil)
	if err := iotest.TestReader(NewUnsignedTrailerEncoder(iotest.HalfReader(bytes.NewReader(data)), 777, nil), want); err != nil {
		t.Errorf("iotest.TestReader() error = %v", err)
	}
}

func TestUnsignedTrailerEncoderPassesErrors(t *testing.T) {
	failure := errors.New("source failed")
	encoder := NewUnsignedTrailerEncoder(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(failure)), 2, func() []Trailer {
		t.Errorf("trailers called after a failed source")
		return nil
	})
	_, err := io.ReadAll(encoder)
	if !errors.Is(err, failure) {
		t.Errorf("ReadAll() error = %v, want %v", err, failure)
	}
}

func TestUnsignedTrailerLengthRejectsUnknownTrailer(t *testing.T) {
	_, err := UnsignedTrailerLength(10, 0, []string{"x-amz-meta-note"})
	wantErrorIs(t, "UnsignedTrailerLength()", err, ErrMalformedPayload)
	if _, err := UnsignedTrailerLength(-1, 0, nil); err == nil {
		t.Errorf("UnsignedTrailerLength(-1) error = nil, want an error")
	}
}
