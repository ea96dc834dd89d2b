package test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestHelperKeysNeedingEscapes reads keys whose characters mean something
// in a query string or a path. Each object has its own content, so a key
// decoded twice, or not at all, reads another object or none.
//
// versitygw v1.8.0's posix backend stores "dir//x" as the file dir/x, so
// "dir//x" and "dir/x" cannot be two objects there, and a listing shows
// "dir/x". The test therefore stores only "dir//x" and checks that the
// agent's upstream request keeps both slashes.
func TestHelperKeysNeedingEscapes(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{buckets: []string{"bkt"}})

	tests := []struct {
		name string
		key  string
	}{
		{name: "space and plus", key: "a b+c.txt"},
		{name: "percent", key: "100%.txt"},
		{name: "escaped-looking percent", key: "100%25.txt"},
		{name: "double slash", key: "dir//x"},
		{name: "non-ASCII", key: "ünï/日本.txt"},
		{name: "query characters", key: "q?x=1&y=2#frag"},
	}
	for _, tt := range tests {
		st.s3.Put(t, "bkt", tt.key, []byte("content of "+tt.key), "text/plain; charset=utf-8", nil)
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st.counter.Reset()
			query := url.Values{"bucket": {"bkt"}, "key": {tt.key}}.Encode()
			r := st.get(t, "/s3/getObject?"+query)
			mustStatus(t, "getObject "+query, r, http.StatusOK)

			if want := "content of " + tt.key; string(r.body) != want {
				t.Errorf("getObject(%q) body = %q, want %q", tt.key, r.body, want)
			}
			if n := st.counter.Count(http.MethodGet, "bkt", tt.key); n != 1 {
				t.Errorf("upstream GETs of exactly %q = %d, want 1; requests %v", tt.key, n, st.counter.Requests())
			}
		})
	}

	t.Run("path escaping in the query", func(t *testing.T) {
		// A client that escapes the key with PathEscape sends a literal
		// '+', which a query string decodes as a space.
		path := "/s3/getObject?bucket=bkt&key=" + url.PathEscape("a b+c.txt")
		e := decodeAPIError(t, "GET "+path, st.get(t, path), http.StatusNotFound, "NoSuchKey")
		if e.Key != "a b c.txt" {
			t.Errorf("GET %s error Key = %q, want %q", path, e.Key, "a b c.txt")
		}
	})
}
