package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/s3-batching-agent/s3-batching-agent/batching"
)

// Op is an S3 read operation that may be coalesced.
type Op string

// The S3 read operations that go through the batching layer.
const (
	OpGetObject         Op = "GetObject"
	OpHeadObject        Op = "HeadObject"
	OpListObjectsV2     Op = "ListObjectsV2"
	OpListObjects       Op = "ListObjects"
	OpListBuckets       Op = "ListBuckets"
	OpHeadBucket        Op = "HeadBucket"
	OpGetBucketLocation Op = "GetBucketLocation"
)

// ObjectLevel reports whether op addresses one object.
func (op Op) ObjectLevel() bool {
	return op == OpGetObject || op == OpHeadObject
}

// Method returns the HTTP method that carries op.
func (op Op) Method() string {
	if op == OpHeadObject || op == OpHeadBucket {
		return http.MethodHead
	}
	return http.MethodGet
}

// ReadRequest is a read in canonical form, whichever front door it came
// through. Everything in it is sent upstream and is part of the
// coalescing key, so front doors put only what the upstream should see
// into Query and Header.
type ReadRequest struct {
	Op     Op
	Bucket string
	Key    string
	Query  url.Values
	Header http.Header
}

// CoalesceKey identifies reads that may share one upstream call. Bucket and
// Object name the object a write invalidates; Variant holds everything else
// that can change the response.
type CoalesceKey struct {
	Bucket  string
	Object  string
	Variant string
}

// noCoalesceHeaders mark requests whose response depends on a secret the
// request carries: such requests never share a call.
var noCoalesceHeaders = []string{
	"X-Amz-Server-Side-Encryption-Customer-Algorithm",
	"X-Amz-Server-Side-Encryption-Customer-Key",
	"X-Amz-Server-Side-Encryption-Customer-Key-Md5",
}

// ReadHeaders are the request headers a front door forwards on reads;
// each can change the response and so is part of the coalescing key.
var ReadHeaders = []string{
	"Range",
	"If-Match",
	"If-None-Match",
	"If-Modified-Since",
	"If-Unmodified-Since",
	"X-Amz-Checksum-Mode",
	"X-Amz-Request-Payer",
	"X-Amz-Expected-Bucket-Owner",
	"X-Amz-Server-Side-Encryption-Customer-Algorithm",
	"X-Amz-Server-Side-Encryption-Customer-Key",
	"X-Amz-Server-Side-Encryption-Customer-Key-Md5",
}

// Coalescable reports whether r may share an upstream call.
func (r *ReadRequest) Coalescable() bool {
	for _, h := range noCoalesceHeaders {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	return true
}

// CoalesceKey returns the key under which r may share an upstream call.
func (r *ReadRequest) CoalesceKey() CoalesceKey {
	var b strings.Builder
	b.WriteString(string(r.Op))
	b.WriteByte('\n')
	b.WriteString(EncodeQuery(r.Query))
	b.WriteByte('\n')

	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b.WriteString(strings.ToLower(name))
		b.WriteByte(':')
		b.WriteString(strings.Join(r.Header[name], ","))
		b.WriteByte('\n')
	}

	k := CoalesceKey{Bucket: r.Bucket, Variant: b.String()}
	if r.Op.ObjectLevel() {
		k.Object = r.Key
	}
	return k
}

// ReadResult is the upstream's response to a read, shared by every member of
// a group. It must not be modified.
type ReadResult struct {
	StatusCode    int
	Header        http.Header
	ContentLength int64 // -1 when unknown
}

// ReadResponse is one caller's share of a read.
type ReadResponse = batching.Response[*ReadResult]

// ReadPath sends reads upstream through the batching layer. It is safe for
// concurrent use.
type ReadPath struct {
	upstream *Upstream
	groups   *batching.Coalescer[CoalesceKey, *ReadResult]
	direct   *batching.Coalescer[CoalesceKey, *ReadResult]
	log      *slog.Logger
}

// NewReadPath returns a ReadPath that groups reads according to cfg. A nil
// logger discards logs.
func NewReadPath(up *Upstream, cfg batching.Config, log *slog.Logger) *ReadPath {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ReadPath{
		upstream: up,
		groups:   batching.New[CoalesceKey, *ReadResult](cfg),
		direct:   batching.New[CoalesceKey, *ReadResult](batching.Config{Disabled: true}),
		log:      log,
	}
}

// Read joins or starts the upstream call for req. The caller closes the
// response body. An error means no response came back from the upstream;
// S3 error responses arrive as results with their status.
func (p *ReadPath) Read(ctx context.Context, req *ReadRequest) (*ReadResponse, error) {
	call := func(ctx context.Context) (*ReadResult, io.ReadCloser, error) {
		return p.call(ctx, req)
	}
	if !req.Coalescable() {
		return p.direct.Do(ctx, CoalesceKey{}, call)
	}
	return p.groups.Do(ctx, req.CoalesceKey(), call)
}

// SealObject closes the groups of reads that a write to bucket/key makes
// stale: reads of that object and listings of that bucket. Reads that start
// after it returns go upstream afresh.
func (p *ReadPath) SealObject(bucket, key string) {
	p.groups.Seal(func(k CoalesceKey) bool {
		return k.Bucket == bucket && (k.Object == key || k.Object == "")
	})
}

// OpenGroups returns the number of read groups waiting for or running an
// upstream call.
func (p *ReadPath) OpenGroups() int {
	return p.groups.OpenGroups()
}

func (p *ReadPath) call(ctx context.Context, req *ReadRequest) (*ReadResult, io.ReadCloser, error) {
	resp, err := p.upstream.Do(ctx, &Request{
		Op:     string(req.Op),
		Method: req.Op.Method(),
		Bucket: req.Bucket,
		Key:    req.Key,
		Query:  req.Query,
		Header: req.Header,
		Retry:  true,
	})
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("upstream read failed", "op", req.Op, "bucket", req.Bucket, "key", req.Key, "error", err)
		}
		return nil, nil, err
	}
	if resp.StatusCode >= 500 {
		p.log.Warn("upstream read returned a server error",
			"op", req.Op, "bucket", req.Bucket, "key", req.Key, "status", resp.StatusCode,
			"upstream_request_id", resp.Header.Get("X-Amz-Request-Id"))
	}

	result := &ReadResult{
		StatusCode:    resp.StatusCode,
		Header:        resp.Header,
		ContentLength: resp.ContentLength,
	}
	removeHopHeaders(result.Header)
	length := resp.ContentLength
	if req.Op.Method() == http.MethodHead {
		length = 0 // the object's size, but no body follows
	}
	return result, sizedBody{resp.Body, length}, nil
}

// sizedBody reports a body's length to the batching layer (-1 when unknown), so
// large objects stream in larger chunks.
type sizedBody struct {
	io.ReadCloser
	length int64
}

func (b sizedBody) ContentLength() int64 { return b.length }

// hopHeaders belong to one connection and are not relayed (RFC 9110,
// section 7.6.1).
var hopHeaders = map[string]bool{
	"Connection":          true,
	"Keep-Alive":          true,
	"Proxy-Connection":    true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
}

// IsHopHeader reports whether the canonical header name belongs to one
// connection and must not be relayed.
func IsHopHeader(name string) bool { return hopHeaders[name] }

func removeHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for name := range hopHeaders {
		h.Del(name)
	}
}

// SealBucket closes every read group of bucket, as a write that can change
// any of its keys requires (DeleteObjects, bucket-level changes).
func (p *ReadPath) SealBucket(bucket string) {
	p.groups.Seal(func(k CoalesceKey) bool { return k.Bucket == bucket })
}
