package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// call is one request that passed through the counter on its way to
// versitygw.
type call struct {
	Method string
	Bucket string
	Key    string
	Status int
	// Start is when the request reached the counter, FirstByte when the
	// first body byte of versitygw's response reached it (zero for an empty
	// body) and End when the response was fully relayed.
	Start, FirstByte, End time.Time
}

// RoundTrip is the call's duration as the counter saw it: from the request's
// arrival to the last byte relayed back.
func (c *call) RoundTrip() time.Duration { return c.End.Sub(c.Start) }

// counter is a counting pass-through HTTP proxy on 127.0.0.1 in front of
// versitygw. It forwards each request with its method, escaped path, query,
// Host header and body unchanged, so signatures made for the counter's
// address stay valid, and streams responses back as they arrive. It is safe
// for concurrent use.
type counter struct {
	URL string

	srv       *http.Server
	transport *http.Transport
	inflight  atomic.Int64

	mu    sync.Mutex // guards calls
	calls []*call
}

type callKey struct{}

func startCounter(upstream string) (*counter, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("parsing the upstream URL %q: %w", upstream, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the counting proxy: %w", err)
	}

	c := &counter{URL: "http://" + ln.Addr().String()}
	c.transport = &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        2048,
		MaxIdleConnsPerHost: 2048,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = target.Scheme
			pr.Out.URL.Host = target.Host
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			// pr.Out.Host keeps the incoming Host header, which is signed.
		},
		Transport:     c.transport,
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			if rec, ok := resp.Request.Context().Value(callKey{}).(*call); ok {
				rec.Status = resp.StatusCode
				resp.Body = &firstByteBody{ReadCloser: resp.Body, call: rec}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if !errors.Is(err, context.Canceled) {
				log.Printf("counting proxy: forwarding %s %s: %v", r.Method, r.URL.EscapedPath(), err)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	c.srv = &http.Server{
		Handler:           c.handler(proxy),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go c.srv.Serve(ln)
	return c, nil
}

// handler records each request and forwards it through proxy.
func (c *counter) handler(proxy http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.inflight.Add(1)
		defer c.inflight.Add(-1)

		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		rec := &call{Method: r.Method, Bucket: bucket, Key: key, Start: time.Now()}
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callKey{}, rec)))
		rec.End = time.Now()

		c.mu.Lock()
		c.calls = append(c.calls, rec)
		c.mu.Unlock()
	})
}

// firstByteBody notes when the first byte of a response body arrives.
type firstByteBody struct {
	io.ReadCloser
	call *call
}

func (b *firstByteBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 && b.call.FirstByte.IsZero() {
		b.call.FirstByte = time.Now()
	}
	return n, err
}

// reset discards the recorded calls.
func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = nil
}

// settle waits up to a second for requests still being relayed to finish,
// so that calls returns every call of a finished measurement.
func (c *counter) settle() {
	deadline := time.Now().Add(time.Second)
	for c.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// snapshot returns the calls recorded since the last reset, in the order
// they ended.
func (c *counter) snapshot() []*call {
	c.settle()
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*call(nil), c.calls...)
}

func (c *counter) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.srv.Shutdown(ctx)
	c.transport.CloseIdleConnections()
}
