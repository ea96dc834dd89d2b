package harness

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request that reached a Counter.
type Request struct {
	Method string
	// Bucket is the first segment of the decoded path; empty for a request
	// to "/" such as ListBuckets.
	Bucket string
	// Key is the decoded path after the bucket and the slash that follows
	// it; empty for bucket-level requests.
	Key string
	// RawPath is the path exactly as the client escaped it.
	RawPath string
	// RawQuery is the query string exactly as received, and Query is its
	// parsed form.
	RawQuery string
	Query    url.Values
	// Header is a copy of the request's headers.
	Header http.Header
}

// Counter is a counting reverse proxy on 127.0.0.1 for path-style S3
// traffic. Put it between the agent (--endpoint=Counter.URL) and the S3
// server to count the calls that reach the upstream, and to inject faults
// with Inject.
//
// It forwards each request with its method, escaped path, query string,
// Host header and body unchanged, so SigV4 signatures made for the
// counter's address stay valid upstream. Response bodies are streamed and
// flushed as they arrive. A Counter is safe for concurrent use.
type Counter struct {
	// URL is the counter's base URL, http://127.0.0.1:PORT.
	URL string

	t         testing.TB
	upstream  *url.URL
	server    *httptest.Server
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	// stopping is closed when the test ends, which releases every request
	// waiting on a fault.
	stopping chan struct{}

	mu       sync.Mutex // guards requests, counts and faults
	requests []Request
	counts   map[countKey]int
	faults   []*activeFault
}

// countKey identifies the requests that Count adds up.
type countKey struct {
	method, bucket, key string
}

// NewCounter starts a counter that forwards to upstream, the base URL of an
// S3 server such as S3Server.Endpoint. t.Cleanup releases every held
// request and closes the counter. Cleanups run in reverse order, so an agent
// started after the counter is stopped before the counter closes.
func NewCounter(t testing.TB, upstream string) *Counter {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("parsing the upstream URL %q: %v", upstream, err)
	}
	if target.Scheme == "" || target.Host == "" {
		t.Fatalf("upstream URL %q needs a scheme and a host", upstream)
	}

	c := &Counter{
		t:        t,
		upstream: target,
		stopping: make(chan struct{}),
		counts:   make(map[countKey]int),
	}

	c.transport = &http.Transport{
		// A nil Proxy sends every request straight to the upstream, whatever
		// HTTP_PROXY and NO_PROXY contain.
		Proxy:                 nil,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// The counter passes Accept-Encoding and the body through as they
		// are instead of asking for gzip and decoding it.
		DisableCompression: true,
	}
	c.proxy = &httputil.ReverseProxy{
		Rewrite:        c.rewrite,
		Transport:      c.transport,
		FlushInterval:  -1,
		ModifyResponse: c.modifyResponse,
		ErrorHandler:   c.proxyError,
		// The proxy logs the copy error of every body that BodyCut ends.
		// proxyError reports the failures that matter.
		ErrorLog: log.New(io.Discard, "", 0),
	}

	c.server = httptest.NewServer(c)
	c.URL = c.server.URL

	t.Cleanup(func() {
		close(c.stopping)
		c.server.Close()
		c.transport.CloseIdleConnections()
	})
	return c
}

// ServeHTTP counts the request, then forwards it, or applies the first
// injected fault that matches it.
func (c *Counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := newRequest(r)
	fault := c.record(req)

	if fault == nil {
		c.proxy.ServeHTTP(w, r)
		return
	}
	c.serveFault(w, r, req, fault)
}

// newRequest copies what tests match and count on out of r.
func newRequest(r *http.Request) Request {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return Request{
		Method:   r.Method,
		Bucket:   bucket,
		Key:      key,
		RawPath:  r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery,
		Query:    r.URL.Query(),
		Header:   r.Header.Clone(),
	}
}

// record counts req and returns the fault that applies to it, if any.
func (c *Counter) record(req Request) *activeFault {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.requests = append(c.requests, req)
	c.counts[countKey{req.Method, req.Bucket, req.Key}]++
	return c.takeFaultLocked(req)
}

// rewrite sends the request to the upstream with everything the client
// signed left as it was.
func (c *Counter) rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = c.upstream.Scheme
	pr.Out.URL.Host = c.upstream.Host
	// ReverseProxy drops query parameters it cannot parse before calling
	// Rewrite; the upstream gets the query as the client sent it.
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	// pr.Out.Host keeps the incoming Host header, which is part of the
	// signature.
}

// proxyError responds 502 when the upstream cannot be reached, and logs why
// unless the client had already gone.
func (c *Counter) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, context.Canceled) {
		c.t.Logf("counter: forwarding %s %s: %v", r.Method, r.URL.EscapedPath(), err)
	}
	w.WriteHeader(http.StatusBadGateway)
}

// Count returns how many requests with this method, bucket and key reached
// the counter since it started or since the last Reset. An empty method
// counts every method. Requests that a fault responded to count too, because
// they reached the address the agent uses as its upstream.
func (c *Counter) Count(method, bucket, key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()

	if method != "" {
		return c.counts[countKey{method, bucket, key}]
	}
	n := 0
	for k, count := range c.counts {
		if k.bucket == bucket && k.key == key {
			n += count
		}
	}
	return n
}

// CountMatching returns how many recorded requests match reports true for,
// for counts that depend on the query or headers.
func (c *Counter) CountMatching(match func(Request) bool) int {
	n := 0
	for _, req := range c.Requests() {
		if match(req) {
			n++
		}
	}
	return n
}

// Total returns how many requests reached the counter since it started or
// since the last Reset.
func (c *Counter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.requests)
}

// Requests returns the recorded requests in arrival order. The caller may
// change the returned slice, but not the Query and Header maps it shares.
func (c *Counter) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.requests...)
}

// Reset discards every recorded request, but keeps the injected faults. A request that
// arrives while Reset runs is recorded either before it (and discarded) or
// after it.
//
// NOTE: every request is kept, headers included, until Reset, so a long
// benchmark through a counter should call Reset between rounds.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = nil
	clear(c.counts)
}
