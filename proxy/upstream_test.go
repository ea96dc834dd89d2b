package proxy

import (
	"net/url"
	"testing"
)

func TestUpstreamTarget(t *testing.T) {
	endpoint, _ := url.Parse("http://127.0.0.1:7070")
	tests := []struct {
		name     string
		endpoint *url.URL
		bucket   string
		key      string
		want     string
	}{
		{"endpoint object", endpoint, "photos", "a b+c.txt", "http://127.0.0.1:7070/photos/a%20b%2Bc.txt"},
		{"endpoint bucket", endpoint, "photos", "", "http://127.0.0.1:7070/photos"},
		{"endpoint service", endpoint, "", "", "http://127.0.0.1:7070/"},
		{"endpoint double slash", endpoint, "photos", "dir//x", "http://127.0.0.1:7070/photos/dir//x"},
		{"aws virtual host", nil, "photos", "k.txt", "https://photos.s3.eu-west-1.amazonaws.com/k.txt"},
		{"aws dotted bucket is path-style", nil, "my.photos", "k.txt", "https://s3.eu-west-1.amazonaws.com/my.photos/k.txt"},
		{"aws service", nil, "", "", "https://s3.eu-west-1.amazonaws.com/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := NewUpstream(UpstreamConfig{Endpoint: tt.endpoint, Region: "eu-west-1"})
			if got := u.target(tt.bucket, tt.key, "eu-west-1").String(); got != tt.want {
				t.Errorf("target(%q, %q) = %s, want %s", tt.bucket, tt.key, got, tt.want)
			}
		})
	}
}
