package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// HelperConfig configures the helper API.
type HelperConfig struct {
	// DefaultBucket is used when a request names no bucket. Empty means
	// such requests are rejected.
	DefaultBucket string

	// DebugConfig, when not nil, is served as JSON at /debug/config. It
	// must already have every secret masked.
	DebugConfig any

	// Ready reports whether the agent can serve reads; nil means always.
	Ready func() bool

	// Extra routes mounted on the helper port, such as /metrics and pprof.
	// A path ending in "/" is a prefix.
	Extra map[string]http.Handler

	// Observer receives one event per /s3/ request; nil is allowed.
	Observer RequestObserver

	// S3RoutesOff makes the /s3/ routes respond 403, because the S3
	// listener's --client-auth verify mode would mean nothing if this
	// unauthenticated read path stayed open.
	S3RoutesOff bool

	Logger *slog.Logger
}

// Helper serves the helper API: /health, /ready, /s3/listBuckets,
// /s3/listObjects, /s3/getObject and, when configured, /debug/config.
type Helper struct {
	cfg    HelperConfig
	reads  *ReadPath
	log    *slog.Logger
	router *mux.Router
}

var _ http.Handler = (*Helper)(nil)

// NewHelper returns the helper API handler.
func NewHelper(reads *ReadPath, cfg HelperConfig) *Helper {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Helper{cfg: cfg, reads: reads, log: log}

	r := mux.NewRouter()
	r.Handle("/health", methods(http.HandlerFunc(h.health), http.MethodGet, http.MethodHead))
	r.Handle("/ready", methods(http.HandlerFunc(h.ready), http.MethodGet, http.MethodHead))
	switch {
	case cfg.S3RoutesOff:
		r.PathPrefix("/s3/").Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			h.writeError(w, req, &APIError{
				Status: http.StatusForbidden, Code: "AccessDenied",
				Message: "The helper API's /s3/ routes are off because the agent verifies clients (--client-auth verify); use the S3 listener with signed requests.",
			}, "", "")
		}))
	default:
		r.Handle("/s3/listBuckets", h.observed(methods(http.HandlerFunc(h.listBuckets), http.MethodGet)))
		r.Handle("/s3/listObjects", h.observed(methods(http.HandlerFunc(h.listObjects), http.MethodGet)))
		r.Handle("/s3/getObject", h.observed(methods(http.HandlerFunc(h.getObject), http.MethodGet, http.MethodHead)))
	}
	if cfg.DebugConfig != nil {
		r.Handle("/debug/config", methods(http.HandlerFunc(h.debugConfig), http.MethodGet))
	}
	// mux matches routes in the order they were added, so exact paths go
	// before prefixes that contain them (/debug/pprof/profile before
	// /debug/pprof/).
	paths := make([]string, 0, len(cfg.Extra))
	for path := range cfg.Extra {
		paths = append(paths, path)
	}
	sort.Slice(paths, func(i, j int) bool {
		pi, pj := strings.HasSuffix(paths[i], "/"), strings.HasSuffix(paths[j], "/")
		if pi != pj {
			return !pi
		}
		return paths[i] < paths[j]
	})
	for _, path := range paths {
		if strings.HasSuffix(path, "/") {
			r.PathPrefix(path).Handler(cfg.Extra[path])
		} else {
			r.Handle(path, cfg.Extra[path])
		}
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.writeError(w, req, &APIError{
			Status: http.StatusNotFound, Code: "NotFound",
			Message: "No helper API route at this path. Routes: /health, /ready, /metrics, /s3/listBuckets, /s3/listObjects, /s3/getObject.",
		}, "", "")
	})
	h.router = r
	return h
}

func (h *Helper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.router.ServeHTTP(w, r)
}

// helperOps names the S3 operation behind each /s3/ route.
var helperOps = map[string]Op{
	"/s3/listBuckets": OpListBuckets,
	"/s3/listObjects": OpListObjectsV2,
	"/s3/getObject":   OpGetObject,
}

