package compat

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

func TestRewriteBodyLocation(t *testing.T) {
	upstreamURL, _ := url.Parse("http://127.0.0.1:7070/photos/big.bin?uploadId=u")
	body := `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><Location>http://127.0.0.1:7070/photos/a%20b&amp;c.bin</Location><Bucket>photos</Bucket></CompleteMultipartUploadResult>`
	resp := &http.Response{
		Header:        http.Header{},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       &http.Request{URL: upstreamURL},
	}
	r := httptest.NewRequest(http.MethodPost, "http://agent.local:9000/photos/big.bin?uploadId=u", nil)

	got, length := rewriteBodyLocation(resp, r, "photos")
	b, _ := io.ReadAll(got)
	want := `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><Location>http://agent.local:9000/photos/a%20b&amp;c.bin</Location><Bucket>photos</Bucket></CompleteMultipartUploadResult>`
	if string(b) != want {
		t.Errorf("body = %s, want %s", b, want)
	}
	if length != int64(len(b)) {
		t.Errorf("length = %d, want %d", length, len(b))
	}
}
