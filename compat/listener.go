package compat

import (
	"bytes"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/s3-batching-agent/s3-batching-agent/proxy"
	"github.com/s3-batching-agent/s3-batching-agent/sigv4"
)

// Config configures a Listener.
type Config struct {
	// Reads is the shared read path; reads from this listener and the
	// helper API coalesce together.
	Reads *proxy.ReadPath

	// Upstream sends every request that is not a coalesced read.
	Upstream *proxy.Upstream

	// Clients, when not nil, turns on verify mode: every request must carry
	// a valid SigV4 signature by one of these clients and be allowed by its
	// rules. Nil trusts every client, as the original trusted-network
	// deployment does.
	Clients *ClientCredentials

	// Observer receives one event per finished request; nil is allowed.
	Observer proxy.RequestObserver

	// Now returns the time signatures are checked against. Nil means
	// time.Now.
	Now func() time.Time

	Logger *slog.Logger
}

// Listener is the S3 listener's http.Handler. It is safe for concurrent
// use.
type Listener struct {
	cfg      Config
	verifier *sigv4.Verifier
	log      *slog.Logger
}

var _ http.Handler = (*Listener)(nil)

// New returns a Listener for cfg.
func New(cfg Config) *Listener {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Listener{cfg: cfg, log: cfg.Logger}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clients != nil {
		l.verifier = &sigv4.Verifier{Credentials: cfg.Clients}
	}
	return l
}

// presignParams are the query parameters of a presigned URL. They
// authenticate the client and are not part of the operation.
var presignParams = []string{
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
}

// sigV2PresignParams are the query parameters of a SigV2 presigned URL.
var sigV2PresignParams = []string{"AWSAccessKeyId", "Signature", "Expires"}

// ServeHTTP authenticates, classifies and serves one S3 request.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := proxy.NewRequestID()
	rec := &proxy.Recorder{ResponseWriter: w}
	op := operation{Name: "unknown"}
	defer func() {
		e := rec.Event("s3", op.Name, start)
		if l.cfg.Observer != nil {
			l.cfg.Observer.Request(e)
		}
		proxy.LogRequest(r.Context(), l.log, e, r.Method, r.URL.EscapedPath())
	}()

	if err := checkFraming(r); err != nil {
		// The rest of the connection's bytes cannot be trusted to frame
		// the next request.
		rec.Header().Set("Connection", "close")
		writeXMLError(rec, r, err, requestID)
		return
	}

	bucket, key, err := splitPath(r.URL.EscapedPath())
	if err != nil {
		writeXMLError(rec, r, &proxy.APIError{Status: http.StatusBadRequest, Code: "InvalidURI", Message: "Couldn't parse the specified URI."}, requestID)
		return
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeXMLError(rec, r, proxy.InvalidArgument("The query string is not validly escaped."), requestID)
		return
	}
	for _, name := range presignParams {
		query.Del(name)
	}
	if query.Has("AWSAccessKeyId") && query.Has("Signature") {
		// A SigV2 presigned URL (older boto3 makes them by default). The
		// agent signs with SigV4 instead; in verify mode such a request
		// fails verification, since only SigV4 is checked.
		for _, name := range sigV2PresignParams {
			query.Del(name)
		}
	}
	op = classify(r.Method, bucket, key, withoutSDKParams(query))

	verification, apiErr := l.authenticate(r, op, query)
	if apiErr != nil {
		l.log.Debug("request rejected", "op", op.Name, "bucket", bucket, "key", key, "code", apiErr.Code)
		writeXMLError(rec, r, apiErr, requestID)
		return
	}

	if op.Read != "" {
		l.serveRead(rec, r, op, withoutSDKParams(query), requestID)
		return
	}
	l.forward(rec, r, op, query, verification, requestID)
}

// checkFraming rejects a request whose body length is ambiguous, a known
// request smuggling vector: FramingListener marks requests that carried
// both Content-Length and Transfer-Encoding. Go's server already responds
// 400 to differing Content-Length values.
func checkFraming(r *http.Request) *proxy.APIError {
	ambiguous := len(r.Header.Values(ambiguousFramingHeader)) > 0
	if ambiguous || (len(r.TransferEncoding) > 0 && len(r.Header.Values("Content-Length")) > 0) {
		return &proxy.APIError{Status: http.StatusBadRequest, Code: "InvalidRequest", Message: "A request must not carry both Content-Length and Transfer-Encoding."}
	}
	if len(r.TransferEncoding) > 1 || (len(r.TransferEncoding) == 1 && r.TransferEncoding[0] != "chunked") {
		return &proxy.APIError{Status: http.StatusNotImplemented, Code: "NotImplemented", Message: "Only Transfer-Encoding: chunked is supported."}
	}
	return nil
}

