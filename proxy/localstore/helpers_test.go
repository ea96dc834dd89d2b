package localstore

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	testAccessKey = "AKIDLOCALSTORETEST"
	testSecretKey = "local-store-test-secret"
)

// fixedTime is the modification time given to every fixture file and
// folder, so that tests can compare Last-Modified and CreationDate.
var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestMain(m *testing.M) {
	// Every client here gets static credentials. These variables keep any
	// default credential lookup away from the instance metadata address.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", testSecretKey)
	os.Exit(m.Run())
}

// fixture is a running store over a temporary directory.
type fixture struct {
	dir    string
	store  *Store
	client *s3.Client
}

// writeTree creates files below dir. A name ending in "/" makes an empty
// folder. All files and folders get fixedTime as their modification time.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(path, fixedTime, fixedTime)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// startStore writes files into a new temporary directory and serves it.
func startStore(t testing.TB, files map[string]string) *fixture {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	return serve(t, dir)
}

// serve starts a store for dir and stops it when the test ends.
func serve(t testing.TB, dir string) *fixture {
	t.Helper()
	store, err := Start(dir, nil)
	if err != nil {
		t.Fatalf("Start(%q) = %v", dir, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := store.Close(ctx); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return &fixture{dir: dir, store: store, client: newClient(store.Endpoint())}
}

// newClient returns an S3 client for a path-style endpoint, with static
// credentials and no retries, so that every call is one request.
func newClient(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// do sends an unsigned request, which the store accepts, and returns the
// response with its body read.
func (f *fixture) do(t testing.TB, method, path string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.store.Endpoint()+path, reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, string(data)
}

// readFile returns the content of a file below the fixture's directory.
func (f *fixture) readFile(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return string(data)
}

func (f *fixture) exists(name string) bool {
	_, err := os.Lstat(filepath.Join(f.dir, filepath.FromSlash(name)))
	return err == nil
}

// tree returns every file and folder below dir, as slash-separated paths.
func tree(t testing.TB, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel += "/"
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func md5ETag(content string) string {
	sum := md5.Sum([]byte(content))
	return `"` + hex.EncodeToString(sum[:]) + `"`
}
