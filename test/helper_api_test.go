package test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// listBucketsBody is the helper API's /s3/listBuckets response.
type listBucketsBody struct {
	Buckets []struct {
		Name         string
		CreationDate string
	}
}

// listObjectsBody is the helper API's /s3/listObjects response.
type listObjectsBody struct {
	Name                  string
	Prefix                string
	Delimiter             string
	MaxKeys               int
	KeyCount              int
	IsTruncated           bool
	NextContinuationToken string
	Contents              []listedObject
	CommonPrefixes        []struct{ Prefix string }
}

type listedObject struct {
	Key          string
	LastModified string
	Size         int64
	ETag         string
	StorageClass string
}

func (b listObjectsBody) keys() []string {
	keys := []string{}
	for _, c := range b.Contents {
		keys = append(keys, c.Key)
	}
	return keys
}

func (b listObjectsBody) prefixes() []string {
	prefixes := []string{}
	for _, p := range b.CommonPrefixes {
		prefixes = append(prefixes, p.Prefix)
	}
	return prefixes
}

// checkRFC3339UTC fails the test unless s is an RFC 3339 time in UTC
// (ending in Z) within an hour of now.
func checkRFC3339UTC(t *testing.T, what, s string) {
	t.Helper()
	parsed, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Errorf("%s = %q, want an RFC 3339 time: %v", what, s, err)
		return
	}
	if !strings.HasSuffix(s, "Z") {
		t.Errorf("%s = %q, want UTC with a Z suffix", what, s)
	}
	if d := time.Since(parsed); d < -time.Hour || d > time.Hour {
		t.Errorf("%s = %q, want a time within an hour of now", what, s)
	}
}

func TestHelperHealth(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})

	var body map[string]string
	decodeJSON(t, "GET /health", st.get(t, "/health"), &body)
	if diff := cmp.Diff(map[string]string{"status": "ok"}, body); diff != "" {
		t.Errorf("GET /health body mismatch (-want +got):\n%s", diff)
	}

	head := st.do(t, http.MethodHead, "/health")
	if head.status != http.StatusOK {
		t.Errorf("HEAD /health status = %d, want 200", head.status)
	}
	if len(head.body) != 0 {
		t.Errorf("HEAD /health body = %q, want empty", head.body)
	}
	if n := st.counter.Total(); n != 0 {
		t.Errorf("upstream requests after /health = %d, want 0", n)
	}
}

func TestHelperListBuckets(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"beta", "alpha"}})

	var body listBucketsBody
	decodeJSON(t, "GET /s3/listBuckets", st.get(t, "/s3/listBuckets"), &body)

	var names []string
	for _, b := range body.Buckets {
		names = append(names, b.Name)
		checkRFC3339UTC(t, "CreationDate of "+b.Name, b.CreationDate)
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"alpha", "beta"}, names); diff != "" {
		t.Errorf("listBuckets names mismatch (-want +got):\n%s", diff)
	}
	if n := st.counter.Count(http.MethodGet, "", ""); n != 1 {
		t.Errorf("upstream ListBuckets calls = %d, want 1", n)
	}

	extra := st.get(t, "/s3/listBuckets?bucket=alpha")
	decodeAPIError(t, "listBuckets with a bucket parameter", extra, http.StatusBadRequest, "InvalidArgument")
}

// listFixture is the object set of the listObjects tests.
var listFixture = []string{
	"docs/d.txt",
	"e.txt",
	"photos/2024/a.jpg",
	"photos/2025/b.jpg",
	"photos/c.jpg",
}

