package localstore

import (
	"github.com/s3-batching-agent/s3-batching-agent/sigv4"

	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// unsupportedSubresources are S3 subresources that gofakes3 v1.2.0 does not
// route. It ignores the query parameter and runs the plain operation. Without
// this list, PUT ?tagging would overwrite the object with the tagging XML,
// DELETE ?tagging would delete the object or the bucket, and GET ?acl would
// return the object's bytes.
//
// NOTE: a subresource that S3 adds later and that is missing here falls
// through to gofakes3 in the same way.
var unsupportedSubresources = []string{
	"accelerate", "acl", "analytics", "attributes", "cors", "encryption",
	"intelligent-tiering", "inventory", "legal-hold", "lifecycle", "logging",
	"metadataConfiguration", "metadataTable", "metrics", "notification",
	"object-lock", "ownershipControls", "policy", "policyStatus",
	"publicAccessBlock", "renameObject", "replication", "requestPayment",
	"restore", "retention", "select", "session", "tagging", "torrent",
	"website",
}

// handler serves the local store's S3 requests. It rejects what gofakes3
// would misroute, decodes aws-chunked uploads, and handles the
// preconditions, partNumber and Range of object reads. Then it passes the
// request on to gofakes3.
//
// A handler is safe for concurrent use.
type handler struct {
	backend *backend
	next    http.Handler // gofakes3
}

var _ http.Handler = (*handler)(nil)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	if name := unsupportedSubresource(query); name != "" {
		writeError(w, r, s3Error{
			status:  http.StatusNotImplemented,
			Code:    "NotImplemented",
			Message: "The local store does not implement the " + name + " subresource.",
		})
		return
	}
	if query.Has("uploadId") && r.Header.Get("X-Amz-Copy-Source") != "" {
		writeError(w, r, s3Error{
			status:  http.StatusNotImplemented,
			Code:    "NotImplemented",
			Message: "The local store does not implement UploadPartCopy.",
		})
		return
	}

	if isAWSChunked(r.Header) {
		if err := decodeAWSChunked(r); err != nil {
			writeError(w, r, *err)
			return
		}
	}

	bucket, key := splitPath(r.URL.Path)
	isRead := r.Method == http.MethodGet || r.Method == http.MethodHead
	version := query.Get("versionId")
	if isRead && key != "" && (version == "" || version == "null") && !query.Has("uploadId") {
		if h.prepareObjectRead(w, r, bucket, key) {
			return
		}
	}

	h.next.ServeHTTP(w, r)
}

func unsupportedSubresource(query url.Values) string {
	for _, name := range unsupportedSubresources {
		if query.Has(name) {
			return name
		}
	}
	return ""
}

// splitPath splits a path-style request path the way gofakes3 routes it.
func splitPath(urlPath string) (bucket, key string) {
	bucket, key, _ = strings.Cut(strings.TrimPrefix(urlPath, "/"), "/")
	return bucket, key
}

// isAWSChunked reports whether the request body uses the aws-chunked
// encoding of SigV4 streaming uploads.
func isAWSChunked(header http.Header) bool {
	if strings.HasPrefix(header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		return true
	}
	for coding := range strings.SplitSeq(header.Get("Content-Encoding"), ",") {
		if strings.EqualFold(strings.TrimSpace(coding), "aws-chunked") {
			return true
		}
	}
	return false
}

// decodeAWSChunked replaces the request's aws-chunked body with the decoded
// object bytes and rewrites the headers to describe a plain upload of those
// bytes. It modifies r.
func decodeAWSChunked(r *http.Request) *s3Error {
	length, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
	if err != nil || length < 0 {
		return &s3Error{
			status:  http.StatusLengthRequired,
			Code:    "MissingContentLength",
			Message: "An aws-chunked upload needs a valid x-amz-decoded-content-length header.",
		}
	}

	decoded, err := sigv4.NewUnverifiedPayloadReader(r.Body, r.Header)
	if err != nil {
		return &s3Error{status: http.StatusBadRequest, Code: "InvalidRequest", Message: "The aws-chunked upload headers are invalid."}
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{decoded, r.Body}
	r.ContentLength = length
	r.Header.Set("Content-Length", strconv.FormatInt(length, 10))
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	r.Header.Del("X-Amz-Decoded-Content-Length")
	if encoding := sigv4.StripAWSChunked(r.Header.Get("Content-Encoding")); encoding != "" {
		r.Header.Set("Content-Encoding", encoding)
	} else {
		r.Header.Del("Content-Encoding")
	}
	return nil
}

// s3Error is an S3 error response written by the handler itself. The
// optional elements are those S3 adds for failed preconditions and
// unsatisfiable ranges.
type s3Error struct {
	XMLName          xml.Name `xml:"Error"`
	status           int
	Code             string
	Message          string
	Condition        string `xml:",omitempty"`
	RangeRequested   string `xml:",omitempty"`
	ActualObjectSize string `xml:",omitempty"`
}

// writeError writes e as an S3 XML error, without a body for HEAD requests.
// If marshaling fails, only the status is written.
func writeError(w http.ResponseWriter, r *http.Request, e s3Error) {
	body, err := xml.Marshal(e)
	if err != nil || r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return
	}

	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	w.WriteHeader(e.status)
	io.WriteString(w, xml.Header)
	w.Write(body)
}
