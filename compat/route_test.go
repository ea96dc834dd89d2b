package compat

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/s3-batching-agent/s3-batching-agent/proxy"
)

func TestSplitPath(t *testing.T) {
	tests := []struct {
		name        string
		escaped     string
		bucket, key string
	}{
		{"service", "/", "", ""},
		{"bucket", "/photos", "photos", ""},
		{"bucket trailing slash", "/photos/", "photos", ""},
		{"key escaped once", "/photos/reports/a%20b%2Bc.txt", "photos", "reports/a b+c.txt"},
		{"raw plus is a plus", "/photos/pkgs/libstdc++-docs.rpm", "photos", "pkgs/libstdc++-docs.rpm"},
		{"escaped plus", "/photos/pkgs/libstdc%2B%2B-docs.rpm", "photos", "pkgs/libstdc++-docs.rpm"},
		{"parentheses", "/photos/img/image%281%29.jpg", "photos", "img/image(1).jpg"},
		{"directory key", "/photos/dir/", "photos", "dir/"},
		{"double slash kept", "/photos/dir//x", "photos", "dir//x"},
		{"dot segments kept", "/photos/a/../b/./c", "photos", "a/../b/./c"},
		{"utf-8", "/photos/%E5%86%99%E7%9C%9F%201.jpg", "photos", "写真 1.jpg"},
		{"percent literal", "/photos/100%25.txt", "photos", "100%.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket, key, err := splitPath(tt.escaped)
			if err != nil {
				t.Fatalf("splitPath(%q) error = %v", tt.escaped, err)
			}
			if bucket != tt.bucket || key != tt.key {
				t.Errorf("splitPath(%q) = %q, %q, want %q, %q", tt.escaped, bucket, key, tt.bucket, tt.key)
			}
		})
	}
}

func TestSplitPathRejects(t *testing.T) {
	for _, escaped := range []string{"", "photos/x", "/photos/100%.txt", "/photos/%zz", "//key", "/a%2Fb/key"} {
		if _, _, err := splitPath(escaped); err == nil {
			t.Errorf("splitPath(%q) error = nil, want errInvalidURI", escaped)
		}
	}
}

func TestClassify(t *testing.T) {
	q := func(raw string) url.Values {
		v, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name        string
		method      string
		bucket, key string
		query       string
		wantRead    proxy.Op
		wantName    string
	}{
		{"list buckets", "GET", "", "", "", proxy.OpListBuckets, "ListBuckets"},
		{"list v2", "GET", "b", "", "list-type=2&prefix=a%2F&delimiter=%2F", proxy.OpListObjectsV2, "ListObjectsV2"},
		{"list v1", "GET", "b", "", "prefix=a&marker=x", proxy.OpListObjects, "ListObjects"},
		{"location", "GET", "b", "", "location=", proxy.OpGetBucketLocation, "GetBucketLocation"},
		{"head bucket", "HEAD", "b", "", "", proxy.OpHeadBucket, "HeadBucket"},
		{"get object", "GET", "b", "k", "", proxy.OpGetObject, "GetObject"},
		{"get object version", "GET", "b", "k", "versionId=v1&response-content-type=a%2Fb", proxy.OpGetObject, "GetObject"},
		{"head object", "HEAD", "b", "k", "partNumber=1", proxy.OpHeadObject, "HeadObject"},
		{"object tagging is not coalesced", "GET", "b", "k", "tagging=", "", "GET object ?tagging"},
		{"list parts", "GET", "b", "k", "uploadId=u", "", "ListParts"},
		{"bucket acl", "GET", "b", "", "acl=", "", "GET bucket ?acl"},
		{"uploads listing", "GET", "b", "", "uploads=", "", "ListMultipartUploads"},
		{"unknown parameter", "GET", "b", "k", "weird=1", "", "GET object ?other"},
		{"put object", "PUT", "b", "k", "", "", "PutObject"},
		{"upload part", "PUT", "b", "k", "partNumber=1&uploadId=u", "", "UploadPart"},
		{"create multipart", "POST", "b", "k", "uploads=", "", "CreateMultipartUpload"},
		{"complete multipart", "POST", "b", "k", "uploadId=u", "", "CompleteMultipartUpload"},
		{"abort multipart", "DELETE", "b", "k", "uploadId=u", "", "AbortMultipartUpload"},
		{"delete object", "DELETE", "b", "k", "", "", "DeleteObject"},
		{"delete objects", "POST", "b", "", "delete=", "", "DeleteObjects"},
		{"create bucket", "PUT", "b", "", "", "", "CreateBucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := classify(tt.method, tt.bucket, tt.key, q(tt.query))
			if op.Read != tt.wantRead {
				t.Errorf("classify().Read = %q, want %q", op.Read, tt.wantRead)
			}
			if op.Name != tt.wantName {
				t.Errorf("classify().Name = %q, want %q", op.Name, tt.wantName)
			}
		})
	}
}

// FuzzRoute checks that any raw path and query either routes to a bucket
// and key that escape back to an equivalent path, or is rejected, and
// that classification never panics.
func FuzzRoute(f *testing.F) {
	for _, seed := range []string{"/", "/b", "/b/", "/b/k", "/b/a%20b%2Bc", "/b/dir//x", "/b/%E5%86%99", "/b/100%25", "/%zz"} {
		f.Add(seed, "list-type=2&prefix=a")
	}
	f.Fuzz(func(t *testing.T, escaped, rawQuery string) {
		bucket, key, err := splitPath(escaped)
		if err != nil {
			return
		}
		if strings.Contains(bucket, "/") {
			t.Fatalf("splitPath(%q) bucket %q contains a slash", escaped, bucket)
		}
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete} {
			op := classify(method, bucket, key, q)
			if op.Read != "" && method != http.MethodGet && method != http.MethodHead {
				t.Fatalf("classify(%s) = read %q", method, op.Read)
			}
		}

		// Escaping the parts again and splitting gives the same parts.
		again := "/" + proxy.EscapePath(bucket)
		if key != "" {
			again += "/" + proxy.EscapePath(key)
		}
		b2, k2, err := splitPath(again)
		if err != nil || b2 != bucket || k2 != key {
			t.Fatalf("splitPath(%q) = %q, %q, %v, want %q, %q", again, b2, k2, err, bucket, key)
		}
	})
}