func TestHelperListObjects(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})
	etags := map[string]string{}
	for _, key := range listFixture {
		etags[key] = st.s3.Put(t, "bkt", key, []byte("data of "+key), "", nil).ETag
	}

	tests := []struct {
		name         string
		params       []string
		wantKeys     []string
		wantPrefixes []string
		wantMaxKeys  int
		wantTrunc    bool
	}{
		{
			name:         "whole bucket",
			params:       nil,
			wantKeys:     listFixture,
			wantPrefixes: []string{},
			wantMaxKeys:  1000,
		},
		{
			name:         "prefix",
			params:       []string{"prefix", "photos/"},
			wantKeys:     []string{"photos/2024/a.jpg", "photos/2025/b.jpg", "photos/c.jpg"},
			wantPrefixes: []string{},
			wantMaxKeys:  1000,
		},
		{
			name:         "prefix and delimiter",
			params:       []string{"prefix", "photos/", "delimiter", "/"},
			wantKeys:     []string{"photos/c.jpg"},
			wantPrefixes: []string{"photos/2024/", "photos/2025/"},
			wantMaxKeys:  1000,
		},
		{
			name:         "delimiter at the top level",
			params:       []string{"delimiter", "/"},
			wantKeys:     []string{"e.txt"},
			wantPrefixes: []string{"docs/", "photos/"},
			wantMaxKeys:  1000,
		},
		{
			name:         "startAfter",
			params:       []string{"startAfter", "photos/2024/a.jpg"},
			wantKeys:     []string{"photos/2025/b.jpg", "photos/c.jpg"},
			wantPrefixes: []string{},
			wantMaxKeys:  1000,
		},
		{
			name:         "maxKeys truncates",
			params:       []string{"maxKeys", "2"},
			wantKeys:     []string{"docs/d.txt", "e.txt"},
			wantPrefixes: []string{},
			wantMaxKeys:  2,
			wantTrunc:    true,
		},
		{
			name:         "prefix that matches nothing",
			params:       []string{"prefix", "none/"},
			wantKeys:     []string{},
			wantPrefixes: []string{},
			wantMaxKeys:  1000,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := append([]string{"bucket", "bkt"}, tt.params...)
			path := helperQuery("/s3/listObjects", params...)
			var body listObjectsBody
			decodeJSON(t, "GET "+path, st.get(t, path), &body)

			if diff := cmp.Diff(tt.wantKeys, body.keys()); diff != "" {
				t.Errorf("GET %s keys mismatch (-want +got):\n%s", path, diff)
			}
			if diff := cmp.Diff(tt.wantPrefixes, body.prefixes()); diff != "" {
				t.Errorf("GET %s CommonPrefixes mismatch (-want +got):\n%s", path, diff)
			}
			if body.Name != "bkt" {
				t.Errorf("GET %s Name = %q, want bkt", path, body.Name)
			}
			if body.MaxKeys != tt.wantMaxKeys {
				t.Errorf("GET %s MaxKeys = %d, want %d", path, body.MaxKeys, tt.wantMaxKeys)
			}
			if want := len(tt.wantKeys) + len(tt.wantPrefixes); body.KeyCount != want {
				t.Errorf("GET %s KeyCount = %d, want %d", path, body.KeyCount, want)
			}
			if body.IsTruncated != tt.wantTrunc {
				t.Errorf("GET %s IsTruncated = %v, want %v", path, body.IsTruncated, tt.wantTrunc)
			}
			if tt.wantTrunc && body.NextContinuationToken == "" {
				t.Errorf("GET %s NextContinuationToken is empty on a truncated page", path)
			}
			for _, c := range body.Contents {
				checkRFC3339UTC(t, "LastModified of "+c.Key, c.LastModified)
				if want := int64(len("data of " + c.Key)); c.Size != want {
					t.Errorf("Size of %s = %d, want %d", c.Key, c.Size, want)
				}
				if c.ETag != etags[c.Key] {
					t.Errorf("ETag of %s = %q, want %q as PutObject returned", c.Key, c.ETag, etags[c.Key])
				}
				if c.StorageClass == "" {
					t.Errorf("StorageClass of %s is empty, want STANDARD or another class", c.Key)
				}
			}
		})
	}
}