// withoutSDKParams returns q without x-id, a parameter the AWS SDKs add to
// name the operation, which does not change S3's response.
func withoutSDKParams(q url.Values) url.Values {
	if !q.Has("x-id") {
		return q
	}
	out := make(url.Values, len(q))
	for k, v := range q {
		if k != "x-id" {
			out[k] = v
		}
	}
	return out
}

// authenticate verifies the signature in verify mode and checks the
// client's rules. In trust mode it returns no verification and no error.
func (l *Listener) authenticate(r *http.Request, op operation, query url.Values) (*sigv4.Verification, *proxy.APIError) {
	if l.verifier == nil {
		return nil, nil
	}
	v, err := l.verifier.Verify(r, l.cfg.Now())
	if err != nil {
		return nil, authError(err)
	}
	if !l.cfg.Clients.allowed(v.AccessKey, r.Method, op, query, r.Header) {
		return nil, &proxy.APIError{Status: http.StatusForbidden, Code: "AccessDenied", Message: "Access Denied"}
	}
	return v, nil
}

// skippedReadHeaders are request headers that never reach the upstream on
// a read: the client's authentication, replaced by the agent's, and SDK
// bookkeeping that does not change the response.
var skippedReadHeaders = map[string]bool{
	"X-Amz-Date":           true,
	"X-Amz-Content-Sha256": true,
	"X-Amz-Security-Token": true,
	"X-Amz-User-Agent":     true,
}

// readHeaders returns the headers of a read that go upstream and into the
// coalescing key: the conditional and range headers and every x-amz-*
// header except authentication and SDK bookkeeping.
func readHeaders(h http.Header) http.Header {
	out := http.Header{}
	for _, name := range proxy.ReadHeaders {
		if v := h.Values(name); len(v) > 0 {
			out[name] = append([]string(nil), v...)
		}
	}
	for name, v := range h {
		if strings.HasPrefix(name, "X-Amz-") && !skippedReadHeaders[name] {
			out[name] = append([]string(nil), v...)
		}
	}
	return out
}

// serveRead runs a read through the batching layer and relays the
// upstream's response as is, errors included.
func (l *Listener) serveRead(w *proxy.Recorder, r *http.Request, op operation, query url.Values, requestID string) {
	req := &proxy.ReadRequest{Op: op.Read, Bucket: op.Bucket, Key: op.Key, Header: readHeaders(r.Header)}
	if len(query) > 0 {
		req.Query = query
	}

	resp, err := l.cfg.Reads.Read(r.Context(), req)
	if err != nil {
		l.writeError(w, r, err, op, requestID)
		return
	}
	defer resp.Body.Close()
	w.Observe(resp)

	l.relay(w, r, resp.Meta.StatusCode, resp.Meta.Header, resp.Meta.ContentLength, resp.Body, op)
}

// forward streams a request that is not a coalesced read to the upstream,
// re-signed, and relays the response. A successful write seals the read
// groups it makes stale.
func (l *Listener) forward(w *proxy.Recorder, r *http.Request, op operation, query url.Values, v *sigv4.Verification, requestID string) {
	out, bodyErr, apiErr := outgoingRequest(r, op, query, v)
	if apiErr != nil {
		writeXMLError(w, r, apiErr, requestID)
		return
	}

	resp, err := l.cfg.Upstream.Do(r.Context(), out)
	if err != nil {
		if bodyErr.err != nil {
			// The client's body failed verification or ended early: the
			// upstream write was aborted, so nothing is stored.
			l.log.Info("upload rejected", "op", op.Name, "bucket", op.Bucket, "key", op.Key, "error", bodyErr.err)
			writeXMLError(w, r, authError(bodyErr.err), requestID)
			return
		}
		l.writeError(w, r, err, op, requestID)
		return
	}
	defer resp.Body.Close()

	if resp.StatusCode < 300 && r.Method != http.MethodGet && r.Method != http.MethodHead {
		if op.Key != "" {
			l.cfg.Reads.SealObject(op.Bucket, op.Key)
		} else {
			l.cfg.Reads.SealBucket(op.Bucket)
		}
	}

	rewriteLocation(resp, r, op.Bucket)
	body, length := io.Reader(resp.Body), resp.ContentLength
	if r.Method == http.MethodPost && resp.StatusCode < 300 {
		body, length = rewriteBodyLocation(resp, r, op.Bucket)
	}
	l.relay(w, r, resp.StatusCode, resp.Header, length, body, op)
}

