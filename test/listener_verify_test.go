package test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/s3-batching-agent/s3-batching-agent/test/internal/harness"
)

// Client credentials of the verify-mode agent. They are unrelated to the
// harness credentials, which the agent keeps using upstream.
const (
	fullClientKey    = "VERIFYFULLCLIENT"
	fullClientSecret = "verify-full-client-secret"
	jobsClientKey    = "VERIFYJOBSCLIENT"
	jobsClientSecret = "verify-jobs-client-secret"
)

// Buckets of the verify-mode stack. The jobs client may read and write
// under jobs/ in verifyBucket and read modelsBucket. No rule of it covers
// privateBucket.
const (
	verifyBucket  = "verify"
	modelsBucket  = "models"
	privateBucket = "private"
)

// verifyCredentials is the --client-credentials file, in the JSON format
// that compat.ParseClientCredentials reads.
const verifyCredentials = `{
  "clients": [
    {"accessKeyId": "` + fullClientKey + `", "secretAccessKey": "` + fullClientSecret + `"},
    {
      "accessKeyId": "` + jobsClientKey + `",
      "secretAccessKey": "` + jobsClientSecret + `",
      "allow": [
        {"bucket": "` + verifyBucket + `", "prefix": "jobs/", "access": "read-write"},
        {"bucket": "` + modelsBucket + `", "access": "read"}
      ]
    }
  ]
}`

// startVerifyStack starts the listener stack with the agent in verify mode.
func startVerifyStack(t *testing.T) *listenerStack {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clients.json")
	if err := os.WriteFile(path, []byte(verifyCredentials), 0o600); err != nil {
		t.Fatal(err)
	}
	return startListenerStack(t, listenerOptions{
		buckets:   []string{verifyBucket, modelsBucket, privateBucket},
		agentArgs: []string{"--client-auth=verify", "--client-credentials=" + path},
		front:     true,
	})
}

// verifySDKClient returns an aws-sdk-go-v2 client for the agent's listener
// that signs with the given client credentials.
func (st *listenerStack) verifySDKClient(accessKey, secret string) *s3.Client {
	return st.sdkClient(func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(accessKey, secret, "")
	})
}

// s3ErrorDocument is the XML body of an S3 error response.
type s3ErrorDocument struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

// checkXMLError fails the test unless r is an S3 XML error with status
// and code.
func checkXMLError(t *testing.T, what string, r plainResponse, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s status = %d, want %d; body %.300s", what, r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		t.Errorf("%s Content-Type = %q, want application/xml", what, ct)
	}
	var doc s3ErrorDocument
	if err := xml.Unmarshal(r.body, &doc); err != nil {
		t.Errorf("%s body %q is not an S3 error document: %v", what, r.body, err)
		return
	}
	if doc.Code != code {
		t.Errorf("%s error Code = %q, want %q; message %q", what, doc.Code, code, doc.Message)
	}
}

// signRequest signs req as an S3 client does, with the hex SHA-256 of
// body as its payload hash, at signingTime.
func signRequest(t *testing.T, req *http.Request, body []byte, accessKey, secret string, signingTime time.Time) {
	t.Helper()
	hash := sumSHA256(body)
	req.Header.Set("X-Amz-Content-Sha256", hash)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret}
	if err := signer.SignHTTP(req.Context(), creds, req, hash, "s3", harness.Region, signingTime); err != nil {
		t.Fatalf("signing %s %s: %v", req.Method, req.URL, err)
	}
}

// presignGet returns a presigned GET URL for target that is valid for
// expires from signingTime.
func presignGet(t *testing.T, target, accessKey, secret string, signingTime time.Time, expires time.Duration) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires.Seconds())))
	u.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret}
	signed, _, err := signer.PresignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", harness.Region, signingTime)
	if err != nil {
		t.Fatalf("presigning GET %s: %v", target, err)
	}
	return signed
}

