package sigv4

import "errors"

// Sentinel errors that callers branch on with errors.Is. Every error this
// package returns wraps at most one of them. The comment on each names the S3
// error code and HTTP status that S3 itself returns for the condition, so that
// one place in the caller can map them to the wire.
//
// Error text names the step that failed and, where useful, a bounded and
// already validated value such as a region or a date. It never contains a
// secret, a signing key, a signature or a copy of a request header.
var (
	// ErrMissingAuth reports a request with neither an Authorization header
	// nor presigned query parameters (S3: 403 AccessDenied).
	ErrMissingAuth = errors.New("request is not signed")

	// ErrMalformed reports an Authorization header, credential scope or
	// presigned query parameter that does not follow the SigV4 grammar, or a
	// request that combines both forms of authentication (S3: 400
	// AuthorizationHeaderMalformed or AuthorizationQueryParametersError).
	ErrMalformed = errors.New("malformed SigV4 authorization")

	// ErrInvalidAccessKey reports an access key that the credential store does
	// not know (S3: 403 InvalidAccessKeyId).
	ErrInvalidAccessKey = errors.New("access key is not known")

	// ErrSignatureMismatch reports a request, chunk or trailer signature that
	// differs from the one computed with the stored secret (S3: 403
	// SignatureDoesNotMatch).
	ErrSignatureMismatch = errors.New("signature does not match")

	// ErrRequestTimeTooSkewed reports a signing time more than MaxClockSkew
	// away from the verifier's clock (S3: 403 RequestTimeTooSkewed).
	ErrRequestTimeTooSkewed = errors.New("request time too skewed")

	// ErrExpired reports a presigned request used after X-Amz-Date plus
	// X-Amz-Expires (S3: 403 AccessDenied, "Request has expired").
	ErrExpired = errors.New("presigned request has expired")

	// ErrHeadersNotSigned reports an x-amz-* request header that the
	// signature does not cover (S3: 403 AccessDenied, "There were headers
	// present in the request which were not signed"). Accepting such a header
	// would let anyone on the path add, for example, x-amz-acl to a request
	// that the agent then re-signs with its own credentials.
	ErrHeadersNotSigned = errors.New("request has x-amz-* headers that are not signed")

	// ErrContentSHA256Mismatch reports a payload whose SHA-256 differs from
	// the hex x-amz-content-sha256 value (S3: 400 XAmzContentSHA256Mismatch).
	ErrContentSHA256Mismatch = errors.New("payload does not match x-amz-content-sha256")

	// ErrBadDigest reports a payload whose trailing x-amz-checksum-* value
	// does not match the decoded bytes (S3: 400 BadDigest).
	ErrBadDigest = errors.New("payload checksum does not match")

	// ErrIncompleteBody reports an aws-chunked body that ends before its final
	// chunk, or that decodes to fewer bytes than x-amz-decoded-content-length
	// (S3: 400 IncompleteBody).
	ErrIncompleteBody = errors.New("request body is incomplete")

	// ErrMalformedPayload reports an aws-chunked body that breaks the framing
	// rules or this package's limits, decodes to more bytes than
	// x-amz-decoded-content-length, or carries trailers that x-amz-trailer did
	// not declare (S3: 400 InvalidRequest).
	ErrMalformedPayload = errors.New("malformed aws-chunked payload")
)
