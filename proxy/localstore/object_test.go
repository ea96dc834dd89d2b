package localstore

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"
)

const helloText = "Hello from the s3-batching-agent local store.\n"

var objectTree = map[string]string{
	"demo/hello.txt":         helloText,
	"demo/data/numbers.csv":  "n\n1\n2\n",
	"demo/blob":              "no extension",
	"demo/empty.txt":         "",
	"other/keep.txt":         "keep",
	"other/folder/inner.txt": "inner",
}

// codeOf returns the S3 error code of an SDK error, or "".
func codeOf(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// statusOf returns the HTTP status of an SDK error, or 0.
func statusOf(err error) int {
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatusCode()
	}
	return 0
}

func TestGetObject(t *testing.T) {
	f := startStore(t, objectTree)

	tests := []struct {
		name            string
		key             string
		wantBody        string
		wantContentType string
	}{
		{name: "text", key: "hello.txt", wantBody: helloText, wantContentType: "text/plain"},
		{name: "nested csv", key: "data/numbers.csv", wantBody: "n\n1\n2\n", wantContentType: "text/csv"},
		{name: "no extension", key: "blob", wantBody: "no extension", wantContentType: "binary/octet-stream"},
		{name: "empty", key: "empty.txt", wantBody: "", wantContentType: "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.client.GetObject(context.Background(), &s3.GetObjectInput{
				Bucket: aws.String("demo"),
				Key:    aws.String(tt.key),
			})
			if err != nil {
				t.Fatalf("GetObject(%q) = %v", tt.key, err)
			}
			body, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatalf("GetObject(%q) body: %v", tt.key, err)
			}

			if string(body) != tt.wantBody {
				t.Errorf("GetObject(%q) body = %q, want %q", tt.key, body, tt.wantBody)
			}
			if got := aws.ToString(out.ContentType); got != tt.wantContentType {
				t.Errorf("GetObject(%q) Content-Type = %q, want %q", tt.key, got, tt.wantContentType)
			}
			if got, want := aws.ToString(out.ETag), md5ETag(tt.wantBody); got != want {
				t.Errorf("GetObject(%q) ETag = %s, want %s", tt.key, got, want)
			}
			if got := aws.ToTime(out.LastModified); !got.Equal(fixedTime) {
				t.Errorf("GetObject(%q) Last-Modified = %v, want %v", tt.key, got, fixedTime)
			}
			if got, want := aws.ToInt64(out.ContentLength), int64(len(tt.wantBody)); got != want {
				t.Errorf("GetObject(%q) Content-Length = %d, want %d", tt.key, got, want)
			}
		})
	}
}

func TestGetObjectMissing(t *testing.T) {
	f := startStore(t, objectTree)

	tests := []struct {
		name     string
		bucket   string
		key      string
		wantCode string
	}{
		{name: "missing key", bucket: "demo", key: "missing.txt", wantCode: "NoSuchKey"},
		{name: "folder", bucket: "demo", key: "data", wantCode: "NoSuchKey"},
		{name: "below a file", bucket: "demo", key: "hello.txt/x", wantCode: "NoSuchKey"},
		{name: "missing bucket", bucket: "missing", key: "hello.txt", wantCode: "NoSuchBucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.client.GetObject(context.Background(), &s3.GetObjectInput{
				Bucket: aws.String(tt.bucket),
				Key:    aws.String(tt.key),
			})
			if got := codeOf(err); got != tt.wantCode {
				t.Errorf("GetObject(%s/%s) error code = %q, want %q (error %v)", tt.bucket, tt.key, got, tt.wantCode, err)
			}
			if got := statusOf(err); got != http.StatusNotFound {
				t.Errorf("GetObject(%s/%s) status = %d, want 404", tt.bucket, tt.key, got)
			}
		})
	}
}

