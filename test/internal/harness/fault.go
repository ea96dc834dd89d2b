package harness

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fault changes how a Counter handles the requests it matches. Its steps run
// in this order, and a step whose field is zero is skipped: send the request
// to Arrived, wait Delay, and wait until Hold is closed. Then the counter
// either responds with Status, or forwards the request and applies BodyHold
// or BodyCut to the response body. A Fault with no step set forwards
// matched requests unchanged.
//
// A waiting request also ends when its client hangs up or the test ends, so
// a Hold that is never closed does not stop the cleanup.
type Fault struct {
	// Match selects the requests the fault applies to; nil matches every
	// request. It runs under the counter's lock, so it must not block or
	// call the counter.
	Match func(Request) bool
	// Times is how many matching requests the fault applies to; zero means
	// every one until the remove function from Inject runs.
	Times int

	// Arrived, when non-nil, receives each matched request as it arrives.
	// The send blocks, so give the channel room or read from it.
	Arrived chan<- Request
	// Delay is a pause before the request goes on, for latency in
	// benchmarks. Tests that need an order use Hold instead.
	Delay time.Duration
	// Hold, when non-nil, keeps matched requests waiting until it is closed,
	// before they are forwarded or responded to.
	Hold <-chan struct{}

	// Status, when non-zero, is the HTTP status of the response that matched
	// requests get, with an S3 XML error body, instead of being forwarded.
	Status int
	// Code is the S3 error code in that body. Empty picks SlowDown for 503,
	// InternalError for 500, and the status text without spaces for other
	// statuses.
	Code string

	// BodyAfter is the number of response body bytes that reach the client
	// before BodyHold or BodyCut takes effect. A body that ends first is
	// delivered whole.
	BodyAfter int64
	// BodyHold, when non-nil, stops the response body after BodyAfter bytes
	// (sent and flushed) until it is closed.
	BodyHold <-chan struct{}
	// BodyCut closes the client's connection after BodyAfter bytes of the
	// response body, so the client sees a truncated body.
	BodyCut bool
}

// activeFault is an injected Fault with its remaining uses.
type activeFault struct {
	Fault
	remaining int // uses left when Times > 0
}

// Inject adds f to the counter's faults and returns a function that removes
// it. A request gets at most one fault: the first injected one that matches
// and has uses left. Inject may run on any goroutine when f is valid; an
// invalid f fails the test through t.
func (c *Counter) Inject(t testing.TB, f Fault) (remove func()) {
	t.Helper()
	if err := f.validate(); err != nil {
		t.Fatalf("Inject: %v", err)
		return func() {}
	}

	active := &activeFault{Fault: f, remaining: f.Times}
	c.mu.Lock()
	c.faults = append(c.faults, active)
	c.mu.Unlock()

	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.dropFaultLocked(active)
	}
}

// validate rejects combinations of steps that cannot all run.
func (f Fault) validate() error {
	switch {
	case f.Times < 0:
		return fmt.Errorf("invalid Times %d, want 0 or more", f.Times)
	case f.Delay < 0:
		return fmt.Errorf("invalid Delay %v, want 0 or more", f.Delay)
	case f.BodyAfter < 0:
		return fmt.Errorf("invalid BodyAfter %d, want 0 or more", f.BodyAfter)
	case f.Status != 0 && (f.Status < 400 || f.Status > 599):
		return fmt.Errorf("invalid Status %d, want an error status from 400 to 599", f.Status)
	case f.Status != 0 && (f.BodyHold != nil || f.BodyCut):
		return errors.New("Status answers without forwarding, so BodyHold and BodyCut cannot apply")
	case f.BodyHold != nil && f.BodyCut:
		return errors.New("BodyHold and BodyCut cannot both apply")
	case f.Code != "" && f.Status == 0:
		return errors.New("Code needs a Status")
	}
	return nil
}

// ClearFaults removes every injected fault. Requests already waiting on
// one keep waiting.
func (c *Counter) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = nil
}

// takeFaultLocked returns the first fault that applies to req and uses it
// up once.
func (c *Counter) takeFaultLocked(req Request) *activeFault {
	for _, f := range c.faults {
		if f.Match != nil && !f.Match(req) {
			continue
		}
		if f.Times > 0 {
			f.remaining--
			if f.remaining == 0 {
				c.dropFaultLocked(f)
			}
		}
		return f
	}
	return nil
}

// dropFaultLocked removes f from the fault list if it is still there.
func (c *Counter) dropFaultLocked(f *activeFault) {
	for i, g := range c.faults {
		if g == f {
			c.faults = append(c.faults[:i:i], c.faults[i+1:]...)
			return
		}
	}
}

