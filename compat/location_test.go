package compat

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestRewriteLocation(t *testing.T) {
	tests := []struct {
		name     string
		upstream string
		location string
		want     string
	}{
		{"path-style upstream", "http://127.0.0.1:7070/photos", "http://127.0.0.1:7070/photos/a%20b.txt", "http://agent.local:9000/photos/a%20b.txt"},
		{"virtual-hosted upstream", "https://photos.s3.eu-west-1.amazonaws.com/", "https://photos.s3.eu-west-1.amazonaws.com/k.txt", "http://agent.local:9000/photos/k.txt"},
		{"other host kept", "http://127.0.0.1:7070/photos", "https://example.com/next", "https://example.com/next"},
		{"relative kept", "http://127.0.0.1:7070/photos", "/photos/k", "/photos/k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstreamURL, _ := url.Parse(tt.upstream)
			resp := &http.Response{Header: http.Header{"Location": {tt.location}}, Request: &http.Request{URL: upstreamURL}}
			r := httptest.NewRequest(http.MethodPost, "http://agent.local:9000/photos", nil)
			rewriteLocation(resp, r, "photos")
			if got := resp.Header.Get("Location"); got != tt.want {
				t.Errorf("Location = %q, want %q", got, tt.want)
			}
		})
	}
}