func TestHeadObject(t *testing.T) {
	f := startStore(t, objectTree)

	out, err := f.client.HeadObject(context.Background(), &s3.HeadObjectInput{
		Bucket: aws.String("demo"),
		Key:    aws.String("hello.txt"),
	})
	if err != nil {
		t.Fatalf("HeadObject(hello.txt) = %v", err)
	}
	if got, want := aws.ToInt64(out.ContentLength), int64(len(helloText)); got != want {
		t.Errorf("HeadObject(hello.txt) Content-Length = %d, want %d", got, want)
	}
	if got, want := aws.ToString(out.ETag), md5ETag(helloText); got != want {
		t.Errorf("HeadObject(hello.txt) ETag = %s, want %s", got, want)
	}
	if got := aws.ToString(out.ContentType); got != "text/plain" {
		t.Errorf("HeadObject(hello.txt) Content-Type = %q, want text/plain", got)
	}
	if got := aws.ToTime(out.LastModified); !got.Equal(fixedTime) {
		t.Errorf("HeadObject(hello.txt) Last-Modified = %v, want %v", got, fixedTime)
	}

	_, err = f.client.HeadObject(context.Background(), &s3.HeadObjectInput{
		Bucket: aws.String("demo"),
		Key:    aws.String("missing.txt"),
	})
	if got := statusOf(err); got != http.StatusNotFound {
		t.Errorf("HeadObject(missing.txt) status = %d, want 404 (error %v)", got, err)
	}
}

func TestGetObjectRange(t *testing.T) {
	f := startStore(t, objectTree)
	size := len(helloText)

	tests := []struct {
		name             string
		rangeHeader      string
		wantStatus       int
		wantBody         string
		wantContentRange string
	}{
		{name: "first bytes", rangeHeader: "bytes=0-4", wantStatus: 206, wantBody: "Hello", wantContentRange: "bytes 0-4/46"},
		{name: "open end", rangeHeader: "bytes=40-", wantStatus: 206, wantBody: helloText[40:], wantContentRange: "bytes 40-45/46"},
		{name: "suffix", rangeHeader: "bytes=-6", wantStatus: 206, wantBody: helloText[size-6:], wantContentRange: "bytes 40-45/46"},
		{name: "suffix longer than object", rangeHeader: "bytes=-1000", wantStatus: 206, wantBody: helloText, wantContentRange: "bytes 0-45/46"},
		{name: "end past object", rangeHeader: "bytes=44-1000", wantStatus: 206, wantBody: helloText[44:], wantContentRange: "bytes 44-45/46"},
		{name: "start past object", rangeHeader: "bytes=46-", wantStatus: 416, wantContentRange: "bytes */46"},
		{name: "zero suffix", rangeHeader: "bytes=-0", wantStatus: 416, wantContentRange: "bytes */46"},
		{name: "end before start", rangeHeader: "bytes=5-1", wantStatus: 200, wantBody: helloText},
		{name: "several ranges", rangeHeader: "bytes=0-1,4-5", wantStatus: 200, wantBody: helloText},
		{name: "other unit", rangeHeader: "items=0-1", wantStatus: 200, wantBody: helloText},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, http.MethodGet, "/demo/hello.txt", http.Header{"Range": {tt.rangeHeader}}, "")

			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("GET Range %q status = %d, want %d (body %s)", tt.rangeHeader, resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("Content-Range"); got != tt.wantContentRange {
				t.Errorf("GET Range %q Content-Range = %q, want %q", tt.rangeHeader, got, tt.wantContentRange)
			}
			if tt.wantStatus == 416 {
				for _, want := range []string{"<Code>InvalidRange</Code>", "<ActualObjectSize>46</ActualObjectSize>"} {
					if !strings.Contains(body, want) {
						t.Errorf("GET Range %q body = %s, want it to contain %s", tt.rangeHeader, body, want)
					}
				}
				return
			}
			if body != tt.wantBody {
				t.Errorf("GET Range %q body = %q, want %q", tt.rangeHeader, body, tt.wantBody)
			}
		})
	}
}

