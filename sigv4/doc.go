// Package sigv4 verifies AWS Signature Version 4 on incoming S3 requests,
// decodes aws-chunked upload bodies, and re-signs outgoing S3 requests.
//
// The package does not depend on the agent's servers or batching. Verify and Sign take the
// time as an argument. A Verifier and a Signer keep no per-request state, so
// one of each can serve all requests concurrently; the aws-sdk-go-v2 signer
// inside a Signer caches derived keys behind its own lock.
//
// # Verifying requests
//
// Verifier.Verify checks a request as Go's HTTP server passes it to a
// handler, signed in one of two ways:
//
//   - an Authorization header "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
//     Signature=...", whose signing time is X-Amz-Date (or Date) and must be
//     within MaxClockSkew (15 minutes) of the clock value passed in;
//   - presigned query parameters X-Amz-Algorithm, X-Amz-Credential,
//     X-Amz-Date, X-Amz-Expires (1 to 604800 seconds), X-Amz-SignedHeaders
//     and X-Amz-Signature, valid until X-Amz-Date plus X-Amz-Expires. The
//     payload is UNSIGNED-PAYLOAD unless X-Amz-Content-Sha256 is given.
//
// The canonical request follows S3's rules rather than those of other AWS
// services. The path is read from r.URL.EscapedPath() as received, decoded
// and escaped exactly once (see CanonicalURI), and never cleaned. The query
// is decoded with '+' as a space and sorted after escaping (see
// CanonicalQuery). The host is r.Host as received, port included.
// Transfer-Encoding, which Go's server moves out of r.Header, is rebuilt from
// r.TransferEncoding when it is signed. Every x-amz-* header of the request
// must be signed, as S3 requires.
//
// The secret of each access key comes from a CredentialStore. A successful
// Verify returns a Verification with the access key, region, signing time,
// the payload mode, and the seed signature and signing key that chunk
// signatures chain from.
//
// # Payloads
//
// Verification.NewPayloadReader wraps the request body and checks the
// payload as it streams, without ever holding the whole body:
//
//   - a hex x-amz-content-sha256 is checked at the end (SHA256Reader);
//   - UNSIGNED-PAYLOAD is passed through;
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD, its -TRAILER form and
//     STREAMING-UNSIGNED-PAYLOAD-TRAILER are decoded by a ChunkedReader,
//     which checks each chunk signature, the trailer signature, the trailing
//     checksums (x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1, -sha256)
//     and x-amz-decoded-content-length.
//
// A reader returns its error before the last byte of a payload that fails,
// so a caller copying the body to an upstream can abort before the upload is
// complete. NewUnverifiedPayloadReader decodes the same formats for a caller
// that does not check signatures.
//
// Limits of the aws-chunked decoder: chunks of at most DefaultMaxChunkSize
// (16 MiB) unless configured, and one such chunk buffered per upload; chunk
// header and trailer lines of at most 4 KiB; a trailer section of at most
// 16 KiB and 64 lines. An Authorization header may be at most 16 KiB.
//
// # Re-signing
//
// Signer.Sign re-signs an outgoing request for the upstream with the
// aws-sdk-go-v2 SigV4 signer: it removes the client's authentication headers
// and presigned parameters, fixes the path to its canonical form so that it
// is escaped once, and signs every forwarded header except hop-by-hop ones,
// so every x-amz-* header (checksums, SSE-C keys, metadata) is covered.
// Signed aws-chunked uploads cannot be forwarded as they are, because their
// chunk signatures chain from the client's signature. The caller decodes them
// and forwards the bytes either as UNSIGNED-PAYLOAD or re-framed by an
// UnsignedTrailerEncoder as STREAMING-UNSIGNED-PAYLOAD-TRAILER.
//
// # Not supported
//
// SigV2, SigV4a (AWS4-ECDSA-P256-SHA256 and its STREAMING-AWS4-ECDSA-*
// payloads), event-stream payloads (STREAMING-AWS4-HMAC-SHA256-EVENTS) and
// S3 Express credentials (service s3express) fail with ErrMalformed. Browser
// POST policy uploads carry their signature in the form body, which Verify
// does not read, so they fail with ErrMissingAuth.
//
// # Errors
//
// Errors wrap one sentinel that callers branch on with errors.Is. The
// comment on each sentinel names the S3 error code it corresponds to. Error
// text never contains a secret, a signing key, a signature or a copy of a
// request header.
package sigv4
