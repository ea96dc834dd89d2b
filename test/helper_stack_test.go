package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3-batching-agent/s3-batching-agent/test/internal/harness"
)

// requestTimeout bounds every HTTP request a test sends to the agent, so a
// hang fails the test instead of the whole run.
const requestTimeout = 30 * time.Second

// stack is versitygw with a harness Counter in front of it and the agent
// pointed at the counter, so that every upstream call is counted.
type stack struct {
	s3      *harness.S3Server
	counter *harness.Counter
	agent   *harness.Agent
	client  *http.Client
}

// stackOptions configures newStack. The zero value starts versitygw without
// versioning and the agent with its default batching flags.
type stackOptions struct {
	// versioning starts versitygw with its versioning directory.
	versioning bool
	// buckets are created before the agent starts.
	buckets []string
	// agentArgs are added after --s3-port=0 and --endpoint.
	agentArgs []string
}

// newStack starts versitygw, a counter and the agent. The agent runs with
// --s3-port=0 because these tests use only the helper API.
func newStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	s3 := harness.StartVersitygw(t, harness.VersitygwOptions{Versioning: opts.versioning})
	for _, b := range opts.buckets {
		s3.CreateBucket(t, b)
	}
	counter := harness.NewCounter(t, s3.Endpoint)

	args := append([]string{"--s3-port=0", "--endpoint=" + counter.URL}, opts.agentArgs...)
	agent := harness.StartAgent(t, harness.AgentOptions{Args: args})
	st := &stack{s3: s3, counter: counter, agent: agent, client: newHTTPClient(t)}

	// The agent probes the upstream with GET / (ListBuckets) when it starts
	// and then every 10s without other upstream traffic. Once /ready
	// returns 200, the probe has its response and the counter starts from
	// zero.
	st.waitReady(t)
	counter.Reset()
	return st
}

// waitReady polls GET /ready until it returns 200, and fails the test
// after 20s.
func (st *stack) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := fetch(context.Background(), st.client, http.MethodGet, st.agent.HelperURL+"/ready")
		if r.err == nil && r.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /ready = status %d, error %v after 20s, want 200", r.status, r.err)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not an ordering wait
	}
}

// bucketRequests returns how many requests for a bucket or an object
// reached the counter. It leaves out GET /, which is both ListBuckets and
// the agent's readiness probe.
func (st *stack) bucketRequests() int {
	return st.counter.CountMatching(func(r harness.Request) bool { return r.Bucket != "" })
}

// newHTTPClient returns a client with its own connection pool, large enough
// for the concurrency tests, that never requests gzip.
func newHTTPClient(t *testing.T) *http.Client {
	t.Helper()
	transport := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: 128,
		DisableCompression:  true,
	}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport, Timeout: requestTimeout}
}

// response is a helper API response read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// helperQuery builds a helper API path with a query escaped by
// url.Values.Encode, which turns a space into '+' and '+' into %2B.
func helperQuery(path string, params ...string) string {
	if len(params)%2 != 0 {
		panic("helperQuery needs name and value pairs")
	}
	q := url.Values{}
	for i := 0; i < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// do sends method to the agent's helper API at pathAndQuery with the given
// header name and value pairs, and reads the whole response. Every
// response goes through checkNoInternalText.
func (st *stack) do(t *testing.T, method, pathAndQuery string, headers ...string) response {
	t.Helper()
	return doRequest(t, st.client, method, st.agent.HelperURL+pathAndQuery, headers...)
}

// get is do with GET.
func (st *stack) get(t *testing.T, pathAndQuery string, headers ...string) response {
	t.Helper()
	return st.do(t, http.MethodGet, pathAndQuery, headers...)
}

func doRequest(t *testing.T, client *http.Client, method, target string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatalf("building %s %s: %v", method, target, err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s = %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body of %s %s: %v", method, target, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: body}
	checkNoInternalText(t, method+" "+target, r)
	return r
}

// internalErrorText is Go error text that must never reach a client: it
// names the agent's internals or the upstream's address.
var internalErrorText = []string{
	"dial tcp",
	"connection refused",
	"connection reset",
	"context deadline exceeded",
	"context canceled",
	"timeout awaiting response headers",
	"net/http:",
	"goroutine ",
	"panic",
}

// checkNoInternalText fails the test when a JSON body or an error body
// contains Go error text. Object bodies are left alone: they are the
// test's own bytes.
func checkNoInternalText(t *testing.T, what string, r response) {
	t.Helper()
	isJSON := strings.HasPrefix(r.header.Get("Content-Type"), "application/json")
	if !isJSON && r.status < 400 {
		return
	}
	if text := internalText(r.body); text != "" {
		t.Errorf("%s body contains %q, want no internal error text; body %s", what, text, r.body)
	}
}

// internalText returns the first entry of internalErrorText that body
// contains, or "".
func internalText(body []byte) string {
	lower := bytes.ToLower(body)
	for _, text := range internalErrorText {
		if bytes.Contains(lower, []byte(text)) {
			return text
		}
	}
	return ""
}

// apiError is the helper API's JSON error body.
type apiError struct {
	Code      string
	Message   string
	Bucket    string
	Key       string
	RequestID string `json:"RequestId"`
}

// decodeAPIError checks that r is a JSON error with the wanted status and
// code, and returns it. It fails the test for a body that is not the
// helper API's error shape.
func decodeAPIError(t *testing.T, what string, r response, wantStatus int, wantCode string) apiError {
	t.Helper()
	if r.status != wantStatus {
		t.Errorf("%s status = %d, want %d; body %s", what, r.status, wantStatus, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s Content-Type = %q, want application/json", what, ct)
	}

	var fields map[string]any
	if err := json.Unmarshal(r.body, &fields); err != nil {
		t.Fatalf("%s body %q is not JSON: %v", what, r.body, err)
	}
	for name := range fields {
		if !slices.Contains([]string{"Code", "Message", "Bucket", "Key", "RequestId"}, name) {
			t.Errorf("%s error body has field %q, want only Code, Message, Bucket, Key, RequestId", what, name)
		}
	}

	var e apiError
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("%s body %q does not decode as an error: %v", what, r.body, err)
	}
	if e.Code != wantCode {
		t.Errorf("%s error Code = %q, want %q; body %s", what, e.Code, wantCode, r.body)
	}
	if e.Message == "" {
		t.Errorf("%s error Message is empty, want a sentence for the caller", what)
	}
	if e.RequestID == "" {
		t.Errorf("%s error RequestId is empty, want an id to quote in a bug report", what)
	}
	return e
}

// decodeJSON decodes a 200 JSON response into v.
func decodeJSON(t *testing.T, what string, r response, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s status = %d, want 200; body %s", what, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s Content-Type = %q, want application/json", what, ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s body %q does not decode: %v", what, r.body, err)
	}
}

// randomBytes returns n random bytes, so that a body spliced from two
// objects or offsets never matches by chance.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// objectURL returns the agent's getObject URL for bucket and key.
func (st *stack) objectURL(bucket, key string) string {
	return st.agent.HelperURL + helperQuery("/s3/getObject", "bucket", bucket, "key", key)
}

// fetchResult is the outcome of one concurrent GET.
type fetchResult struct {
	status int
	body   []byte
	err    error
}

// fetchAll sends n concurrent GETs of target, each with the given header
// name and value pairs, and returns their results in order.
func fetchAll(ctx context.Context, client *http.Client, target string, n int, headers ...string) []fetchResult {
	results := make([]fetchResult, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = fetch(ctx, client, http.MethodGet, target, headers...)
		})
	}
	wg.Wait()
	return results
}

