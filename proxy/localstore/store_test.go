package localstore

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestStartRejectsBadDirectories(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")

	tests := []struct {
		name string
		dir  string
	}{
		{name: "empty", dir: ""},
		{name: "missing", dir: missing},
		{name: "file", dir: file},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, err := Start(tt.dir, nil)
			if err == nil {
				store.Close(context.Background())
				t.Fatalf("Start(%q) = nil error, want an error", tt.dir)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("Start created the missing directory")
	}
}

func TestEndpointIsLoopback(t *testing.T) {
	f := startStore(t, objectTree)

	if got := f.store.Endpoint(); !strings.HasPrefix(got, "http://127.0.0.1:") {
		t.Errorf("Endpoint() = %q, want http://127.0.0.1:PORT", got)
	}
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, objectTree)
	store, err := Start(dir, nil)
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	endpoint := store.Endpoint()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := store.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := store.Close(ctx); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}

	resp, err := http.Get(endpoint + "/demo/hello.txt")
	if err == nil {
		resp.Body.Close()
		t.Errorf("GET after Close() succeeded with status %d, want a connection error", resp.StatusCode)
	}
}

// TestServedDirectoryHoldsOnlyObjects checks that the store writes nothing
// but objects into the served directory: s3afero keeps metadata files in a
// "metadata" folder and a probe file at the root of its file system, which
// the store routes into memory.
func TestServedDirectoryHoldsOnlyObjects(t *testing.T) {
	f := startStore(t, objectTree)
	ctx := context.Background()
	before := tree(t, f.dir)

	if _, err := f.client.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Fatalf("ListBuckets() = %v", err)
	}
	listV2(t, f.client, &s3.ListObjectsV2Input{Bucket: aws.String("demo")})
	for _, key := range []string{"hello.txt", "data/numbers.csv"} {
		out, err := f.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("demo"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("GetObject(%s) = %v", key, err)
		}
		io.Copy(io.Discard, out.Body)
		out.Body.Close()
	}
	if diff := cmp.Diff(before, tree(t, f.dir)); diff != "" {
		t.Errorf("directory changed by reads (-before +after):\n%s", diff)
	}

	_, err := f.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:   aws.String("demo"),
		Key:      aws.String("written.txt"),
		Body:     strings.NewReader("written"),
		Metadata: map[string]string{"note": "metadata stays in memory"},
	})
	if err != nil {
		t.Fatalf("PutObject(written.txt) = %v", err)
	}
	want := append(before, "demo/written.txt")
	if diff := cmp.Diff(want, tree(t, f.dir), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("directory after PutObject mismatch (-want +got):\n%s", diff)
	}
}

// TestDemoStore serves the repository's demo folder, read-only, as the
// quick start does.
func TestDemoStore(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "demo-store")
	before := tree(t, dir)
	f := serve(t, dir)
	ctx := context.Background()

	buckets, err := f.client.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets() = %v", err)
	}
	var names []string
	for _, b := range buckets.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	if diff := cmp.Diff([]string{"demo"}, names); diff != "" {
		t.Errorf("ListBuckets() names mismatch (-want +got):\n%s", diff)
	}

	got, _ := listV2(t, f.client, &s3.ListObjectsV2Input{Bucket: aws.String("demo")})
	wantKeys := []string{"data/numbers.csv", "hello.txt", "images/dot.svg"}
	if diff := cmp.Diff(wantKeys, got.Keys); diff != "" {
		t.Errorf("ListObjectsV2(demo) keys mismatch (-want +got):\n%s", diff)
	}

	out, err := f.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("demo"), Key: aws.String("hello.txt")})
	if err != nil {
		t.Fatalf("GetObject(demo/hello.txt) = %v", err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(body) != helloText {
		t.Errorf("GetObject(demo/hello.txt) = %q, want %q", body, helloText)
	}

	if diff := cmp.Diff(before, tree(t, dir)); diff != "" {
		t.Errorf("demo folder changed by reads (-before +after):\n%s", diff)
	}
}