// MatchObject returns a Fault.Match function that selects requests with
// this method, bucket and key. An empty method matches every method.
func MatchObject(method, bucket, key string) func(Request) bool {
	return func(r Request) bool {
		return (method == "" || r.Method == method) && r.Bucket == bucket && r.Key == key
	}
}

// faultContextKey is the context key under which serveFault hands the fault
// to modifyResponse.
type faultContextKey struct{}

// serveFault runs the steps of f for one request; see Fault.
func (c *Counter) serveFault(w http.ResponseWriter, r *http.Request, req Request, f *activeFault) {
	ctx := r.Context()

	if f.Arrived != nil {
		select {
		case f.Arrived <- req:
		case <-ctx.Done():
			return
		case <-c.stopping:
			w.WriteHeader(http.StatusBadGateway)
			return
		}
	}

	if f.Delay > 0 {
		elapsed := make(chan struct{})
		timer := time.AfterFunc(f.Delay, func() { close(elapsed) })
		defer timer.Stop()
		if !c.waitFor(w, r, elapsed) {
			return
		}
	}

	if f.Hold != nil && !c.waitFor(w, r, f.Hold) {
		return
	}

	if f.Status != 0 {
		writeS3Error(w, r, f.Status, f.Code)
		return
	}

	if f.BodyHold != nil || f.BodyCut {
		r = r.WithContext(context.WithValue(ctx, faultContextKey{}, f))
	}
	c.proxy.ServeHTTP(w, r)
}

// waitFor blocks until ready is closed and reports true, or reports false
// when the client hung up or the test ended first. In the second case the
// client, if still connected, gets a 502.
func (c *Counter) waitFor(w http.ResponseWriter, r *http.Request, ready <-chan struct{}) bool {
	select {
	case <-ready:
		return true
	case <-r.Context().Done():
		return false
	case <-c.stopping:
		w.WriteHeader(http.StatusBadGateway)
		return false
	}
}

// modifyResponse wraps the response body of a request whose fault acts on
// the body.
func (c *Counter) modifyResponse(resp *http.Response) error {
	f, ok := resp.Request.Context().Value(faultContextKey{}).(*activeFault)
	if !ok {
		return nil
	}
	resp.Body = &faultBody{
		body:      resp.Body,
		remaining: f.BodyAfter,
		hold:      f.BodyHold,
		ctx:       resp.Request.Context(),
		stopping:  c.stopping,
	}
	return nil
}

// errBodyCut ends a body on purpose. On a read error in the middle of a
// body, ReverseProxy aborts the client's connection.
var errBodyCut = errors.New("response body cut by an injected fault")

// faultBody passes the first remaining bytes of body, then either waits for
// hold to close and passes the rest, or, with a nil hold, fails with
// errBodyCut.
type faultBody struct {
	body      io.ReadCloser
	remaining int64 // bytes before the fault; -1 once a hold was released
	hold      <-chan struct{}
	ctx       context.Context
	stopping  <-chan struct{}
}

func (b *faultBody) Read(p []byte) (int, error) {
	if b.remaining == 0 {
		if b.hold == nil {
			return 0, errBodyCut
		}
		select {
		case <-b.hold:
			b.remaining = -1
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		case <-b.stopping:
			return 0, errBodyCut
		}
	}

	if b.remaining > 0 && int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.body.Read(p)
	if b.remaining > 0 {
		b.remaining -= int64(n)
	}
	return n, err
}

func (b *faultBody) Close() error {
	return b.body.Close()
}

// s3Error is the XML body of an S3 error response, as described in the
// Amazon S3 API Reference under "Error responses".
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource"`
	RequestID string   `xml:"RequestId"`
}

// writeS3Error responds with status and an S3 XML error body. A response to
// HEAD carries no body, as with S3.
func writeS3Error(w http.ResponseWriter, r *http.Request, status int, code string) {
	if code == "" {
		code = defaultErrorCode(status)
	}
	requestID := "harness-fault-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	body, err := xml.Marshal(s3Error{
		Code:      code,
		Message:   "injected by the test harness counter",
		Resource:  r.URL.EscapedPath(),
		RequestID: requestID,
	})
	if err != nil {
		// s3Error holds only strings, which always marshal.
		panic(err)
	}
	body = append([]byte(xml.Header), body...)

	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", requestID)
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// defaultErrorCode returns the S3 error code that goes with status.
func defaultErrorCode(status int) string {
	switch status {
	case http.StatusServiceUnavailable:
		return "SlowDown"
	case http.StatusInternalServerError:
		return "InternalError"
	}
	return strings.ReplaceAll(http.StatusText(status), " ", "")
}