func TestHelperListObjectsPaging(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})
	var want []string
	for i := range 23 {
		key := "page/" + strconv.Itoa(100+i) + ".txt"
		want = append(want, key)
		st.s3.Put(t, "bkt", key, []byte(key), "", nil)
	}

	seen := map[string]int{}
	var got []string
	token := ""
	pages := 0
	for {
		pages++
		if pages > 10 {
			t.Fatalf("listObjects paging did not end after 10 pages of 5 keys for 23 keys")
		}
		params := []string{"bucket", "bkt", "prefix", "page/", "maxKeys", "5"}
		if token != "" {
			params = append(params, "continuationToken", token)
		}
		path := helperQuery("/s3/listObjects", params...)
		var body listObjectsBody
		decodeJSON(t, "GET "+path, st.get(t, path), &body)

		if len(body.Contents) > 5 {
			t.Errorf("page %d has %d keys, want at most maxKeys 5", pages, len(body.Contents))
		}
		for _, key := range body.keys() {
			seen[key]++
			got = append(got, key)
		}
		if !body.IsTruncated {
			if body.NextContinuationToken != "" {
				t.Errorf("last page NextContinuationToken = %q, want empty", body.NextContinuationToken)
			}
			break
		}
		if body.NextContinuationToken == "" {
			t.Fatalf("page %d is truncated but has no NextContinuationToken", pages)
		}
		token = body.NextContinuationToken
	}

	if pages != 5 {
		t.Errorf("pages for 23 keys with maxKeys 5 = %d, want 5", pages)
	}
	for key, n := range seen {
		if n != 1 {
			t.Errorf("key %s listed %d times across pages, want once", key, n)
		}
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("keys across pages mismatch (-want +got):\n%s", diff)
	}
}

func TestHelperListObjectsInvalidParameters(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})

	tests := []struct {
		name  string
		query string
	}{
		{name: "maxKeys zero", query: "bucket=bkt&maxKeys=0"},
		{name: "maxKeys above 1000", query: "bucket=bkt&maxKeys=1001"},
		{name: "maxKeys not a number", query: "bucket=bkt&maxKeys=abc"},
		{name: "maxKeys negative", query: "bucket=bkt&maxKeys=-1"},
		{name: "unknown parameter", query: "bucket=bkt&max-keys=5"},
		{name: "repeated parameter", query: "bucket=bkt&prefix=a&prefix=b"},
		{name: "invalid escape", query: "bucket=bkt&prefix=%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/s3/listObjects?" + tt.query
			decodeAPIError(t, "GET "+path, st.get(t, path), http.StatusBadRequest, "InvalidArgument")
		})
	}
	if n := st.bucketRequests(); n != 0 {
		t.Errorf("upstream requests for rejected listObjects calls = %d, want 0", n)
	}
}

func TestHelperGetObject(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})
	data := randomBytes(t, 4096)
	put := st.s3.Put(t, "bkt", "model.bin", data, "application/x-test-model",
		map[string]string{"color": "blue", "owner-team": "ml"})

	r := st.get(t, helperQuery("/s3/getObject", "bucket", "bkt", "key", "model.bin"))
	mustStatus(t, "getObject", r, http.StatusOK)

	if !slices.Equal(r.body, data) {
		t.Errorf("getObject body: %d bytes that differ from the %d-byte object", len(r.body), len(data))
	}
	wantHeaders := map[string]string{
		"Content-Type":          "application/x-test-model",
		"Content-Length":        "4096",
		"ETag":                  put.ETag,
		"X-Amz-Meta-Color":      "blue",
		"X-Amz-Meta-Owner-Team": "ml",
	}
	for name, want := range wantHeaders {
		if got := r.header.Get(name); got != want {
			t.Errorf("getObject header %s = %q, want %q", name, got, want)
		}
	}
	lastModified, err := http.ParseTime(r.header.Get("Last-Modified"))
	if err != nil {
		t.Errorf("getObject Last-Modified = %q, want an HTTP date: %v", r.header.Get("Last-Modified"), err)
	} else if d := time.Since(lastModified); d < -time.Hour || d > time.Hour {
		t.Errorf("getObject Last-Modified = %v, want within an hour of now", lastModified)
	}
	if n := st.counter.Count(http.MethodGet, "bkt", "model.bin"); n != 1 {
		t.Errorf("upstream GETs = %d, want 1", n)
	}
}

