package compat

import (
	"encoding/xml"
	"net/http"
	"strconv"

	"github.com/s3-batching-agent/s3-batching-agent/proxy"
	"github.com/s3-batching-agent/s3-batching-agent/sigv4"

	"errors"
)

// xmlError is S3's error document.
type xmlError struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource"`
	RequestID string   `xml:"RequestId"`
}

// writeXMLError writes e as S3 does: an XML body, or the status alone for
// HEAD requests.
func writeXMLError(w http.ResponseWriter, r *http.Request, e *proxy.APIError, requestID string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("X-Amz-Request-Id", requestID)
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}

	body, err := xml.Marshal(xmlError{Code: e.Code, Message: e.Message, Resource: r.URL.EscapedPath(), RequestID: requestID})
	if err != nil {
		body = []byte("<Error><Code>InternalError</Code></Error>")
	}
	body = append([]byte(xml.Header), body...)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	w.Write(body)
}

// authError maps a signature verification failure to S3's error.
func authError(err error) *proxy.APIError {
	forbidden := func(code, msg string) *proxy.APIError {
		return &proxy.APIError{Status: http.StatusForbidden, Code: code, Message: msg}
	}
	switch {
	case errors.Is(err, sigv4.ErrInvalidAccessKey):
		return forbidden("InvalidAccessKeyId", "The AWS access key ID you provided does not exist in the agent's client credentials.")
	case errors.Is(err, sigv4.ErrRequestTimeTooSkewed):
		return forbidden("RequestTimeTooSkewed", "The difference between the request time and the agent's time is too large (limit 15 minutes).")
	case errors.Is(err, sigv4.ErrExpired):
		return forbidden("AccessDenied", "Request has expired.")
	case errors.Is(err, sigv4.ErrMissingAuth):
		return forbidden("AccessDenied", "The request is not signed; this listener requires SigV4 signatures.")
	case errors.Is(err, sigv4.ErrMalformed):
		return &proxy.APIError{Status: http.StatusBadRequest, Code: "AuthorizationHeaderMalformed", Message: "The authorization header or presigned query is malformed."}
	case errors.Is(err, sigv4.ErrHeadersNotSigned):
		return forbidden("AccessDenied", "Every x-amz-* header must be signed.")
	case errors.Is(err, sigv4.ErrContentSHA256Mismatch):
		return &proxy.APIError{Status: http.StatusBadRequest, Code: "XAmzContentSHA256Mismatch", Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	case errors.Is(err, sigv4.ErrBadDigest):
		return &proxy.APIError{Status: http.StatusBadRequest, Code: "BadDigest", Message: "The checksum you specified did not match what we received."}
	case errors.Is(err, sigv4.ErrIncompleteBody):
		return &proxy.APIError{Status: http.StatusBadRequest, Code: "IncompleteBody", Message: "You did not provide the number of bytes specified by the Content-Length HTTP header."}
	case errors.Is(err, sigv4.ErrMalformedPayload):
		return &proxy.APIError{Status: http.StatusBadRequest, Code: "InvalidRequest", Message: "The aws-chunked request body is malformed."}
	}
	return forbidden("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
}