func TestGetObjectRangeSDK(t *testing.T) {
	f := startStore(t, objectTree)

	out, err := f.client.GetObject(context.Background(), &s3.GetObjectInput{
		Bucket: aws.String("demo"),
		Key:    aws.String("hello.txt"),
		Range:  aws.String("bytes=6-9"),
	})
	if err != nil {
		t.Fatalf("GetObject(Range bytes=6-9) = %v", err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(body) != "from" {
		t.Errorf("GetObject(Range bytes=6-9) body = %q, want %q", body, "from")
	}
	if got := aws.ToString(out.ContentRange); got != "bytes 6-9/46" {
		t.Errorf("GetObject(Range bytes=6-9) Content-Range = %q, want %q", got, "bytes 6-9/46")
	}

	_, err = f.client.GetObject(context.Background(), &s3.GetObjectInput{
		Bucket: aws.String("demo"),
		Key:    aws.String("empty.txt"),
		Range:  aws.String("bytes=0-"),
	})
	if got := statusOf(err); got != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("GetObject(empty object, Range bytes=0-) status = %d, want 416 (error %v)", got, err)
	}
}

func TestHeadObjectRange(t *testing.T) {
	f := startStore(t, objectTree)

	resp, _ := f.do(t, http.MethodHead, "/demo/hello.txt", http.Header{"Range": {"bytes=0-4"}}, "")
	if resp.StatusCode != http.StatusPartialContent {
		t.Errorf("HEAD Range bytes=0-4 status = %d, want 206", resp.StatusCode)
	}
	if resp.ContentLength != 5 {
		t.Errorf("HEAD Range bytes=0-4 Content-Length = %d, want 5", resp.ContentLength)
	}
}

func TestGetObjectPartNumber(t *testing.T) {
	f := startStore(t, objectTree)

	tests := []struct {
		name       string
		query      string
		header     http.Header
		wantStatus int
		wantBody   string
	}{
		{name: "part one", query: "partNumber=1", wantStatus: 206, wantBody: helloText},
		{name: "part two", query: "partNumber=2", wantStatus: 416},
		{name: "not a number", query: "partNumber=x", wantStatus: 400},
		{name: "with range", query: "partNumber=1", header: http.Header{"Range": {"bytes=0-1"}}, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, http.MethodGet, "/demo/hello.txt?"+tt.query, tt.header, "")
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("GET ?%s status = %d, want %d (body %s)", tt.query, resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("GET ?%s body = %q, want %q", tt.query, body, tt.wantBody)
			}
		})
	}
}

