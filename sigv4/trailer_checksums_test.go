package sigv4

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/minio/crc64nvme"
)

func sha256Base64(data []byte) string {
	sum := sha256.Sum256(data)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// checksumOf computes a trailer value independently of checksum.go.
func checksumOf(name string, data []byte) string {
	var sum []byte
	switch name {
	case "x-amz-checksum-crc32":
		sum = binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	case "x-amz-checksum-crc32c":
		sum = binary.BigEndian.AppendUint32(nil, crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	case "x-amz-checksum-crc64nvme":
		sum = binary.BigEndian.AppendUint64(nil, crc64nvme.Checksum(data))
	case "x-amz-checksum-sha1":
		s := sha1.Sum(data)
		sum = s[:]
	case "x-amz-checksum-sha256":
		s := sha256.Sum256(data)
		sum = s[:]
	}
	return base64.StdEncoding.EncodeToString(sum)
}

var checksumNames = []string{
	"x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme",
	"x-amz-checksum-sha1", "x-amz-checksum-sha256",
}

func TestCRC64NVMECheckValue(t *testing.T) {
	// The check value of CRC-64/NVME is the CRC of "123456789".
	const want uint64 = 0xae8b14860a799888
	h := checksumAlgorithms["x-amz-checksum-crc64nvme"]()
	h.Write([]byte("123456789"))
	if got := binary.BigEndian.Uint64(h.Sum(nil)); got != want {
		t.Errorf("CRC-64/NVME(123456789) = %#x, want %#x", got, want)
	}
}

func TestTrailingChecksumsVerified(t *testing.T) {
	data := make([]byte, 200_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}

	for _, name := range checksumNames {
		t.Run(name, func(t *testing.T) {
			body := encodeUnsignedTrailer(t, data, 64<<10, []Trailer{{Name: name, Value: checksumOf(name, data)}})
			got, trailers, err := decodeChunked(t, string(body), unsignedTrailerConfig(int64(len(data)), name))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("decoding = %d bytes, %v; want %d bytes, nil", len(got), err, len(data))
			}
			if len(trailers) != 1 || trailers[0].Value != checksumOf(name, data) {
				t.Errorf("Trailers() = %v, want the %s of the data", trailers, name)
			}

			wrong := encodeUnsignedTrailer(t, data, 64<<10, []Trailer{{Name: name, Value: checksumOf(name, data[1:])}})
			got, _, err = decodeChunked(t, string(wrong), unsignedTrailerConfig(int64(len(data)), name))
			wantErrorIs(t, "decoding with a wrong checksum", err, ErrBadDigest)
			if len(got) >= len(data) {
				t.Errorf("bytes returned before the error = %d, want fewer than %d", len(got), len(data))
			}
		})
	}
}

func encodeUnsignedTrailer(t testing.TB, data []byte, chunkSize int, trailers []Trailer) []byte {
	t.Helper()
	encoded, err := io.ReadAll(NewUnsignedTrailerEncoder(bytes.NewReader(data), chunkSize, func() []Trailer { return trailers }))
	if err != nil {
		t.Fatalf("encoding error = %v", err)
	}
	return encoded
}
