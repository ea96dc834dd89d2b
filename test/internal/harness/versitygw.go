package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	// versitygwHealthPath is versitygw's --health endpoint. The underscore
	// keeps it apart from every valid bucket name.
	versitygwHealthPath = "/_harness_health"

	// versitygwStartTimeout bounds the wait for versitygw's health endpoint to
	// return 200.
	versitygwStartTimeout = 30 * time.Second

	// setupTimeout bounds each seeding call such as CreateBucket or Put.
	setupTimeout = 30 * time.Second

	// startAttempts is how often a server start is tried when another
	// process took its port first.
	startAttempts = 3
)

// VersitygwOptions configures StartVersitygw. The zero value starts a
// gateway in Region without versioning.
type VersitygwOptions struct {
	// Versioning turns on the posix backend's object versioning
	// (--versioning-dir), which PutBucketVersioning and versionId reads
	// need. Buckets still start unversioned; see EnableVersioning.
	Versioning bool

	// Region is the gateway's region; empty means Region. A gateway in
	// another region rejects requests signed for Region.
	Region string
}

// S3Server is a running versitygw S3 gateway on 127.0.0.1 with the posix
// backend. Its methods that take a testing.TB must run on the test's
// goroutine; Client is safe for concurrent use.
type S3Server struct {
	// Endpoint is the base URL for path-style requests,
	// http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey and SecretKey are the gateway's root credentials.
	AccessKey, SecretKey string
	// Region is the gateway's region.
	Region string
	// DataDir is the posix backend's root: each top-level directory is a
	// bucket.
	DataDir string

	client *s3.Client
	proc   *process
}

// Versitygw starts versitygw with default options; see StartVersitygw.
func Versitygw(t testing.TB) *S3Server {
	t.Helper()
	return StartVersitygw(t, VersitygwOptions{})
}

// StartVersitygw starts versitygw on a free port of 127.0.0.1, with the
// static root credentials, keep-alive connections and the posix backend on
// a directory of t.TempDir, and waits until its health endpoint returns
// 200. t.Cleanup stops it, and its log is printed when the test fails. When
// the binary is not installed it calls Missing.
func StartVersitygw(t testing.TB, opts VersitygwOptions) *S3Server {
	t.Helper()
	bin := versitygwBinary(t)
	region := opts.Region
	if region == "" {
		region = Region
	}

	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var backendArgs []string
	if opts.Versioning {
		versionDir := filepath.Join(dir, "versions")
		if err := os.Mkdir(versionDir, 0o755); err != nil {
			t.Fatal(err)
		}
		backendArgs = append(backendArgs, "--versioning-dir", versionDir)
	}

	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		args := []string{
			"--port", hostPort(port),
			"--access", AccessKey,
			"--secret", SecretKey,
			"--region", region,
			"--keep-alive",
			"--health", versitygwHealthPath,
			"posix",
		}
		args = append(args, backendArgs...)
		args = append(args, dataDir)

		logPath := filepath.Join(dir, fmt.Sprintf("versitygw-%d.log", attempt))
		proc, err := startProcess("versitygw", bin, args, ChildEnv(), logPath)
		if err != nil {
			t.Fatal(err)
		}
		proc.logTailOnFailure(t)
		t.Cleanup(func() {
			if !proc.running() {
				return
			}
			if proc.stop(syscall.SIGTERM, 10*time.Second) {
				t.Errorf("versitygw did not exit within 10s of SIGTERM and was killed")
			}
		})

		endpoint := "http://" + hostPort(port)
		err = proc.waitReady(versitygwStartTimeout, func() error {
			return httpStatusOK(endpoint + versitygwHealthPath)
		})
		if err == nil {
			return &S3Server{
				Endpoint:  endpoint,
				AccessKey: AccessKey,
				SecretKey: SecretKey,
				Region:    region,
				DataDir:   dataDir,
				client: NewS3Client(endpoint, func(o *s3.Options) {
					o.Region = region
				}),
				proc: proc,
			}
		}
		if attempt < startAttempts && !proc.running() && proc.addrInUse() {
			continue
		}
		t.Fatalf("starting versitygw: %v", err)
	}
}

// versitygwBinary finds versitygw on PATH, then in $(go env GOBIN) and
// $(go env GOPATH)/bin.
func versitygwBinary(t testing.TB) string {
	t.Helper()
	if path, err := exec.LookPath("versitygw"); err == nil {
		return path
	}

	var dirs []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		// An unset GOBIN prints an empty first line.
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(lines) == 2 {
			if gobin := strings.TrimSpace(lines[0]); gobin != "" {
				dirs = append(dirs, gobin)
			}
			for _, gopath := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(gopath, "bin"))
			}
		}
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, "versitygw")
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return path
		}
	}
	Missing(t, "versitygw not found on PATH or in %v (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)", dirs)
	return ""
}

// httpStatusOK returns nil when a GET of url returns 200 within a second.
func httpStatusOK(url string) error {
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	return nil
}

// Client returns an S3 client for the gateway; see NewS3Client.
func (s *S3Server) Client() *s3.Client {
	return s.client
}

// Log returns versitygw's log so far, which includes one line per request.
func (s *S3Server) Log(t testing.TB) string {
	t.Helper()
	log, err := s.proc.log()
	if err != nil {
		t.Fatal(err)
	}
	return log
}

// CreateBucket creates the bucket name.
func (s *S3Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket(%q) = %v", name, err)
	}
}

// EnableVersioning turns versioning on for bucket. The server must have
// been started with VersitygwOptions.Versioning.
func (s *S3Server) EnableVersioning(t testing.TB, bucket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	_, err := s.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		t.Fatalf("PutBucketVersioning(%q, Enabled) = %v", bucket, err)
	}
}

// PutResult is what the gateway returned for a Put.
type PutResult struct {
	ETag string
	// VersionID is empty unless the bucket has versioning enabled.
	VersionID string
}

// Put stores data under bucket/key with the given Content-Type and user
// metadata. An empty contentType leaves the type to the gateway. The meta
// keys are x-amz-meta-* header names without that prefix, and nil means
// none.
func (s *S3Server) Put(t testing.TB, bucket, key string, data []byte, contentType string, meta map[string]string) PutResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	input := &s3.PutObjectInput{
		Bucket:   aws.String(bucket),
		Key:      aws.String(key),
		Body:     bytes.NewReader(data),
		Metadata: meta,
	}
	if contentType != "" {
		input.ContentType = aws.String(contentType)
	}
	out, err := s.client.PutObject(ctx, input)
	if err != nil {
		t.Fatalf("PutObject(%q, %q) = %v", bucket, key, err)
	}
	return PutResult{ETag: aws.ToString(out.ETag), VersionID: aws.ToString(out.VersionId)}
}

// Get returns the bytes stored under bucket/key, read straight from the
// gateway.
func (s *S3Server) Get(t testing.TB, bucket, key string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject(%q, %q) = %v", bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("reading GetObject(%q, %q) body: %v", bucket, key, err)
	}
	return data
}

// Delete removes bucket/key.
func (s *S3Server) Delete(t testing.TB, bucket, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Fatalf("DeleteObject(%q, %q) = %v", bucket, key, err)
	}
}
