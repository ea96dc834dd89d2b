package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

const (
	// Algorithm is the only signing algorithm this package accepts. SigV4a
	// (AWS4-ECDSA-P256-SHA256) is rejected.
	Algorithm = "AWS4-HMAC-SHA256"

	// chunkAlgorithm and trailerAlgorithm open the strings to sign of
	// aws-chunked chunks and of the signed trailer.
	chunkAlgorithm   = "AWS4-HMAC-SHA256-PAYLOAD"
	trailerAlgorithm = "AWS4-HMAC-SHA256-TRAILER"

	// service is the only credential scope service this package accepts.
	service = "s3"

	// scopeTerminator ends every credential scope.
	scopeTerminator = "aws4_request"

	// TimeFormat is the layout of X-Amz-Date ("ISO 8601 basic format").
	TimeFormat = "20060102T150405Z"

	// dateFormat is the layout of the date in the credential scope.
	dateFormat = "20060102"

	// EmptySHA256 is the hex SHA-256 of an empty payload.
	EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	// MaxClockSkew is the largest difference between the signing time and
	// the verifier's clock that S3 accepts.
	MaxClockSkew = 15 * time.Minute

	// MaxPresignExpiry is the largest X-Amz-Expires that S3 accepts: 7 days.
	MaxPresignExpiry = 7 * 24 * time.Hour
)

// SigningKey is the key derived from a secret access key for one date,
// region and service. Anyone who holds it can sign requests for that scope
// until the day ends, so it is as sensitive as the secret for that day.
// String and GoString hide it, so that printing a Verification with the fmt
// verbs %v, %+v or %#v does not leak it.
type SigningKey []byte

// String returns a fixed placeholder instead of the key.
func (SigningKey) String() string { return "[redacted]" }

// GoString returns a fixed placeholder instead of the key.
func (SigningKey) GoString() string { return "sigv4.SigningKey{redacted}" }

// deriveSigningKey computes the HMAC chain of the SigV4 key derivation:
// "AWS4"+secret, then date (YYYYMMDD), region, "s3" and "aws4_request".
func deriveSigningKey(secret, date, region string) SigningKey {
	key := hmacSHA256([]byte("AWS4"+secret), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	return hmacSHA256(key, scopeTerminator)
}

func hmacSHA256(key []byte, data string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(data))
	return mac.Sum(nil)
}

// signHex returns the hex HMAC-SHA256 of stringToSign under key: a
// signature.
func signHex(key SigningKey, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(key, stringToSign))
}

// signatureEqual compares two hex signatures in constant time.
func signatureEqual(a, b string) bool {
	return hmac.Equal([]byte(a), []byte(b))
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// stringToSign builds the string to sign of a request from its canonical
// request. scope is the credential scope without the access key.
func stringToSign(amzDate, scope, canonical string) string {
	return joinLines(Algorithm, amzDate, scope, sha256Hex([]byte(canonical)))
}

// chunkStringToSign builds the string to sign of one aws-chunked chunk. It
// chains the chunk to the previous signature, the seed signature for the
// first chunk, and covers the hex SHA-256 of the chunk's data.
func chunkStringToSign(amzDate, scope, previous, dataSHA256 string) string {
	return joinLines(chunkAlgorithm, amzDate, scope, previous, EmptySHA256, dataSHA256)
}

// trailerStringToSign builds the string to sign of the trailing headers. It
// chains them to the signature of the final zero-length chunk and covers the
// hex SHA-256 of the canonical trailers.
func trailerStringToSign(amzDate, scope, previous, trailersSHA256 string) string {
	return joinLines(trailerAlgorithm, amzDate, scope, previous, trailersSHA256)
}

func joinLines(lines ...string) string {
	return strings.Join(lines, "\n")
}