func TestHelperGetObjectRange(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})
	data := randomBytes(t, 1000)
	st.s3.Put(t, "bkt", "r.bin", data, "application/octet-stream", nil)
	path := helperQuery("/s3/getObject", "bucket", "bkt", "key", "r.bin")

	tests := []struct {
		name             string
		rangeHeader      string
		wantBody         []byte
		wantContentRange string
	}{
		{name: "first bytes", rangeHeader: "bytes=0-9", wantBody: data[:10], wantContentRange: "bytes 0-9/1000"},
		{name: "middle", rangeHeader: "bytes=100-199", wantBody: data[100:200], wantContentRange: "bytes 100-199/1000"},
		{name: "open end", rangeHeader: "bytes=990-", wantBody: data[990:], wantContentRange: "bytes 990-999/1000"},
		{name: "suffix", rangeHeader: "bytes=-10", wantBody: data[990:], wantContentRange: "bytes 990-999/1000"},
		{name: "end past the object", rangeHeader: "bytes=995-2000", wantBody: data[995:], wantContentRange: "bytes 995-999/1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := st.get(t, path, "Range", tt.rangeHeader)
			mustStatus(t, "getObject Range "+tt.rangeHeader, r, http.StatusPartialContent)
			if !slices.Equal(r.body, tt.wantBody) {
				t.Errorf("getObject Range %s body: %d bytes, want the %d bytes of that range", tt.rangeHeader, len(r.body), len(tt.wantBody))
			}
			if got := r.header.Get("Content-Range"); got != tt.wantContentRange {
				t.Errorf("getObject Range %s Content-Range = %q, want %q", tt.rangeHeader, got, tt.wantContentRange)
			}
			if got, want := r.header.Get("Content-Length"), strconv.Itoa(len(tt.wantBody)); got != want {
				t.Errorf("getObject Range %s Content-Length = %q, want %q", tt.rangeHeader, got, want)
			}
		})
	}

	t.Run("unsatisfiable", func(t *testing.T) {
		r := st.get(t, path, "Range", "bytes=5000-")
		e := decodeAPIError(t, "getObject Range bytes=5000-", r, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
		if e.Bucket != "bkt" || e.Key != "r.bin" {
			t.Errorf("unsatisfiable range error Bucket, Key = %q, %q, want bkt, r.bin", e.Bucket, e.Key)
		}
	})
}

func TestHelperHeadObject(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})
	put := st.s3.Put(t, "bkt", "h.bin", randomBytes(t, 3000), "application/x-head", map[string]string{"color": "red"})
	path := helperQuery("/s3/getObject", "bucket", "bkt", "key", "h.bin")

	r := st.do(t, http.MethodHead, path)
	mustStatus(t, "HEAD getObject", r, http.StatusOK)
	if len(r.body) != 0 {
		t.Errorf("HEAD getObject body = %d bytes, want none", len(r.body))
	}
	wantHeaders := map[string]string{
		"Content-Length":   "3000",
		"Content-Type":     "application/x-head",
		"ETag":             put.ETag,
		"X-Amz-Meta-Color": "red",
	}
	for name, want := range wantHeaders {
		if got := r.header.Get(name); got != want {
			t.Errorf("HEAD getObject header %s = %q, want %q", name, got, want)
		}
	}
	if n := st.counter.Count(http.MethodHead, "bkt", "h.bin"); n != 1 {
		t.Errorf("upstream HEADs = %d, want 1", n)
	}
	if n := st.counter.Count(http.MethodGet, "bkt", "h.bin"); n != 0 {
		t.Errorf("upstream GETs for a HEAD = %d, want 0", n)
	}

	missing := st.do(t, http.MethodHead, helperQuery("/s3/getObject", "bucket", "bkt", "key", "missing"))
	if missing.status != http.StatusNotFound {
		t.Errorf("HEAD of a missing key status = %d, want 404", missing.status)
	}
	if len(missing.body) != 0 {
		t.Errorf("HEAD of a missing key body = %q, want none", missing.body)
	}
}