func TestGetObjectConditions(t *testing.T) {
	f := startStore(t, objectTree)
	etag := md5ETag(helloText)
	before := "Thu, 01 Jan 2026 00:00:00 GMT" // before fixedTime
	at := "Fri, 02 Jan 2026 03:04:05 GMT"     // fixedTime
	after := "Sat, 03 Jan 2026 00:00:00 GMT"

	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
	}{
		{name: "if-match equal", header: http.Header{"If-Match": {etag}}, wantStatus: 200},
		{name: "if-match unquoted", header: http.Header{"If-Match": {strings.Trim(etag, `"`)}}, wantStatus: 200},
		{name: "if-match in list", header: http.Header{"If-Match": {`"other", ` + etag}}, wantStatus: 200},
		{name: "if-match star", header: http.Header{"If-Match": {"*"}}, wantStatus: 200},
		{name: "if-match other", header: http.Header{"If-Match": {`"other"`}}, wantStatus: 412},
		{name: "if-match weak", header: http.Header{"If-Match": {"W/" + etag}}, wantStatus: 412},
		{name: "if-none-match equal", header: http.Header{"If-None-Match": {etag}}, wantStatus: 304},
		{name: "if-none-match weak", header: http.Header{"If-None-Match": {"W/" + etag}}, wantStatus: 304},
		{name: "if-none-match other", header: http.Header{"If-None-Match": {`"other"`}}, wantStatus: 200},
		{name: "if-modified-since before", header: http.Header{"If-Modified-Since": {before}}, wantStatus: 200},
		{name: "if-modified-since at", header: http.Header{"If-Modified-Since": {at}}, wantStatus: 304},
		{name: "if-unmodified-since before", header: http.Header{"If-Unmodified-Since": {before}}, wantStatus: 412},
		{name: "if-unmodified-since after", header: http.Header{"If-Unmodified-Since": {after}}, wantStatus: 200},
		{name: "if-unmodified-since invalid", header: http.Header{"If-Unmodified-Since": {"yesterday"}}, wantStatus: 200},
		{
			name:       "if-match wins over if-unmodified-since",
			header:     http.Header{"If-Match": {etag}, "If-Unmodified-Since": {before}},
			wantStatus: 200,
		},
		{
			name:       "if-none-match wins over if-modified-since",
			header:     http.Header{"If-None-Match": {`"other"`}, "If-Modified-Since": {after}},
			wantStatus: 200,
		},
		{
			name:       "failed precondition before range",
			header:     http.Header{"If-Match": {`"other"`}, "Range": {"bytes=100-"}},
			wantStatus: 412,
		},
	}
	for _, tt := range tests {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(tt.name+" "+method, func(t *testing.T) {
				resp, body := f.do(t, method, "/demo/hello.txt", tt.header, "")
				if resp.StatusCode != tt.wantStatus {
					t.Fatalf("%s with %v status = %d, want %d (body %s)", method, tt.header, resp.StatusCode, tt.wantStatus, body)
				}
				if tt.wantStatus == 304 && resp.Header.Get("ETag") != etag {
					t.Errorf("%s with %v ETag = %q, want %q", method, tt.header, resp.Header.Get("ETag"), etag)
				}
				if tt.wantStatus == 412 && method == http.MethodGet && !strings.Contains(body, "<Code>PreconditionFailed</Code>") {
					t.Errorf("%s with %v body = %s, want PreconditionFailed", method, tt.header, body)
				}
				if tt.wantStatus == 200 && method == http.MethodGet && body != helloText {
					t.Errorf("%s with %v body = %q, want %q", method, tt.header, body, helloText)
				}
			})
		}
	}
}

func TestPutObject(t *testing.T) {
	f := startStore(t, objectTree)
	ctx := context.Background()

	_, err := f.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String("demo"),
		Key:         aws.String("new/deep/file.json"),
		Body:        strings.NewReader(`{"a":1}`),
		ContentType: aws.String("application/x-custom"),
		Metadata:    map[string]string{"color": "blue"},
	})
	if err != nil {
		t.Fatalf("PutObject(new/deep/file.json) = %v", err)
	}
	if got := f.readFile(t, "demo/new/deep/file.json"); got != `{"a":1}` {
		t.Errorf("file content = %q, want %q", got, `{"a":1}`)
	}

	head, err := f.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("demo"), Key: aws.String("new/deep/file.json")})
	if err != nil {
		t.Fatalf("HeadObject(new/deep/file.json) = %v", err)
	}
	if got := aws.ToString(head.ContentType); got != "application/x-custom" {
		t.Errorf("HeadObject() Content-Type = %q, want application/x-custom", got)
	}
	if diff := cmp.Diff(map[string]string{"color": "blue"}, head.Metadata); diff != "" {
		t.Errorf("HeadObject() metadata mismatch (-want +got):\n%s", diff)
	}
	if got, want := aws.ToString(head.ETag), md5ETag(`{"a":1}`); got != want {
		t.Errorf("HeadObject() ETag = %s, want %s", got, want)
	}

	// An overwrite replaces the metadata whole, as in S3.
	_, err = f.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("demo"),
		Key:    aws.String("new/deep/file.json"),
		Body:   strings.NewReader(`{"a":2}`),
	})
	if err != nil {
		t.Fatalf("PutObject(overwrite) = %v", err)
	}
	head, err = f.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("demo"), Key: aws.String("new/deep/file.json")})
	if err != nil {
		t.Fatalf("HeadObject(after overwrite) = %v", err)
	}
	if len(head.Metadata) != 0 {
		t.Errorf("HeadObject(after overwrite) metadata = %v, want none", head.Metadata)
	}
	// The SDK sends application/octet-stream when no type is set.
	if got := aws.ToString(head.ContentType); got != "application/octet-stream" {
		t.Errorf("HeadObject(after overwrite) Content-Type = %q, want application/octet-stream", got)
	}
	if got, want := aws.ToString(head.ETag), md5ETag(`{"a":2}`); got != want {
		t.Errorf("HeadObject(after overwrite) ETag = %s, want %s", got, want)
	}
}

