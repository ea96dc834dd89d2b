package proxy

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/http"
)

// APIError is an error in S3's terms, ready for either front door to
// write in its own wire format. Message is safe to show to a client.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// ErrClientGone reports that the client hung up; nothing is written.
var ErrClientGone = errors.New("client closed the request")

// Errors the agent makes itself.
var (
	ErrBadGateway = &APIError{
		Status: http.StatusBadGateway, Code: "BadGateway",
		Message: "The agent could not get a valid response from the upstream S3 service.",
	}
	ErrGatewayTimeout = &APIError{
		Status: http.StatusGatewayTimeout, Code: "GatewayTimeout",
		Message: "The upstream S3 service did not respond in time.",
	}
	ErrAgentCredentials = &APIError{
		Status: http.StatusInternalServerError, Code: "InternalError",
		Message: "The agent could not load its credentials for the upstream S3 service.",
	}
	ErrInternal = &APIError{
		Status: http.StatusInternalServerError, Code: "InternalError",
		Message: "The agent encountered an internal error. Please try again.",
	}
)

// InvalidArgument returns a 400 InvalidArgument error with msg.
func InvalidArgument(msg string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "InvalidArgument", Message: msg}
}

// ToAPIError maps an error from the read path or the upstream to the error
// a client receives. It is the one place that decides those status codes:
// S3's own errors pass through, a timeout is 504, a client that left is
// ErrClientGone, anything else from the upstream side is 502.
func ToAPIError(ctx context.Context, err error) (*APIError, error) {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr, nil
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil, ErrClientGone
	}
	if errors.Is(err, ErrCredentials) {
		return ErrAgentCredentials, nil
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return ErrGatewayTimeout, nil
	}
	return ErrBadGateway, nil
}

// maxErrorBody caps how much of an upstream error body is parsed.
const maxErrorBody = 64 << 10

// s3ErrorBody is S3's XML error document.
type s3ErrorBody struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

// ParseUpstreamError reads an upstream error response's XML body (at most
// 64 KiB) and returns the error S3 reported. A body without a code, as
// HEAD responses have, gets the code S3 uses for that status and operation.
func ParseUpstreamError(status int, body io.Reader, op Op) *APIError {
	var doc s3ErrorBody
	if body != nil {
		b, _ := io.ReadAll(io.LimitReader(body, maxErrorBody))
		xml.Unmarshal(b, &doc)
	}
	e := &APIError{Status: status, Code: doc.Code, Message: doc.Message}
	if e.Code == "" {
		e.Code = codeForStatus(status, op)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

func codeForStatus(status int, op Op) string {
	switch status {
	case http.StatusNotFound:
		if op.ObjectLevel() {
			return "NoSuchKey"
		}
		return "NoSuchBucket"
	case http.StatusForbidden:
		return "AccessDenied"
	case http.StatusBadRequest:
		return "BadRequest"
	case http.StatusMovedPermanently:
		return "PermanentRedirect"
	case http.StatusNotModified:
		return "NotModified"
	case http.StatusPreconditionFailed:
		return "PreconditionFailed"
	case http.StatusRequestedRangeNotSatisfiable:
		return "InvalidRange"
	case http.StatusServiceUnavailable:
		return "SlowDown"
	case http.StatusMethodNotAllowed:
		return "MethodNotAllowed"
	}
	if status >= 500 {
		return "InternalError"
	}
	return http.StatusText(status)
}