func TestHelperGetObjectVersionID(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{versioning: true, buckets: []string{"vbkt"}})
	st.s3.EnableVersioning(t, "vbkt")
	v1 := st.s3.Put(t, "vbkt", "obj", []byte("version one"), "", nil)
	v2 := st.s3.Put(t, "vbkt", "obj", []byte("version two"), "", nil)
	if v1.VersionID == "" || v1.VersionID == v2.VersionID {
		t.Fatalf("PutObject version ids = %q, %q, want two different ids", v1.VersionID, v2.VersionID)
	}

	tests := []struct {
		name      string
		versionID string
		want      string
		wantID    string
	}{
		{name: "older version", versionID: v1.VersionID, want: "version one", wantID: v1.VersionID},
		{name: "newer version", versionID: v2.VersionID, want: "version two", wantID: v2.VersionID},
		{name: "no versionId reads the latest", versionID: "", want: "version two", wantID: v2.VersionID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := []string{"bucket", "vbkt", "key", "obj"}
			if tt.versionID != "" {
				params = append(params, "versionId", tt.versionID)
			}
			st.counter.Reset()
			r := st.get(t, helperQuery("/s3/getObject", params...))
			mustStatus(t, "getObject "+tt.name, r, http.StatusOK)
			if string(r.body) != tt.want {
				t.Errorf("getObject %s body = %q, want %q", tt.name, r.body, tt.want)
			}
			if got := r.header.Get("X-Amz-Version-Id"); got != tt.wantID {
				t.Errorf("getObject %s X-Amz-Version-Id = %q, want %q", tt.name, got, tt.wantID)
			}
			requests := st.counter.Requests()
			if len(requests) != 1 {
				t.Fatalf("upstream requests = %d, want 1", len(requests))
			}
			if got := requests[0].Query.Get("versionId"); got != tt.versionID {
				t.Errorf("upstream versionId = %q, want %q", got, tt.versionID)
			}
		})
	}
}