func TestListenerVerifySignedClients(t *testing.T) {
	st := startVerifyStack(t)
	client := st.verifySDKClient(fullClientKey, fullClientSecret)
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	data := randomObject(t, 300<<10)
	const key = "signed/object.bin"

	// Put, get, head, list, in parts, delete: every request signed by a
	// known client.
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(verifyBucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("PutObject(%q) = %v", key, err)
	}
	st.checkStored(t, verifyBucket, key, data)
	got := sdkRead{}.do(ctx, client, verifyBucket, key)
	if got.err != nil {
		t.Fatalf("GetObject(%q) = %v", key, got.err)
	}
	checkSameBytes(t, "GetObject body", got.body, data)
	if r := (sdkRead{head: true}).do(ctx, client, verifyBucket, key); r.err != nil {
		t.Errorf("HeadObject(%q) = %v", key, r.err)
	}
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(verifyBucket), Prefix: aws.String("signed/")})
	if err != nil {
		t.Fatalf("ListObjectsV2 = %v", err)
	}
	if diff := cmp.Diff([]string{key}, objectKeys(list.Contents)); diff != "" {
		t.Errorf("ListObjectsV2 keys (-want +got):\n%s", diff)
	}
	big := randomObject(t, 11<<20)
	uploadSDKParts(t, ctx, client, verifyBucket, "signed/parts.bin", big, 5<<20)
	st.checkStored(t, verifyBucket, "signed/parts.bin", big)
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(verifyBucket), Key: aws.String("signed/parts.bin")}); err != nil {
		t.Errorf("DeleteObject = %v", err)
	}
	st.checkNotStored(t, verifyBucket, "signed/parts.bin")

	// A presigned GET within its expiry.
	target := st.endpoint() + "/" + verifyBucket + "/" + key
	r := sendPlain(t, http.MethodGet, presignGet(t, target, fullClientKey, fullClientSecret, time.Now(), 5*time.Minute), nil)
	if r.status != http.StatusOK {
		t.Errorf("presigned GET status = %d, want 200; body %.300s", r.status, r.body)
	} else {
		checkSameBytes(t, "presigned GET body", r.body, data)
	}

	// minio-go signs every 64 KiB chunk of the body over plain http.
	minioClient := st.verifyMinioClient(t, fullClientKey, fullClientSecret, nil)
	chunked := randomObject(t, 1<<20)
	if _, err := minioClient.PutObject(ctx, verifyBucket, "signed/chunked.bin", bytes.NewReader(chunked), int64(len(chunked)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("minio-go PutObject with signed chunks = %v", err)
	}
	st.checkStored(t, verifyBucket, "signed/chunked.bin", chunked)
}

func TestListenerVerifyRejects(t *testing.T) {
	st := startVerifyStack(t)
	const key = "rejected.txt"
	st.s3.Put(t, verifyBucket, key, []byte("never served to an unverified client"), "", nil)
	target := st.endpoint() + "/" + verifyBucket + "/" + key
	now := time.Now()

	tests := []struct {
		name     string
		request  func(t *testing.T) *http.Request
		wantCode string
	}{
		{
			name: "wrong secret",
			request: func(t *testing.T) *http.Request {
				req := newPlainRequest(t, http.MethodGet, target, nil)
				signRequest(t, req, nil, fullClientKey, "not-the-secret", now)
				return req
			},
			wantCode: "SignatureDoesNotMatch",
		},
		{
			name: "unknown access key",
			request: func(t *testing.T) *http.Request {
				req := newPlainRequest(t, http.MethodGet, target, nil)
				signRequest(t, req, nil, "UNKNOWNCLIENTKEY", fullClientSecret, now)
				return req
			},
			wantCode: "InvalidAccessKeyId",
		},
		{
			name: "date 20 minutes behind",
			request: func(t *testing.T) *http.Request {
				req := newPlainRequest(t, http.MethodGet, target, nil)
				signRequest(t, req, nil, fullClientKey, fullClientSecret, now.Add(-20*time.Minute))
				return req
			},
			wantCode: "RequestTimeTooSkewed",
		},
		{
			name: "date 20 minutes ahead",
			request: func(t *testing.T) *http.Request {
				req := newPlainRequest(t, http.MethodGet, target, nil)
				signRequest(t, req, nil, fullClientKey, fullClientSecret, now.Add(20*time.Minute))
				return req
			},
			wantCode: "RequestTimeTooSkewed",
		},
		{
			// Signed 10 minutes ago for 60 seconds: expired, though the
			// signing time is within the 15-minute skew limit.
			name: "expired presigned URL",
			request: func(t *testing.T) *http.Request {
				return newPlainRequest(t, http.MethodGet, presignGet(t, target, fullClientKey, fullClientSecret, now.Add(-10*time.Minute), time.Minute), nil)
			},
			wantCode: "AccessDenied",
		},
		{
			name: "presigned URL with a wrong secret",
			request: func(t *testing.T) *http.Request {
				return newPlainRequest(t, http.MethodGet, presignGet(t, target, fullClientKey, "not-the-secret", now, time.Minute), nil)
			},
			wantCode: "SignatureDoesNotMatch",
		},
		{
			name: "unsigned GET",
			request: func(t *testing.T) *http.Request {
				return newPlainRequest(t, http.MethodGet, target, nil)
			},
			wantCode: "AccessDenied",
		},
		{
			name: "unsigned PUT",
			request: func(t *testing.T) *http.Request {
				return newPlainRequest(t, http.MethodPut, target, []byte("overwrite"))
			},
			wantCode: "AccessDenied",
		},
		{
			name: "body differs from the signed hash",
			request: func(t *testing.T) *http.Request {
				req := newPlainRequest(t, http.MethodPut, target, []byte("the bytes sent"))
				signRequest(t, req, []byte("the bytes signed"), fullClientKey, fullClientSecret, now)
				return req
			},
			wantCode: "XAmzContentSHA256Mismatch",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st.upstream.Reset()
			r := doPlain(t, http.DefaultClient, tt.request(t))
			status := http.StatusForbidden
			if tt.wantCode == "XAmzContentSHA256Mismatch" {
				status = http.StatusBadRequest
			}
			checkXMLError(t, tt.name, r, status, tt.wantCode)
			if bytes.Contains(r.body, []byte("never served")) {
				t.Errorf("%s response contains the object's bytes", tt.name)
			}
			if tt.wantCode != "XAmzContentSHA256Mismatch" {
				// Every check but the payload hash runs before the request
				// may reach the upstream.
				if n := st.upstream.Count("", verifyBucket, key); n != 0 {
					t.Errorf("%s: upstream requests for %q = %d, want 0", tt.name, key, n)
				}
			}
		})
	}
	st.checkStored(t, verifyBucket, key, []byte("never served to an unverified client"))
}

