package localstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// encodeAWSChunked encodes data in the aws-chunked format with chunks of
// chunkSize bytes. Signatures are placeholders: the store does not check
// them.
func encodeAWSChunked(data []byte, chunkSize int, signed, trailer bool) string {
	signature := ""
	if signed {
		signature = ";chunk-signature=" + strings.Repeat("0", 64)
	}
	var b strings.Builder
	for start := 0; start < len(data); start += chunkSize {
		end := min(start+chunkSize, len(data))
		fmt.Fprintf(&b, "%x%s\r\n", end-start, signature)
		b.Write(data[start:end])
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "0%s\r\n", signature)
	if trailer {
		sum := crc32.ChecksumIEEE(data)
		b.WriteString("x-amz-checksum-crc32:" + base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}) + "\r\n")
		if signed {
			b.WriteString("x-amz-trailer-signature:" + strings.Repeat("0", 64) + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

func chunkedHeader(variant string, decodedLength int) http.Header {
	h := http.Header{
		"X-Amz-Content-Sha256":         {variant},
		"Content-Encoding":             {"aws-chunked"},
		"X-Amz-Decoded-Content-Length": {fmt.Sprint(decodedLength)},
	}
	if strings.HasSuffix(variant, "-TRAILER") {
		h.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	}
	return h
}

func TestPutObjectAWSChunked(t *testing.T) {
	f := startStore(t, objectTree)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1500) // 24000 bytes

	tests := []struct {
		name    string
		variant string
		signed  bool
		trailer bool
	}{
		{name: "signed", variant: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", signed: true},
		{name: "signed with trailer", variant: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", signed: true, trailer: true},
		{name: "unsigned with trailer", variant: "STREAMING-UNSIGNED-PAYLOAD-TRAILER", trailer: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := strings.ReplaceAll(tt.name, " ", "-") + ".bin"
			body := encodeAWSChunked(data, 8192, tt.signed, tt.trailer)
			resp, respBody := f.do(t, http.MethodPut, "/demo/"+key, chunkedHeader(tt.variant, len(data)), body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("PUT %s status = %d, want 200 (body %s)", key, resp.StatusCode, respBody)
			}
			if got := f.readFile(t, "demo/"+key); got != string(data) {
				t.Errorf("file for %s has %d bytes starting %q, want the %d decoded bytes", key, len(got), got[:min(len(got), 20)], len(data))
			}
			if got, want := resp.Header.Get("ETag"), md5ETag(string(data)); got != want {
				t.Errorf("PUT %s ETag = %s, want %s", key, got, want)
			}

			resp, _ = f.do(t, http.MethodHead, "/demo/"+key, nil, "")
			if got := resp.Header.Get("Content-Encoding"); got != "" {
				t.Errorf("HEAD %s Content-Encoding = %q, want none", key, got)
			}
		})
	}
}

func TestPutObjectAWSChunkedKeepsOtherEncodings(t *testing.T) {
	f := startStore(t, objectTree)

	header := chunkedHeader("STREAMING-UNSIGNED-PAYLOAD-TRAILER", 4)
	header.Set("Content-Encoding", "gzip, aws-chunked")
	resp, body := f.do(t, http.MethodPut, "/demo/packed.gz", header, encodeAWSChunked([]byte("gzip"), 2, false, true))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /demo/packed.gz status = %d, want 200 (body %s)", resp.StatusCode, body)
	}
	resp, _ = f.do(t, http.MethodHead, "/demo/packed.gz", nil, "")
	if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
		t.Errorf("HEAD /demo/packed.gz Content-Encoding = %q, want gzip", got)
	}
}