func TestHelperMissingBucket(t *testing.T) {
	t.Parallel()
	t.Run("no default bucket", func(t *testing.T) {
		st := newStack(t, stackOptions{buckets: []string{"bkt"}})
		st.s3.Put(t, "bkt", "k", []byte("k in bkt"), "", nil)

		for _, path := range []string{
			helperQuery("/s3/getObject", "key", "k"),
			helperQuery("/s3/getObject", "bucket", "", "key", "k"),
			"/s3/listObjects",
		} {
			decodeAPIError(t, "GET "+path, st.get(t, path), http.StatusBadRequest, "InvalidArgument")
		}
		missingKey := helperQuery("/s3/getObject", "bucket", "bkt")
		decodeAPIError(t, "GET "+missingKey, st.get(t, missingKey), http.StatusBadRequest, "InvalidArgument")
		if n := st.bucketRequests(); n != 0 {
			t.Errorf("upstream requests for rejected calls = %d, want 0", n)
		}
	})

	t.Run("default bucket", func(t *testing.T) {
		st := newStack(t, stackOptions{buckets: []string{"bkt", "other"}, agentArgs: []string{"--default-bucket=bkt"}})
		st.s3.Put(t, "bkt", "k", []byte("k in bkt"), "", nil)
		st.s3.Put(t, "other", "k", []byte("k in other"), "", nil)

		r := st.get(t, helperQuery("/s3/getObject", "key", "k"))
		mustStatus(t, "getObject without bucket", r, http.StatusOK)
		if string(r.body) != "k in bkt" {
			t.Errorf("getObject without bucket body = %q, want %q from the default bucket", r.body, "k in bkt")
		}

		r = st.get(t, helperQuery("/s3/getObject", "bucket", "other", "key", "k"))
		mustStatus(t, "getObject with bucket=other", r, http.StatusOK)
		if string(r.body) != "k in other" {
			t.Errorf("getObject with bucket=other body = %q, want %q", r.body, "k in other")
		}

		var list listObjectsBody
		decodeJSON(t, "listObjects without bucket", st.get(t, "/s3/listObjects"), &list)
		if list.Name != "bkt" {
			t.Errorf("listObjects without bucket Name = %q, want bkt", list.Name)
		}
		if diff := cmp.Diff([]string{"k"}, list.keys()); diff != "" {
			t.Errorf("listObjects without bucket keys mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestHelperNotFoundErrors(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})

	tests := []struct {
		name       string
		path       string
		wantCode   string
		wantBucket string
		wantKey    string
	}{
		{
			name:     "missing key",
			path:     helperQuery("/s3/getObject", "bucket", "bkt", "key", "no/such key.txt"),
			wantCode: "NoSuchKey", wantBucket: "bkt", wantKey: "no/such key.txt",
		},
		{
			name:     "object in a missing bucket",
			path:     helperQuery("/s3/getObject", "bucket", "nobucket", "key", "k"),
			wantCode: "NoSuchBucket", wantBucket: "nobucket", wantKey: "k",
		},
		{
			name:     "list of a missing bucket",
			path:     helperQuery("/s3/listObjects", "bucket", "nobucket"),
			wantCode: "NoSuchBucket", wantBucket: "nobucket",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := st.get(t, tt.path)
			e := decodeAPIError(t, "GET "+tt.path, r, http.StatusNotFound, tt.wantCode)
			if e.Bucket != tt.wantBucket {
				t.Errorf("GET %s error Bucket = %q, want %q", tt.path, e.Bucket, tt.wantBucket)
			}
			if e.Key != tt.wantKey {
				t.Errorf("GET %s error Key = %q, want %q", tt.path, e.Key, tt.wantKey)
			}
		})
	}
}

func TestHelperUnknownPath(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	for _, path := range []string{"/", "/nope", "/s3", "/s3/getobject", "/s3/putObject", "/bkt/key"} {
		decodeAPIError(t, "GET "+path, st.get(t, path), http.StatusNotFound, "NotFound")
	}
	if n := st.bucketRequests(); n != 0 {
		t.Errorf("upstream requests for unknown paths = %d, want 0", n)
	}
}

func TestHelperMethodNotAllowed(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})
	st.s3.Put(t, "bkt", "k", []byte("keep me"), "", nil)

	paths := []string{
		helperQuery("/s3/getObject", "bucket", "bkt", "key", "k"),
		helperQuery("/s3/listObjects", "bucket", "bkt"),
		"/s3/listBuckets",
		"/health",
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, path := range paths {
			r := st.do(t, method, path)
			decodeAPIError(t, method+" "+path, r, http.StatusMethodNotAllowed, "MethodNotAllowed")
			if allow := r.header.Get("Allow"); !strings.Contains(allow, http.MethodGet) {
				t.Errorf("%s %s Allow = %q, want a list with GET", method, path, allow)
			}
		}
	}
	if n := st.bucketRequests(); n != 0 {
		t.Errorf("upstream requests for rejected methods = %d, want 0", n)
	}
	if got := st.s3.Get(t, "bkt", "k"); string(got) != "keep me" {
		t.Errorf("object after rejected writes = %q, want %q", got, "keep me")
	}
}

func TestHelperMetrics(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})
	st.s3.Put(t, "bkt", "k", []byte("x"), "", nil)
	mustStatus(t, "getObject", st.get(t, helperQuery("/s3/getObject", "bucket", "bkt", "key", "k")), http.StatusOK)

	r := st.get(t, "/metrics")
	mustStatus(t, "GET /metrics", r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") && !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("GET /metrics Content-Type = %q, want the Prometheus text format", ct)
	}
	if !strings.Contains(string(r.body), "# TYPE ") {
		t.Errorf("GET /metrics body has no # TYPE line, want Prometheus metrics; body %.300s", r.body)
	}
}
