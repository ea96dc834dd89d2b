package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// RequestEvent describes one finished client request.
type RequestEvent struct {
	FrontDoor string // "helper" or "s3"
	Op        string // S3 operation name
	Status    int    // status written; 499 when the client left before any

	// For reads through the batching layer: the members that shared the
	// upstream call, and whether this request opened the group. GroupSize
	// is 0 for requests that did not go through it.
	GroupSize int
	Opener    bool

	Bytes    int64 // body bytes written to the client
	Duration time.Duration
}

// RequestObserver receives one event per finished client request, for
// metrics. Implementations must be safe for concurrent use.
type RequestObserver interface {
	Request(RequestEvent)
}

// UpstreamObserver receives one event per upstream request, for metrics.
// Implementations must be safe for concurrent use.
type UpstreamObserver interface {
	// UpstreamRequest reports one sent request: its operation, the status
	// (0 when no response came back) and the time to response headers.
	UpstreamRequest(op string, status int, headerTime time.Duration)

	// UpstreamBytes reports response body bytes received.
	UpstreamBytes(n int64)
}

// Recorder is an http.ResponseWriter that remembers what a handler wrote,
// for metrics and logs. It is not safe for concurrent use.
type Recorder struct {
	http.ResponseWriter
	Code  int
	Bytes int64

	// Set by the read path's callers for RequestEvent.
	GroupSize int
	Opener    bool
}

func (r *Recorder) WriteHeader(code int) {
	if r.Code == 0 {
		r.Code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(p []byte) (int, error) {
	if r.Code == 0 {
		r.Code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.Bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Status returns the status written, or 499 (the client closed the
// request) when nothing was.
func (r *Recorder) Status() int {
	if r.Code == 0 {
		return 499
	}
	return r.Code
}

// Observe records a read response's group on r.
func (r *Recorder) Observe(resp *ReadResponse) {
	r.GroupSize, r.Opener = resp.GroupSize, resp.Opener
}

// Event returns the RequestEvent of the request r recorded.
func (r *Recorder) Event(frontDoor, op string, start time.Time) RequestEvent {
	return RequestEvent{
		FrontDoor: frontDoor, Op: op, Status: r.Status(),
		GroupSize: r.GroupSize, Opener: r.Opener,
		Bytes: r.Bytes, Duration: time.Since(start),
	}
}

// LogRequest writes e to log at debug level, when that level is enabled.
func LogRequest(ctx context.Context, log *slog.Logger, e RequestEvent, method, path string) {
	if !log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	log.LogAttrs(ctx, slog.LevelDebug, "request",
		slog.String("front_door", e.FrontDoor), slog.String("op", e.Op),
		slog.String("method", method), slog.String("path", path),
		slog.Int("status", e.Status), slog.Int64("bytes", e.Bytes),
		slog.Int("group_size", e.GroupSize), slog.Bool("opener", e.Opener),
		slog.Duration("duration", e.Duration))
}