// TestPutObjectDefaultContentType checks that an upload without a
// Content-Type is served as binary/octet-stream, as S3 does, while a file
// placed in the directory by other means gets a type from its extension.
func TestPutObjectDefaultContentType(t *testing.T) {
	f := startStore(t, objectTree)

	resp, body := f.do(t, http.MethodPut, "/demo/uploaded.txt", nil, "typed by nobody")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /demo/uploaded.txt status = %d, want 200 (body %s)", resp.StatusCode, body)
	}
	tests := []struct {
		key  string
		want string
	}{
		{key: "uploaded.txt", want: "binary/octet-stream"},
		{key: "hello.txt", want: "text/plain"},
	}
	for _, tt := range tests {
		resp, _ := f.do(t, http.MethodHead, "/demo/"+tt.key, nil, "")
		if got := resp.Header.Get("Content-Type"); got != tt.want {
			t.Errorf("HEAD /demo/%s Content-Type = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// TestPutObjectHeadersNotEchoed checks that request headers of an upload,
// such as X-Amz-Security-Token, are not sent back on reads. gofakes3 stores
// every X-Amz-* header of a PutObject request as metadata.
func TestPutObjectHeadersNotEchoed(t *testing.T) {
	f := startStore(t, objectTree)

	header := http.Header{
		"X-Amz-Security-Token":  {"session-token-value"},
		"X-Amz-Checksum-Crc32":  {"AAAAAA=="},
		"X-Amz-Meta-Kept":       {"yes"},
		"X-Amz-Storage-Class":   {"STANDARD"},
		"Content-Disposition":   {"attachment"},
		"X-Amz-Content-Sha256":  {"UNSIGNED-PAYLOAD"},
		"X-Amz-Server-Side-Enc": {"AES256"},
	}
	resp, body := f.do(t, http.MethodPut, "/demo/echo.txt", header, "echo")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /demo/echo.txt status = %d, want 200 (body %s)", resp.StatusCode, body)
	}

	resp, _ = f.do(t, http.MethodGet, "/demo/echo.txt", nil, "")
	for _, name := range []string{"X-Amz-Security-Token", "X-Amz-Checksum-Crc32", "X-Amz-Storage-Class", "X-Amz-Content-Sha256", "X-Amz-Server-Side-Enc"} {
		if got := resp.Header.Get(name); got != "" {
			t.Errorf("GET /demo/echo.txt header %s = %q, want none", name, got)
		}
	}
	for name, want := range map[string]string{"X-Amz-Meta-Kept": "yes", "Content-Disposition": "attachment"} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("GET /demo/echo.txt header %s = %q, want %q", name, got, want)
		}
	}
}

func TestPutObjectConditions(t *testing.T) {
	f := startStore(t, objectTree)
	etag := md5ETag(helloText)

	tests := []struct {
		name       string
		key        string
		header     http.Header
		wantStatus int
	}{
		{name: "if-none-match on plain file", key: "hello.txt", header: http.Header{"If-None-Match": {"*"}}, wantStatus: 412},
		{name: "if-none-match on new key", key: "fresh.txt", header: http.Header{"If-None-Match": {"*"}}, wantStatus: 200},
		{name: "if-match other", key: "hello.txt", header: http.Header{"If-Match": {`"other"`}}, wantStatus: 412},
		{name: "if-match current", key: "hello.txt", header: http.Header{"If-Match": {etag}}, wantStatus: 200},
		{name: "if-match missing key", key: "absent.txt", header: http.Header{"If-Match": {etag}}, wantStatus: 412},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, http.MethodPut, "/demo/"+tt.key, tt.header, "conditional")
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("PUT %s with %v status = %d, want %d (body %s)", tt.key, tt.header, resp.StatusCode, tt.wantStatus, body)
			}
		})
	}
}

