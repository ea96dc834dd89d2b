package proxy

// RequestObserver receives one event per finished client request, for
// metrics. Its methods must be safe for concurrent use.
type RequestObserver interface {
	// Request reports a finished request: the front door ("helper" or
	// "s3"), the operation name, the status written (499 when the client
	// left before any), whether the request was served by another
	// request's upstream call, the body bytes written and the duration.
	Request(frontDoor, op string, status int, shared bool, bytes int64, seconds float64)
}