// observed reports each request to the configured observer.
func (h *Helper) observed(next http.Handler) http.Handler {
	if h.cfg.Observer == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &Recorder{ResponseWriter: w}
		defer func() {
			op := helperOps[r.URL.Path]
			if op == OpGetObject && r.Method == http.MethodHead {
				op = OpHeadObject
			}
			e := rec.Event("helper", string(op), start)
			h.cfg.Observer.Request(e)
			LogRequest(r.Context(), h.log, e, r.Method, r.URL.Path)
		}()
		next.ServeHTTP(rec, r)
	})
}

// methods rejects requests whose method is not listed with 405 and an
// Allow header.
func methods(next http.Handler, allowed ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range allowed {
			if r.Method == m {
				next.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeJSONError(w, r, &APIError{
			Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed",
			Message: "The method " + r.Method + " is not allowed on this path; use " + strings.Join(allowed, " or ") + ".",
		}, "", "", NewRequestID())
	})
}

func (h *Helper) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *Helper) ready(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Ready != nil && !h.cfg.Ready() {
		writeJSON(w, r, http.StatusServiceUnavailable, map[string]string{"status": "upstream not answering"})
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"status": "ready"})
}

func (h *Helper) debugConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, h.cfg.DebugConfig)
}

// getObject streams one object, honouring Range and conditional headers.
func (h *Helper) getObject(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.RawQuery, "bucket", "key", "versionId")
	if err != nil {
		h.writeError(w, r, err, "", "")
		return
	}
	bucket, key := h.bucket(q), q.Get("key")
	if err := requireBucketKey(bucket, key, true); err != nil {
		h.writeError(w, r, err, bucket, key)
		return
	}

	op := OpGetObject
	if r.Method == http.MethodHead {
		op = OpHeadObject
	}
	req := &ReadRequest{Op: op, Bucket: bucket, Key: key, Header: copyHeaders(r.Header, ReadHeaders)}
	if v := q.Get("versionId"); v != "" {
		req.Query = url.Values{"versionId": {v}}
	}

	h.serveRead(w, r, req, func(resp *ReadResponse) {
		relayObject(w, r, resp, h.log)
	})
}

// serveRead runs req through the read path and hands a successful result
// to write; errors, including the upstream's, become JSON errors.
func (h *Helper) serveRead(w http.ResponseWriter, r *http.Request, req *ReadRequest, write func(*ReadResponse)) {
	resp, err := h.reads.Read(r.Context(), req)
	if err != nil {
		h.writeError(w, r, err, req.Bucket, req.Key)
		return
	}
	defer resp.Body.Close()
	if rec, ok := w.(*Recorder); ok {
		rec.Observe(resp)
	}

	status := resp.Meta.StatusCode
	if status >= 300 && status != http.StatusNotModified {
		apiErr := ParseUpstreamError(status, resp.Body, req.Op)
		if status >= 500 && status != http.StatusServiceUnavailable {
			apiErr = ErrBadGateway
		}
		if status == http.StatusRequestedRangeNotSatisfiable {
			if cr := resp.Meta.Header.Get("Content-Range"); cr != "" {
				w.Header().Set("Content-Range", cr)
			}
		}
		h.writeError(w, r, apiErr, req.Bucket, req.Key)
		return
	}
	write(resp)
}

// objectHeaders are the upstream response headers relayed with an object,
// besides x-amz-meta-* and the other x-amz-* object headers.
var objectHeaders = []string{
	"Accept-Ranges",
	"Cache-Control",
	"Content-Disposition",
	"Content-Encoding",
	"Content-Language",
	"Content-Range",
	"Content-Type",
	"ETag",
	"Expires",
	"Last-Modified",
}