func TestDeleteObject(t *testing.T) {
	f := startStore(t, objectTree)
	ctx := context.Background()

	_, err := f.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("other"), Key: aws.String("folder/inner.txt")})
	if err != nil {
		t.Fatalf("DeleteObject(folder/inner.txt) = %v", err)
	}
	if f.exists("other/folder/inner.txt") {
		t.Errorf("file other/folder/inner.txt exists after DeleteObject")
	}
	if f.exists("other/folder") {
		t.Errorf("folder other/folder exists after its last object was deleted")
	}
	if !f.exists("other") {
		t.Errorf("bucket folder other was removed with its last folder")
	}

	// Deleting a key that holds no object succeeds, as in S3.
	for _, key := range []string{"folder/inner.txt", "never-existed", "folder"} {
		if _, err := f.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("other"), Key: aws.String(key)}); err != nil {
			t.Errorf("DeleteObject(%q) = %v, want success", key, err)
		}
	}
}

func TestDeleteObjects(t *testing.T) {
	f := startStore(t, objectTree)

	out, err := f.client.DeleteObjects(context.Background(), &s3.DeleteObjectsInput{
		Bucket: aws.String("demo"),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{
			{Key: aws.String("hello.txt")},
			{Key: aws.String("data/numbers.csv")},
			{Key: aws.String("missing.txt")},
		}},
	})
	if err != nil {
		t.Fatalf("DeleteObjects() = %v", err)
	}
	if len(out.Deleted) != 3 || len(out.Errors) != 0 {
		t.Errorf("DeleteObjects() deleted %d and failed %d, want 3 and 0", len(out.Deleted), len(out.Errors))
	}
	for _, name := range []string{"demo/hello.txt", "demo/data/numbers.csv", "demo/data"} {
		if f.exists(name) {
			t.Errorf("%s exists after DeleteObjects", name)
		}
	}
}

func TestCopyObject(t *testing.T) {
	f := startStore(t, objectTree)

	_, err := f.client.CopyObject(context.Background(), &s3.CopyObjectInput{
		Bucket:     aws.String("other"),
		Key:        aws.String("copies/hello.txt"),
		CopySource: aws.String("demo/hello.txt"),
	})
	if err != nil {
		t.Fatalf("CopyObject(demo/hello.txt) = %v", err)
	}
	if got := f.readFile(t, "other/copies/hello.txt"); got != helloText {
		t.Errorf("copied file = %q, want %q", got, helloText)
	}
}

func TestPutObjectPathConflicts(t *testing.T) {
	f := startStore(t, objectTree)

	tests := []struct {
		name string
		key  string
	}{
		{name: "key is a folder", key: "data"},
		{name: "parent is a file", key: "hello.txt/child"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, http.MethodPut, "/demo/"+tt.key, nil, "x")
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "InvalidArgument") {
				t.Errorf("PUT %s status = %d body %s, want 400 InvalidArgument", tt.key, resp.StatusCode, body)
			}
		})
	}
	if got := f.readFile(t, "demo/hello.txt"); got != helloText {
		t.Errorf("demo/hello.txt = %q after rejected writes, want %q", got, helloText)
	}
}