// maxRewrittenBody caps the POST response bodies searched for the
// upstream's address; CompleteMultipartUpload and POST policy results are
// a few hundred bytes.
const maxRewrittenBody = 64 << 10

// rewriteBodyLocation returns the body of a successful POST
// (CompleteMultipartUpload, a POST policy upload) with the <Location> URL
// on the upstream's host pointed at the agent, as rewriteLocation does for
// the header. Bodies of unknown or large length pass unchanged.
func rewriteBodyLocation(resp *http.Response, r *http.Request, bucket string) (io.Reader, int64) {
	if resp.ContentLength < 0 || resp.ContentLength > maxRewrittenBody || resp.Request == nil {
		return resp.Body, resp.ContentLength
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		// Relay what arrived; the short length makes the client see it
		// as cut off.
		return bytes.NewReader(b), resp.ContentLength
	}
	start := bytes.Index(b, []byte("<Location>"))
	end := bytes.Index(b, []byte("</Location>"))
	if start < 0 || end < start {
		return bytes.NewReader(b), int64(len(b))
	}
	start += len("<Location>")
	loc := html.UnescapeString(string(b[start:end]))
	fake := &http.Response{Header: http.Header{"Location": {loc}}, Request: resp.Request}
	rewriteLocation(fake, r, bucket)
	replaced := []byte(html.EscapeString(fake.Header.Get("Location")))
	out := append(append(append([]byte(nil), b[:start]...), replaced...), b[end:]...)
	return bytes.NewReader(out), int64(len(out))
}

// rewriteLocation points a Location header that names the upstream (a POST
// policy upload's 201, for one) at the agent instead, path-style, so the
// client never learns, or tries to reach, the upstream's address.
func rewriteLocation(resp *http.Response, r *http.Request, bucket string) {
	loc := resp.Header.Get("Location")
	if loc == "" || resp.Request == nil {
		return
	}
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, resp.Request.URL.Host) {
		return
	}
	if bucket != "" && strings.HasPrefix(strings.ToLower(u.Host), strings.ToLower(bucket)+".") {
		// Virtual-hosted upstream: the bucket moves into the path.
		u.Path, u.RawPath = "/"+bucket+u.Path, ""
	}
	u.Scheme = "http"
	if r.TLS != nil {
		u.Scheme = "https"
	}
	u.Host = r.Host
	resp.Header.Set("Location", u.String())
}

// relay writes an upstream response as it came: its headers (but
// hop-by-hop ones), its length, its status and, except for HEAD, its body.
// A body cut short aborts the connection so the client cannot take a
// truncated object for a whole one.
func (l *Listener) relay(w *proxy.Recorder, r *http.Request, status int, header http.Header, length int64, body io.Reader, op operation) {
	copyResponseHeaders(w.Header(), header)
	if length >= 0 && status != http.StatusNotModified && status != http.StatusNoContent {
		w.Header().Set("Content-Length", strconv.FormatInt(length, 10))
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}

	if _, err := proxy.CopyBody(w, body); err != nil {
		if r.Context().Err() == nil {
			l.log.Warn("response cut short", "op", op.Name, "bucket", op.Bucket, "key", op.Key, "bytes_sent", w.Bytes, "error", err)
		}
		panic(http.ErrAbortHandler)
	}
}

// writeError writes an error of the read path or the upstream as S3 XML; a
// client that hung up gets nothing.
func (l *Listener) writeError(w http.ResponseWriter, r *http.Request, err error, op operation, requestID string) {
	apiErr, gone := proxy.ToAPIError(r.Context(), err)
	if gone != nil {
		return
	}
	var own *proxy.APIError
	if !errors.As(err, &own) && apiErr.Status >= 500 {
		l.log.Error("request failed", "op", op.Name, "bucket", op.Bucket, "key", op.Key, "error", err)
	}
	writeXMLError(w, r, apiErr, requestID)
}

func copyResponseHeaders(dst, src http.Header) {
	for name, v := range src {
		if proxy.IsHopHeader(name) || name == "Content-Length" {
			continue
		}
		dst[proxy.WireHeaderName(name)] = append([]string(nil), v...)
	}
}