// relayObject writes an object response: its headers, its status and, for
// GET, its streamed body. A body cut short aborts the connection so the
// client cannot take a truncated object for a whole one.
func relayObject(w http.ResponseWriter, r *http.Request, resp *ReadResponse, log *slog.Logger) {
	meta := resp.Meta
	out := w.Header()
	for _, name := range objectHeaders {
		if v := meta.Header.Values(name); len(v) > 0 {
			out[name] = append([]string(nil), v...)
		}
	}
	for name, v := range meta.Header {
		if strings.HasPrefix(name, "X-Amz-") && name != "X-Amz-Id-2" {
			out[WireHeaderName(name)] = append([]string(nil), v...)
		}
	}
	if meta.ContentLength >= 0 && meta.StatusCode != http.StatusNotModified {
		out.Set("Content-Length", strconv.FormatInt(meta.ContentLength, 10))
	}
	w.WriteHeader(meta.StatusCode)

	if r.Method == http.MethodHead || meta.StatusCode == http.StatusNotModified {
		return
	}
	n, err := CopyBody(w, resp.Body)
	if err != nil {
		if r.Context().Err() == nil {
			log.Warn("object response cut short", "path", r.URL.Path, "bytes_sent", n, "error", err)
		}
		panic(http.ErrAbortHandler)
	}
}

func (h *Helper) bucket(q url.Values) string {
	if b := q.Get("bucket"); b != "" {
		return b
	}
	return h.cfg.DefaultBucket
}

func requireBucketKey(bucket, key string, needKey bool) error {
	if bucket == "" {
		return InvalidArgument("Missing bucket: pass the bucket parameter or start the agent with --default-bucket.")
	}
	if needKey && key == "" {
		return InvalidArgument("Missing key: pass the key parameter.")
	}
	return nil
}

// parseQuery decodes a raw query exactly once. It rejects malformed
// escapes, repeated parameters and parameters not in allowed.
func parseQuery(raw string, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, InvalidArgument("The query string is not validly escaped; escape '%' as %25 and '+' as %2B.")
	}
	for name, values := range q {
		if !contains(allowed, name) {
			return nil, InvalidArgument("Unknown query parameter " + strconv.Quote(name) + "; accepted: " + strings.Join(allowed, ", ") + ".")
		}
		if len(values) > 1 {
			return nil, InvalidArgument("The query parameter " + strconv.Quote(name) + " is given more than once.")
		}
	}
	return q, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// copyHeaders returns the listed headers of h that are set.
func copyHeaders(h http.Header, names []string) http.Header {
	out := http.Header{}
	for _, name := range names {
		if v := h.Values(name); len(v) > 0 {
			out[name] = append([]string(nil), v...)
		}
	}
	return out
}

// writeError writes err as a JSON error; a client that hung up gets
// nothing.
func (h *Helper) writeError(w http.ResponseWriter, r *http.Request, err error, bucket, key string) {
	apiErr, gone := ToAPIError(r.Context(), err)
	if gone != nil {
		return
	}
	var own *APIError
	if !errors.As(err, &own) && apiErr.Status >= 500 {
		h.log.Error("request failed", "path", r.URL.Path, "bucket", bucket, "key", key, "error", err)
	}
	writeJSONError(w, r, apiErr, bucket, key, NewRequestID())
}

// jsonError is the helper API's error body; field names follow S3's XML
// error.
type jsonError struct {
	Code      string
	Message   string
	Bucket    string
	Key       string
	RequestId string //nolint:revive // S3's field name.
}

func writeJSONError(w http.ResponseWriter, r *http.Request, e *APIError, bucket, key, requestID string) {
	w.Header().Del("Content-Length")
	w.Header().Set("X-Amz-Request-Id", requestID)
	writeJSON(w, r, e.Status, jsonError{Code: e.Code, Message: e.Message, Bucket: bucket, Key: key, RequestId: requestID})
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"Code":"InternalError","Message":"The agent could not encode its response."}`)
		status = http.StatusInternalServerError
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

// NewRequestID returns a random request ID for error responses and
// logs: 16 upper-case hex digits, like S3's.
func NewRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// WireHeaderName returns the name under which a relayed response header is
// written. Go's client canonicalises names (X-Amz-Meta-Foo), but S3 sends
// x-amz-* names in lower case, and SDKs such as boto3 build user metadata
// keys from the name as received, so those go out in lower case again.
// Other names keep Go's form; HTTP names are case-insensitive.
func WireHeaderName(name string) string {
	if strings.HasPrefix(name, "X-Amz-") {
		return strings.ToLower(name)
	}
	return name
}