func TestBuckets(t *testing.T) {
	f := startStore(t, objectTree)
	ctx := context.Background()

	if _, err := f.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("fresh")}); err != nil {
		t.Fatalf("CreateBucket(fresh) = %v", err)
	}
	if !f.exists("fresh") {
		t.Errorf("CreateBucket(fresh) made no folder")
	}
	_, err := f.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("demo")})
	if got := statusOf(err); got != http.StatusConflict {
		t.Errorf("CreateBucket(demo) status = %d, want 409 (error %v)", got, err)
	}

	_, err = f.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("demo")})
	if got := statusOf(err); got != http.StatusConflict {
		t.Errorf("DeleteBucket(demo) status = %d, want 409 (error %v)", got, err)
	}

	// Folders without files do not make a bucket non-empty.
	writeTree(t, f.dir, map[string]string{"fresh/a/b/": ""})
	if _, err := f.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("fresh")}); err != nil {
		t.Errorf("DeleteBucket(fresh) = %v", err)
	}
	if f.exists("fresh") {
		t.Errorf("DeleteBucket(fresh) left the folder")
	}

	// The MinIO force-delete extension would remove a folder tree.
	resp, _ := f.do(t, http.MethodDelete, "/other", http.Header{"X-Minio-Force-Delete": {"true"}}, "")
	if resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("DELETE /other with x-minio-force-delete status = %d, want 501", resp.StatusCode)
	}
	if !f.exists("other/keep.txt") {
		t.Errorf("other/keep.txt was deleted by a force delete")
	}
}

func TestUnsupportedSubresources(t *testing.T) {
	f := startStore(t, objectTree)

	tests := []struct {
		method string
		path   string
		header http.Header
		body   string
	}{
		{method: http.MethodPut, path: "/demo/hello.txt?tagging", body: "<Tagging><TagSet></TagSet></Tagging>"},
		{method: http.MethodDelete, path: "/demo/hello.txt?tagging"},
		{method: http.MethodGet, path: "/demo/hello.txt?acl"},
		{method: http.MethodPut, path: "/demo/hello.txt?acl", body: "<AccessControlPolicy/>"},
		{method: http.MethodDelete, path: "/other?cors"},
		{method: http.MethodGet, path: "/demo?policy"},
		{method: http.MethodPost, path: "/demo/hello.txt?restore", body: "<RestoreRequest/>"},
		{
			method: http.MethodPut,
			path:   "/demo/hello.txt?partNumber=1&uploadId=1",
			header: http.Header{"X-Amz-Copy-Source": {"/other/keep.txt"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := f.do(t, tt.method, tt.path, tt.header, tt.body)
			if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(body, "<Code>NotImplemented</Code>") {
				t.Errorf("%s %s status = %d body %s, want 501 NotImplemented", tt.method, tt.path, resp.StatusCode, body)
			}
		})
	}
	if got := f.readFile(t, "demo/hello.txt"); got != helloText {
		t.Errorf("demo/hello.txt = %q after subresource requests, want %q", got, helloText)
	}
	if !f.exists("other/keep.txt") {
		t.Errorf("other/keep.txt was deleted by a subresource request")
	}
}

// TestETagFollowsFileChanges checks that the ETag is the MD5 of the file as
// it is now, for plain files and for uploaded files changed on disk later.
// s3afero in gofakes3 v1.2.0 reports the MD5 of its metadata JSON for the
// latter.
func TestETagFollowsFileChanges(t *testing.T) {
	f := startStore(t, objectTree)

	resp, body := f.do(t, http.MethodPut, "/demo/uploaded.txt", nil, "uploaded")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /demo/uploaded.txt status = %d, want 200 (body %s)", resp.StatusCode, body)
	}

	for _, key := range []string{"hello.txt", "uploaded.txt"} {
		resp, _ := f.do(t, http.MethodHead, "/demo/"+key, nil, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HEAD /demo/%s status = %d, want 200", key, resp.StatusCode)
		}

		changed := "changed on disk: " + key
		writeTree(t, f.dir, map[string]string{"demo/" + key: changed})
		resp, _ = f.do(t, http.MethodHead, "/demo/"+key, nil, "")
		if got, want := resp.Header.Get("ETag"), md5ETag(changed); got != want {
			t.Errorf("HEAD /demo/%s after a change on disk ETag = %s, want %s", key, got, want)
		}
	}
}
