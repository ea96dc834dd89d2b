package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHelperS3RoutesOffInVerifyMode(t *testing.T) {
	h := NewHelper(nil, HelperConfig{S3RoutesOff: true})
	for _, path := range []string{"/s3/getObject?bucket=b&key=k", "/s3/listObjects?bucket=b", "/s3/listBuckets"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusForbidden {
			t.Errorf("GET %s status = %d, want 403", path, rec.Code)
		}
		var body jsonError
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Code != "AccessDenied" {
			t.Errorf("GET %s body = %s, want a JSON AccessDenied error", path, rec.Body)
		}
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("GET /health status = %d, want 200", rec.Code)
	}
}

func TestWireHeaderName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"X-Amz-Meta-Foo", "x-amz-meta-foo"},
		{"X-Amz-Request-Id", "x-amz-request-id"},
		{"Content-Type", "Content-Type"},
		{"Etag", "Etag"},
	}
	for _, tt := range tests {
		if got := WireHeaderName(tt.in); got != tt.want {
			t.Errorf("WireHeaderName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Extra routes used to be added in map order, so the /debug/pprof/ prefix
// could shadow /debug/pprof/profile on about half of all starts.
func TestHelperExactExtraRoutesBeforePrefixes(t *testing.T) {
	exact := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	prefix := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	for range 20 {
		h := NewHelper(nil, HelperConfig{Extra: map[string]http.Handler{
			"/debug/pprof/":        prefix,
			"/debug/pprof/profile": exact,
			"/debug/pprof/trace":   exact,
		}})
		for path, want := range map[string]int{"/debug/pprof/profile": http.StatusTeapot, "/debug/pprof/trace": http.StatusTeapot, "/debug/pprof/heap": http.StatusAccepted} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != want {
				t.Fatalf("GET %s status = %d, want %d", path, rec.Code, want)
			}
		}
	}
}
