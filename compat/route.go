package compat

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/s3-batching-agent/s3-batching-agent/proxy"
)

// operation is a request classified by method, path and query.
type operation struct {
	Name   string   // S3 operation name, for logs and metrics
	Read   proxy.Op // non-empty for reads that may be coalesced
	Bucket string
	Key    string
}

// errInvalidURI reports a path that is not validly escaped.
var errInvalidURI = errors.New("invalid URI")

// splitPath splits a raw escaped request path into bucket and key, each
// unescaped once. "/" is the service, "/b" and "/b/" the bucket b, and
// "/b/k" the key k, which may itself contain "//", "." or "..". A '+' is
// a plus, never a space.
func splitPath(escaped string) (bucket, key string, err error) {
	if !strings.HasPrefix(escaped, "/") {
		return "", "", errInvalidURI
	}
	rawBucket, rawKey, _ := strings.Cut(escaped[1:], "/")
	if bucket, err = url.PathUnescape(rawBucket); err != nil {
		return "", "", errInvalidURI
	}
	if key, err = url.PathUnescape(rawKey); err != nil {
		return "", "", errInvalidURI
	}
	if bucket == "" && key != "" {
		return "", "", errInvalidURI
	}
	if strings.Contains(bucket, "/") {
		// An escaped slash cannot be part of a bucket name.
		return "", "", errInvalidURI
	}
	return bucket, key, nil
}

// objectReadParams are the query parameters a GetObject or HeadObject may
// carry and still be a plain read.
var objectReadParams = map[string]bool{
	"versionId":                    true,
	"partNumber":                   true,
	"response-cache-control":       true,
	"response-content-disposition": true,
	"response-content-encoding":    true,
	"response-content-language":    true,
	"response-content-type":        true,
	"response-expires":             true,
}

// listParams are the query parameters of ListObjects v1 and v2.
var listParams = map[string]bool{
	"list-type":          true,
	"prefix":             true,
	"delimiter":          true,
	"max-keys":           true,
	"encoding-type":      true,
	"marker":             true,
	"continuation-token": true,
	"start-after":        true,
	"fetch-owner":        true,
}

// listBucketsParams are the query parameters of ListBuckets.
var listBucketsParams = map[string]bool{
	"max-buckets":        true,
	"continuation-token": true,
	"prefix":             true,
	"bucket-region":      true,
}

// classify returns the operation of a request with the given method,
// bucket, key and decoded query, from which the presigned authentication
// parameters have been removed. Anything it does not recognise as a read
// is passed through, so an unknown subresource is never coalesced.
func classify(method, bucket, key string, q url.Values) operation {
	op := operation{Bucket: bucket, Key: key}
	switch {
	case bucket == "":
		op.Name = method + " service"
		if method == http.MethodGet && onlyParams(q, listBucketsParams) {
			op.Name, op.Read = string(proxy.OpListBuckets), proxy.OpListBuckets
		}
	case key == "":
		op.Name = bucketOpName(method, q)
		switch {
		case method == http.MethodHead && len(q) == 0:
			op.Read = proxy.OpHeadBucket
		case method == http.MethodGet && len(q) == 1 && q.Has("location"):
			op.Read = proxy.OpGetBucketLocation
		case method == http.MethodGet && q.Get("list-type") == "2" && onlyParams(q, listParams):
			op.Read = proxy.OpListObjectsV2
		case method == http.MethodGet && !q.Has("list-type") && onlyParams(q, listParams):
			op.Read = proxy.OpListObjects
		}
		if op.Read != "" {
			op.Name = string(op.Read)
		}
	default:
		op.Name = objectOpName(method, q)
		if onlyParams(q, objectReadParams) {
			switch method {
			case http.MethodGet:
				op.Read = proxy.OpGetObject
			case http.MethodHead:
				op.Read = proxy.OpHeadObject
			}
		}
		if op.Read != "" {
			op.Name = string(op.Read)
		}
	}
	return op
}

func onlyParams(q url.Values, allowed map[string]bool) bool {
	for name := range q {
		if !allowed[name] {
			return false
		}
	}
	return true
}

// bucketOpName names a pass-through bucket operation for logs and
// metrics.
func bucketOpName(method string, q url.Values) string {
	switch {
	case method == http.MethodPut && len(q) == 0:
		return "CreateBucket"
	case method == http.MethodDelete && len(q) == 0:
		return "DeleteBucket"
	case method == http.MethodPost && q.Has("delete"):
		return "DeleteObjects"
	case method == http.MethodGet && q.Has("uploads"):
		return "ListMultipartUploads"
	case method == http.MethodGet && q.Has("versions"):
		return "ListObjectVersions"
	}
	return method + " bucket" + subresourceSuffix(q)
}

// objectOpName names a pass-through object operation for logs and
// metrics.
func objectOpName(method string, q url.Values) string {
	switch {
	case method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId"):
		return "UploadPart"
	case method == http.MethodPut && len(q) == 0:
		return "PutObject"
	case method == http.MethodPost && q.Has("uploads"):
		return "CreateMultipartUpload"
	case method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload"
	case method == http.MethodDelete && q.Has("uploadId"):
		return "AbortMultipartUpload"
	case method == http.MethodDelete:
		return "DeleteObject"
	case method == http.MethodGet && q.Has("uploadId"):
		return "ListParts"
	}
	return method + " object" + subresourceSuffix(q)
}

// subresources are the S3 subresource names used in operation names. Other
// parameters are named "other", so a client cannot grow the set of names
// that logs and metrics see.
var subresources = []string{
	"accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption",
	"intelligent-tiering", "inventory", "legal-hold", "lifecycle", "location", "logging",
	"metrics", "notification", "object-lock", "ownershipControls", "policy", "policyStatus",
	"publicAccessBlock", "replication", "requestPayment", "restore", "retention", "select",
	"tagging", "torrent", "uploadId", "uploads", "versioning", "versions", "website",
}

// subresourceSuffix returns " ?name" for the first known subresource in q,
// " ?other" for a query without one, and "" for an empty query, so that
// "GET bucket ?tagging" and "GET bucket ?acl" differ.
func subresourceSuffix(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	for _, name := range subresources {
		if q.Has(name) {
			return " ?" + name
		}
	}
	return " ?other"
}