// fetch sends one request and reads its body; it may run on any goroutine.
func fetch(ctx context.Context, client *http.Client, method, target string, headers ...string) fetchResult {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return fetchResult{err: err}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return fetchResult{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return fetchResult{status: resp.StatusCode, body: body, err: err}
}

// checkBodies fails the test for every result that is not a 200 with want
// as its body.
func checkBodies(t *testing.T, what string, results []fetchResult, want []byte) {
	t.Helper()
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("%s caller %d: error %v, want the object", what, i, r.err)
		case r.status != http.StatusOK:
			t.Errorf("%s caller %d: status %d, want 200; body %.200s", what, i, r.status, r.body)
		case !bytes.Equal(r.body, want):
			t.Errorf("%s caller %d: got %d bytes that differ from the %d-byte object", what, i, len(r.body), len(want))
		}
	}
}

// waitForGoroutines polls the agent's goroutine profile until exactly n
// goroutines have frame in their stack, and fails the test after 20s.
// The agent must run with --debug, which serves /debug/pprof/.
//
// The agent exposes no other signal that a request has joined a group or
// that a member has left one, so ordering tests count its goroutines. A
// request waiting for its group's result is blocked in batching's
// Coalescer.Do. A member waiting for body bytes is blocked in the shared
// stream's reader.Read.
func waitForGoroutines(t *testing.T, st *stack, frame string, n int) {
	t.Helper()
	target := st.agent.HelperURL + "/debug/pprof/goroutine?debug=2"
	deadline := time.Now().Add(20 * time.Second)
	last := -1
	for {
		r := fetch(context.Background(), st.client, http.MethodGet, target)
		if r.err != nil {
			t.Fatalf("GET /debug/pprof/goroutine = %v", r.err)
		}
		if r.status != http.StatusOK {
			t.Fatalf("GET /debug/pprof/goroutine status = %d, want 200 (the agent serves pprof with --debug, "+
				"and this test needs it to see requests waiting in a group); body %.200s", r.status, r.body)
		}
		last = countGoroutines(string(r.body), frame)
		if last == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines with %s in their stack = %d after 20s, want %d", frame, last, n)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not an ordering wait
	}
}

// countGoroutines counts the goroutine dumps in a debug=2 profile that
// contain frame.
func countGoroutines(profile, frame string) int {
	n := 0
	for _, g := range strings.Split(profile, "\n\n") {
		if strings.Contains(g, frame) {
			n++
		}
	}
	return n
}

// Stack frames that waitForGoroutines counts. A member waiting for the
// next bytes of a shared body is in reader.next, under Read or WriteTo.
const (
	frameGroupWait  = "batching.(*Coalescer[...]).Do("
	frameStreamRead = "batching.(*reader).next("
)

// mustStatus fails the test unless r has status want.
func mustStatus(t *testing.T, what string, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s status = %d, want %d; body %.300s", what, r.status, want, r.body)
	}
}