// newPlainRequest returns a request with a context bounded by
// clientTimeout and, when body is not nil, that body.
func newPlainRequest(t *testing.T, method, target string, body []byte) *http.Request {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	t.Cleanup(cancel)
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		t.Fatalf("building %s %s: %v", method, target, err)
	}
	return req
}

func TestListenerVerifyAllowRules(t *testing.T) {
	st := startVerifyStack(t)
	for bucket, key := range map[string]string{verifyBucket: "jobs/input.txt", modelsBucket: "model.bin", privateBucket: "jobs/secret.txt"} {
		st.s3.Put(t, bucket, key, []byte(bucket+"/"+key), "", nil)
	}
	st.s3.Put(t, verifyBucket, "other/input.txt", []byte("outside the prefix"), "", nil)
	client := st.verifySDKClient(jobsClientKey, jobsClientSecret)
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()

	get := func(bucket, key string) func() error {
		return func() error { return sdkRead{}.do(ctx, client, bucket, key).err }
	}
	put := func(bucket, key string) func() error {
		return func() error {
			_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("written by the jobs client")})
			return err
		}
	}
	list := func(bucket, prefix string) func() error {
		return func() error {
			_, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
			return err
		}
	}
	deleteObject := func(bucket, key string) func() error {
		return func() error {
			_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			return err
		}
	}

	tests := []struct {
		name    string
		call    func() error
		allowed bool
	}{
		{name: "get under the prefix", call: get(verifyBucket, "jobs/input.txt"), allowed: true},
		{name: "put under the prefix", call: put(verifyBucket, "jobs/output.txt"), allowed: true},
		{name: "list the prefix", call: list(verifyBucket, "jobs/"), allowed: true},
		{name: "get from a read-only bucket", call: get(modelsBucket, "model.bin"), allowed: true},
		{name: "get outside the prefix", call: get(verifyBucket, "other/input.txt")},
		{name: "put outside the prefix", call: put(verifyBucket, "other/output.txt")},
		{name: "delete outside the prefix", call: deleteObject(verifyBucket, "other/input.txt")},
		{name: "list the whole bucket", call: list(verifyBucket, "")},
		{name: "put to a read-only bucket", call: put(modelsBucket, "model.bin")},
		{name: "get from another bucket", call: get(privateBucket, "jobs/secret.txt")},
		{name: "list another bucket", call: list(privateBucket, "jobs/")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if tt.allowed {
				if err != nil {
					t.Errorf("call = %v, want success", err)
				}
				return
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDenied" || sdkErrorStatus(err) != http.StatusForbidden {
				t.Errorf("call = %v, want 403 AccessDenied", err)
			}
		})
	}

	// The denied writes left versitygw as it was.
	st.checkStored(t, verifyBucket, "other/input.txt", []byte("outside the prefix"))
	st.checkStored(t, modelsBucket, "model.bin", []byte(modelsBucket+"/model.bin"))
	st.checkNotStored(t, verifyBucket, "other/output.txt")
	st.checkStored(t, verifyBucket, "jobs/output.txt", []byte("written by the jobs client"))
}