func TestPutObjectAWSChunkedMalformed(t *testing.T) {
	f := startStore(t, objectTree)
	data := []byte("replacement bytes")
	valid := encodeAWSChunked(data, 5, false, true)

	tests := []struct {
		name       string
		header     http.Header
		body       string
		wantStatus int
		wantCode   string
	}{
		{
			name:       "declared length too small",
			header:     chunkedHeader("STREAMING-UNSIGNED-PAYLOAD-TRAILER", len(data)-1),
			body:       valid,
			wantStatus: 400, wantCode: "IncompleteBody",
		},
		{
			name:       "declared length too large",
			header:     chunkedHeader("STREAMING-UNSIGNED-PAYLOAD-TRAILER", len(data)+1),
			body:       valid,
			wantStatus: 400, wantCode: "IncompleteBody",
		},
		{
			name:       "size not hexadecimal",
			header:     chunkedHeader("STREAMING-UNSIGNED-PAYLOAD-TRAILER", len(data)),
			body:       "zz\r\n" + valid,
			wantStatus: 400, wantCode: "IncompleteBody",
		},
		{
			name:       "data not followed by CRLF",
			header:     chunkedHeader("STREAMING-UNSIGNED-PAYLOAD-TRAILER", len(data)),
			body:       strings.Replace(valid, "\r\n", "xx", 2),
			wantStatus: 400, wantCode: "IncompleteBody",
		},
		{
			name:       "cut short",
			header:     chunkedHeader("STREAMING-UNSIGNED-PAYLOAD-TRAILER", len(data)),
			body:       valid[:10],
			wantStatus: 400, wantCode: "IncompleteBody",
		},
		{
			name: "decoded length missing",
			header: http.Header{
				"X-Amz-Content-Sha256": {"STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
				"Content-Encoding":     {"aws-chunked"},
			},
			body:       valid,
			wantStatus: 411, wantCode: "MissingContentLength",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, http.MethodPut, "/demo/hello.txt", tt.header, tt.body)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, "<Code>"+tt.wantCode+"</Code>") {
				t.Errorf("PUT status = %d body %s, want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantCode)
			}
			if got := f.readFile(t, "demo/hello.txt"); got != helloText {
				t.Errorf("demo/hello.txt = %q after a failed upload, want %q", got, helloText)
			}
		})
	}
}

// TestMinioClientUpload uploads through minio-go v7, which sends streaming
// uploads over plain HTTP as signed aws-chunked bodies (with a trailing
// checksum when asked for one), and reads the objects back. An upload of
// unknown size becomes a multipart upload with aws-chunked parts.
func TestMinioClientUpload(t *testing.T) {
	f := startStore(t, objectTree)
	endpoint, err := url.Parse(f.store.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := bytes.Repeat([]byte("minio streaming upload\n"), 3000)

	tests := []struct {
		name     string
		key      string
		size     int64
		checksum minio.ChecksumType
	}{
		{name: "known size", key: "minio/known.bin", size: int64(len(data))},
		{name: "unknown size", key: "minio/unknown.bin", size: -1},
		{name: "trailing checksum", key: "minio/trailer.bin", size: int64(len(data)), checksum: minio.ChecksumCRC32C},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := minio.New(endpoint.Host, &minio.Options{
				Creds:           miniocreds.NewStaticV4(testAccessKey, testSecretKey, ""),
				Region:          "us-east-1",
				BucketLookup:    minio.BucketLookupPath,
				TrailingHeaders: tt.checksum != minio.ChecksumNone,
			})
			if err != nil {
				t.Fatalf("minio.New() = %v", err)
			}

			// io.MultiReader hides the Seek method, so minio-go streams.
			_, err = client.PutObject(ctx, "demo", tt.key, io.MultiReader(bytes.NewReader(data)), tt.size,
				minio.PutObjectOptions{ContentType: "application/x-test", Checksum: tt.checksum})
			if err != nil {
				t.Fatalf("PutObject(%s) = %v", tt.key, err)
			}
			if got := f.readFile(t, "demo/"+tt.key); got != string(data) {
				t.Errorf("file for %s holds %d bytes, want %d", tt.key, len(got), len(data))
			}

			obj, err := client.GetObject(ctx, "demo", tt.key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatalf("GetObject(%s) = %v", tt.key, err)
			}
			defer obj.Close()
			got, err := io.ReadAll(obj)
			if err != nil {
				t.Fatalf("GetObject(%s) body: %v", tt.key, err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("GetObject(%s) returned %d bytes, want %d", tt.key, len(got), len(data))
			}
			info, err := obj.Stat()
			if err != nil {
				t.Fatalf("Stat(%s) = %v", tt.key, err)
			}
			if info.ContentType != "application/x-test" {
				t.Errorf("Stat(%s) ContentType = %q, want application/x-test", tt.key, info.ContentType)
			}
		})
	}
}

func TestMultipartUpload(t *testing.T) {
	f := startStore(t, objectTree)
	ctx := context.Background()
	bucket, key := aws.String("demo"), aws.String("parts/joined.txt")

	created, err := f.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: key})
	if err != nil {
		t.Fatalf("CreateMultipartUpload() = %v", err)
	}
	var parts []types.CompletedPart
	for i, text := range []string{"first part, ", "second part"} {
		out, err := f.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:     bucket,
			Key:        key,
			UploadId:   created.UploadId,
			PartNumber: aws.Int32(int32(i + 1)),
			Body:       strings.NewReader(text),
		})
		if err != nil {
			t.Fatalf("UploadPart(%d) = %v", i+1, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	_, err = f.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          bucket,
		Key:             key,
		UploadId:        created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload() = %v", err)
	}
	if got := f.readFile(t, "demo/parts/joined.txt"); got != "first part, second part" {
		t.Errorf("joined file = %q, want %q", got, "first part, second part")
	}
}

