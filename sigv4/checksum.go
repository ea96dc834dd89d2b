package sigv4

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
)

// Trailing checksums are the base64 of the big-endian digest, as in the
// x-amz-checksum-* headers (Amazon S3 user guide, "Checking object
// integrity").

// crc64NVMEPolynomial is the CRC-64/NVME polynomial 0xAD93D23594C93659 in the
// bit-reversed form that hash/crc64 takes. hash/crc64 starts from all ones
// and inverts the result, as CRC-64/NVME does.
const crc64NVMEPolynomial = 0x9a6c9329ac4bc9b5

// crc64NVMETable is computed once and only read afterwards.
var crc64NVMETable = crc64.MakeTable(crc64NVMEPolynomial)

// checksumAlgorithms maps each supported trailer name to its digest
// constructor.
var checksumAlgorithms = map[string]func() hash.Hash{
	"x-amz-checksum-crc32":     func() hash.Hash { return crc32.NewIEEE() },
	"x-amz-checksum-crc32c":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"x-amz-checksum-crc64nvme": func() hash.Hash { return crc64.New(crc64NVMETable) },
	"x-amz-checksum-sha1":      sha1.New,
	"x-amz-checksum-sha256":    sha256.New,
}

// checksumValueLength returns the length of the base64 value of a checksum
// trailer, or false for a name that is not a supported checksum.
func checksumValueLength(name string) (int, bool) {
	newHash, ok := checksumAlgorithms[name]
	if !ok {
		return 0, false
	}
	return base64.StdEncoding.EncodedLen(newHash().Size()), true
}

// trailerChecksum computes one declared trailing checksum over the decoded
// bytes.
type trailerChecksum struct {
	name string
	hash hash.Hash
}

func newTrailerChecksum(name string) (*trailerChecksum, error) {
	newHash, ok := checksumAlgorithms[name]
	if !ok {
		return nil, fmt.Errorf("decoding aws-chunked body: x-amz-trailer %q is not a supported checksum: %w", name, ErrMalformedPayload)
	}
	return &trailerChecksum{name: name, hash: newHash()}, nil
}

// check compares the received base64 value with the computed digest.
func (c *trailerChecksum) check(value string) error {
	want, ok := decodeBase64Checksum(value)
	if !ok || len(want) != c.hash.Size() {
		return fmt.Errorf("decoding aws-chunked body: %s is not a base64 digest of %d bytes: %w", c.name, c.hash.Size(), ErrMalformedPayload)
	}
	if !bytes.Equal(c.hash.Sum(nil), want) {
		return fmt.Errorf("decoding aws-chunked body: %s: %w", c.name, ErrBadDigest)
	}
	return nil
}
