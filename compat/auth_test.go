package compat

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const credentialsJSON = `{
  "clients": [
    {"accessKeyId": "ALLKEY", "secretAccessKey": "all-secret"},
    {"accessKeyId": "LIMITED", "secretAccessKey": "limited-secret", "allow": [
      {"bucket": "models", "access": "read"},
      {"bucket": "uploads", "prefix": "jobs/", "access": "read-write"},
      {"bucket": "drop", "access": "write"}
    ]}
  ]
}`

func TestClientCredentialsAllowed(t *testing.T) {
	c, err := ParseClientCredentials([]byte(credentialsJSON))
	if err != nil {
		t.Fatalf("ParseClientCredentials() error = %v", err)
	}
	tests := []struct {
		name   string
		key    string
		method string
		op     operation
		query  string
		header http.Header
		want   bool
	}{
		{"unrestricted client writes anywhere", "ALLKEY", "PUT", operation{Bucket: "x", Key: "k"}, "", nil, true},
		{"unknown key", "NOPE", "GET", operation{Bucket: "models", Key: "k", Read: "GetObject"}, "", nil, false},
		{"read allowed", "LIMITED", "GET", operation{Bucket: "models", Key: "m.bin", Read: "GetObject"}, "", nil, true},
		{"write on read-only bucket", "LIMITED", "PUT", operation{Bucket: "models", Key: "m.bin"}, "", nil, false},
		{"other bucket", "LIMITED", "GET", operation{Bucket: "secret", Key: "k", Read: "GetObject"}, "", nil, false},
		{"write inside prefix", "LIMITED", "PUT", operation{Bucket: "uploads", Key: "jobs/1"}, "", nil, true},
		{"write outside prefix", "LIMITED", "PUT", operation{Bucket: "uploads", Key: "other/1"}, "", nil, false},
		{"list inside prefix", "LIMITED", "GET", operation{Bucket: "uploads", Read: "ListObjectsV2"}, "list-type=2&prefix=jobs%2Fa", nil, true},
		{"list whole bucket with prefix rule", "LIMITED", "GET", operation{Bucket: "uploads", Read: "ListObjectsV2"}, "list-type=2", nil, false},
		{"delete objects needs whole bucket", "LIMITED", "POST", operation{Bucket: "uploads"}, "delete=", nil, false},
		{"write-only bucket cannot be read", "LIMITED", "GET", operation{Bucket: "drop", Key: "k", Read: "GetObject"}, "", nil, false},
		{"list buckets", "LIMITED", "GET", operation{Read: "ListBuckets"}, "", nil, true},
		{"copy from readable source", "LIMITED", "PUT", operation{Bucket: "uploads", Key: "jobs/copy"}, "", http.Header{"X-Amz-Copy-Source": {"models/m.bin"}}, true},
		{"copy from unreadable source", "LIMITED", "PUT", operation{Bucket: "uploads", Key: "jobs/copy"}, "", http.Header{"X-Amz-Copy-Source": {"/secret/s%20x"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			if got := c.allowed(tt.key, tt.method, tt.op, q, h); got != tt.want {
				t.Errorf("allowed() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseClientCredentialsRejects(t *testing.T) {
	tests := []struct{ name, json string }{
		{"no clients", `{"clients": []}`},
		{"missing secret", `{"clients": [{"accessKeyId": "A"}]}`},
		{"duplicate key", `{"clients": [{"accessKeyId": "A", "secretAccessKey": "s1"}, {"accessKeyId": "A", "secretAccessKey": "s2"}]}`},
		{"bad access", `{"clients": [{"accessKeyId": "A", "secretAccessKey": "s", "allow": [{"bucket": "b", "access": "all"}]}]}`},
		{"unknown field", `{"clients": [{"accessKeyId": "A", "secretAccessKey": "s", "role": "x"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseClientCredentials([]byte(tt.json))
			if err == nil {
				t.Fatalf("ParseClientCredentials() error = nil, want an error")
			}
			if strings.Contains(err.Error(), "s1") || strings.Contains(err.Error(), "s2") {
				t.Errorf("error %q contains a secret", err)
			}
		})
	}
}
