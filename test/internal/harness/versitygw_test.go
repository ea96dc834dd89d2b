package harness

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestVersitygwStoresObjects(t *testing.T) {
	s := Versitygw(t)
	s.CreateBucket(t, "seeded")

	tests := []struct {
		name        string
		key         string
		data        []byte
		contentType string
		meta        map[string]string
	}{
		{name: "plain", key: "plain.txt", data: []byte("hello"), contentType: "text/plain"},
		{name: "nested with metadata", key: "dir/sub/model.bin", data: bytes.Repeat([]byte{0, 1, 2, 255}, 4096),
			contentType: "application/octet-stream", meta: map[string]string{"origin": "harness", "run": "7"}},
		{name: "reserved characters", key: "a+b c=d&e.txt", data: []byte("reserved"), contentType: "text/plain"},
		{name: "non-ASCII", key: "données/日本.txt", data: []byte("unicode"), contentType: "text/plain"},
		{name: "empty object", key: "empty", data: []byte{}, contentType: "application/x-empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			put := s.Put(t, "seeded", tt.key, tt.data, tt.contentType, tt.meta)
			if put.ETag == "" {
				t.Errorf("Put(%q) ETag = %q, want non-empty", tt.key, put.ETag)
			}

			if got := s.Get(t, "seeded", tt.key); !bytes.Equal(got, tt.data) {
				t.Errorf("Get(%q) = %d bytes, want the %d bytes put", tt.key, len(got), len(tt.data))
			}

			head, err := s.Client().HeadObject(context.Background(), &s3.HeadObjectInput{
				Bucket: aws.String("seeded"), Key: aws.String(tt.key),
			})
			if err != nil {
				t.Fatalf("HeadObject(%q) = %v", tt.key, err)
			}
			if got := aws.ToString(head.ContentType); got != tt.contentType {
				t.Errorf("HeadObject(%q) ContentType = %q, want %q", tt.key, got, tt.contentType)
			}
			if got := aws.ToString(head.ETag); got != put.ETag {
				t.Errorf("HeadObject(%q) ETag = %q, want %q", tt.key, got, put.ETag)
			}
			if diff := cmp.Diff(tt.meta, head.Metadata, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("HeadObject(%q) Metadata mismatch (-want +got):\n%s", tt.key, diff)
			}
		})
	}
}

func TestVersitygwDeletesObjects(t *testing.T) {
	s := Versitygw(t)
	s.CreateBucket(t, "gone")
	s.Put(t, "gone", "k", []byte("x"), "", nil)

	s.Delete(t, "gone", "k")

	_, err := s.Client().HeadObject(context.Background(), &s3.HeadObjectInput{
		Bucket: aws.String("gone"), Key: aws.String("k"),
	})
	if err == nil {
		t.Errorf("HeadObject after Delete = nil error, want not found")
	}
}

func TestVersitygwListsBuckets(t *testing.T) {
	s := Versitygw(t)
	s.CreateBucket(t, "alpha")
	s.CreateBucket(t, "beta")

	out, err := s.Client().ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets() = %v", err)
	}
	var got []string
	for _, b := range out.Buckets {
		got = append(got, aws.ToString(b.Name))
	}
	if diff := cmp.Diff([]string{"alpha", "beta"}, got); diff != "" {
		t.Errorf("ListBuckets() names mismatch (-want +got):\n%s", diff)
	}
}

func TestVersitygwKeepsVersions(t *testing.T) {
	s := StartVersitygw(t, VersitygwOptions{Versioning: true})
	s.CreateBucket(t, "versioned")
	s.EnableVersioning(t, "versioned")

	first := s.Put(t, "versioned", "k", []byte("first"), "text/plain", nil)
	second := s.Put(t, "versioned", "k", []byte("second"), "text/plain", nil)
	if first.VersionID == "" || first.VersionID == second.VersionID {
		t.Fatalf("Put version ids = %q, %q, want two distinct non-empty ids", first.VersionID, second.VersionID)
	}

	out, err := s.Client().GetObject(context.Background(), &s3.GetObjectInput{
		Bucket: aws.String("versioned"), Key: aws.String("k"), VersionId: aws.String(first.VersionID),
	})
	if err != nil {
		t.Fatalf("GetObject(versionId=%q) = %v", first.VersionID, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("reading GetObject(versionId=%q): %v", first.VersionID, err)
	}
	if string(data) != "first" {
		t.Errorf("GetObject(versionId=%q) = %q, want %q", first.VersionID, data, "first")
	}
	if got := s.Get(t, "versioned", "k"); string(got) != "second" {
		t.Errorf("Get(latest) = %q, want %q", got, "second")
	}
}

func TestVersitygwLogsRequests(t *testing.T) {
	s := Versitygw(t)
	s.CreateBucket(t, "logged")

	if log := s.Log(t); !bytes.Contains([]byte(log), []byte("/logged")) {
		t.Errorf("Log() does not mention the request to /logged:\n%s", log)
	}
}