// gatedBody is a request body whose first Read signals started and then
// waits for release. With "Expect: 100-continue" the client reads the body
// only after the server's handler starts reading it, so started means the
// upload is in progress at the server.
type gatedBody struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
	data    io.Reader
	failAt  error // returned in place of io.EOF, when set
}

func (g *gatedBody) Read(p []byte) (int, error) {
	g.once.Do(func() {
		close(g.started)
		<-g.release
	})
	n, err := g.data.Read(p)
	if err == io.EOF && g.failAt != nil {
		return n, g.failAt
	}
	return n, err
}

// startGatedPut sends a PUT whose body waits for release, and returns the
// channel that receives the request's result.
func startGatedPut(t *testing.T, f *fixture, key string, body *gatedBody, contentLength int64) <-chan error {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, f.store.Endpoint()+"/demo/"+key, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = contentLength
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}

	done := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		done <- err
	}()
	return done
}

// TestUploadInProgressDoesNotBlockReads checks that reads and listings are
// served while an upload is still receiving its body. s3afero's PutObject
// holds its lock while it copies the body, which would block every other
// request for the length of a slow upload.
func TestUploadInProgressDoesNotBlockReads(t *testing.T) {
	f := startStore(t, objectTree)

	body := &gatedBody{
		started: make(chan struct{}),
		release: make(chan struct{}),
		data:    strings.NewReader("slow upload"),
	}
	done := startGatedPut(t, f, "hello.txt", body, int64(len("slow upload")))
	<-body.started

	out, err := f.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("demo"), Key: aws.String("hello.txt")})
	if err != nil {
		t.Fatalf("GetObject(hello.txt) during an upload = %v", err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(got) != helloText {
		t.Errorf("GetObject(hello.txt) during an upload = %q, want the old content %q", got, helloText)
	}
	if _, err := f.client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("demo")}); err != nil {
		t.Errorf("ListObjectsV2() during an upload = %v", err)
	}

	close(body.release)
	if err := <-done; err != nil {
		t.Fatalf("PUT hello.txt = %v", err)
	}
	if got := f.readFile(t, "demo/hello.txt"); got != "slow upload" {
		t.Errorf("demo/hello.txt = %q after the upload, want %q", got, "slow upload")
	}
}

// TestFailedUploadKeepsObject checks that an upload whose client fails
// part-way leaves the old object as it was. s3afero truncates the file
// before it reads the body.
func TestFailedUploadKeepsObject(t *testing.T) {
	f := startStore(t, objectTree)

	body := &gatedBody{
		started: make(chan struct{}),
		release: make(chan struct{}),
		data:    strings.NewReader("partial"),
		failAt:  errors.New("client gave up"),
	}
	done := startGatedPut(t, f, "hello.txt", body, 1000)
	<-body.started
	close(body.release)
	if err := <-done; err == nil {
		t.Fatalf("PUT hello.txt with a failing body succeeded, want an error")
	}

	// Close waits for the handler of the failed upload to return.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.store.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got := f.readFile(t, "demo/hello.txt"); got != helloText {
		t.Errorf("demo/hello.txt = %q after a failed upload, want %q", got, helloText)
	}
}

// TestConcurrentRequests runs reads, listings and writes at once, for the
// race detector.
func TestConcurrentRequests(t *testing.T) {
	f := startStore(t, objectTree)
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for worker := range 6 {
		wg.Go(func() {
			key := aws.String(fmt.Sprintf("worker-%d/file.txt", worker))
			for i := range 10 {
				if _, err := f.client.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String("demo"), Key: key, Body: strings.NewReader(fmt.Sprint(i)),
				}); err != nil {
					errs <- fmt.Errorf("PutObject(%s) = %w", *key, err)
					return
				}
				if _, err := f.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("demo"), Key: aws.String("hello.txt")}); err != nil {
					errs <- fmt.Errorf("HeadObject(hello.txt) = %w", err)
					return
				}
				if _, err := f.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("demo")}); err != nil {
					errs <- fmt.Errorf("ListObjectsV2() = %w", err)
					return
				}
				if _, err := f.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("demo"), Key: key}); err != nil {
					errs <- fmt.Errorf("DeleteObject(%s) = %w", *key, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