// minioChunkSize and minioChunkHeaderSize describe minio-go's signed
// aws-chunked body: 64 KiB of payload per chunk, each after a header of
// "10000;chunk-signature=" and 64 hex digits and CRLF, and each followed
// by CRLF.
const (
	minioChunkSize       = 64 << 10
	minioChunkHeaderSize = len("10000;chunk-signature=") + 64 + 2
)

// verifyMinioClient returns a minio-go client for the stack's endpoint
// that signs with the given credentials over plain http, so that it
// streams signed aws-chunked bodies. transport nil means the default.
func (st *listenerStack) verifyMinioClient(t *testing.T, accessKey, secret string, transport http.RoundTripper) *minio.Client {
	t.Helper()
	endpoint, err := url.Parse(st.endpoint())
	if err != nil {
		t.Fatal(err)
	}
	client, err := minio.New(endpoint.Host, &minio.Options{
		Creds:        miniocreds.NewStaticV4(accessKey, secret, ""),
		Region:       harness.Region,
		BucketLookup: minio.BucketLookupPath,
		Transport:    transport,
		MaxRetries:   1,
	})
	if err != nil {
		t.Fatalf("minio.New(%q) = %v", endpoint.Host, err)
	}
	return client
}

// flipTransport inverts one byte of every request body at offset and
// sends the request on with http.DefaultTransport.
type flipTransport struct {
	offset int64
}

func (f flipTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return http.DefaultTransport.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	out.Body = &flipReader{body: req.Body, offset: f.offset}
	return http.DefaultTransport.RoundTrip(out)
}

// flipReader passes body through with the byte at offset inverted.
type flipReader struct {
	body   io.ReadCloser
	offset int64
	read   int64
}

func (r *flipReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	if i := r.offset - r.read; i >= 0 && i < int64(n) {
		p[i] ^= 0xff
	}
	r.read += int64(n)
	return n, err
}

func (r *flipReader) Close() error { return r.body.Close() }

func TestListenerVerifyCorruptChunk(t *testing.T) {
	st := startVerifyStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	data := randomObject(t, 1<<20)
	const key = "jobs/corrupt.bin"

	// A byte in the middle of the third chunk's payload, so that the first
	// two chunks verify and may already be on their way upstream.
	offset := int64(2*(minioChunkHeaderSize+minioChunkSize+2) + minioChunkHeaderSize + 1000)
	client := st.verifyMinioClient(t, fullClientKey, fullClientSecret, flipTransport{offset: offset})
	_, err := client.PutObject(ctx, verifyBucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err == nil {
		t.Fatalf("minio-go PutObject with a corrupted chunk succeeded, want an error")
	}
	// The agent may respond and close the connection before the client has
	// sent the rest of the body, so a connection error is a valid outcome
	// too. An S3 error must be the chunk signature's.
	if resp := minio.ToErrorResponse(err); resp.Code != "" && (resp.StatusCode != http.StatusForbidden || resp.Code != "SignatureDoesNotMatch") {
		t.Errorf("minio-go PutObject with a corrupted chunk = status %d, code %q, want 403 SignatureDoesNotMatch", resp.StatusCode, resp.Code)
	}
	t.Logf("PutObject with a corrupted chunk: %v", err)
	st.checkClientPayload(t, "minio-go PutObject", verifyBucket, key, payloadStreamingSigned)

	// Nothing may be stored, not even the chunks that verified before the
	// corrupted one.
	head, err := st.s3.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(verifyBucket), Key: aws.String(key)})
	switch {
	case err == nil:
		t.Errorf("versitygw stores %d of the %d bytes under %q after the agent rejected the upload, want no object",
			aws.ToInt64(head.ContentLength), len(data), key)
	case sdkErrorStatus(err) != http.StatusNotFound:
		t.Errorf("HeadObject(%q) on versitygw = %v, want 404", key, err)
	}
}
