package localstore

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want error
	}{
		{name: "plain", key: "hello.txt"},
		{name: "nested", key: "a/b/c.txt"},
		{name: "spaces and symbols", key: "with space+plus%percent?#&=.txt"},
		{name: "utf-8", key: "café/日本語.txt"},
		{name: "dots inside names", key: "a..b/.hidden/c."},
		{name: "empty", key: "", want: errEmptyKey},
		{name: "double slash", key: "a//b", want: errEmptySegment},
		{name: "leading slash", key: "/a", want: errEmptySegment},
		{name: "trailing slash", key: "a/", want: errEmptySegment},
		{name: "dot", key: "a/./b", want: errDotSegment},
		{name: "dot dot", key: "../other/key", want: errDotSegment},
		{name: "only dot dot", key: "..", want: errDotSegment},
		{name: "nul", key: "a\x00b", want: errKeyNUL},
		{name: "segment of 255 bytes", key: strings.Repeat("x", 255)},
		{name: "segment of 256 bytes", key: "a/" + strings.Repeat("x", 256), want: errLongSegment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkKey(tt.key); got != tt.want {
				t.Errorf("checkKey(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

// TestSpecialKeys round-trips keys that need escaping in URLs or XML
// through PutObject, GetObject and ListObjectsV2, and checks the file that
// holds each.
func TestSpecialKeys(t *testing.T) {
	f := startStore(t, map[string]string{"demo/": ""})
	ctx := context.Background()

	keys := []string{
		"with space.txt",
		"plus+sign.txt",
		"100%.txt",
		"percent%20literal.txt",
		"café/日本語.txt",
		"emoji 😀.txt",
		"question?.txt",
		"hash#.txt",
		"amp&eq=.txt",
		`quote'"quote.txt`,
		"angle<brackets>.txt",
		"semi;colon:.txt",
		`back\slash.txt`,
		"tilde~star*.txt",
	}
	for _, key := range keys {
		_, err := f.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String("demo"),
			Key:    aws.String(key),
			Body:   strings.NewReader("content of " + key),
		})
		if err != nil {
			t.Errorf("PutObject(%q) = %v", key, err)
			continue
		}
		if got, want := f.readFile(t, "demo/"+key), "content of "+key; got != want {
			t.Errorf("file for key %q = %q, want %q", key, got, want)
		}

		out, err := f.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("demo"), Key: aws.String(key)})
		if err != nil {
			t.Errorf("GetObject(%q) = %v", key, err)
			continue
		}
		body, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if got, want := string(body), "content of "+key; got != want {
			t.Errorf("GetObject(%q) body = %q, want %q", key, got, want)
		}
	}

	got, _ := listV2(t, f.client, &s3.ListObjectsV2Input{Bucket: aws.String("demo")})
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(got.Keys, want) {
		t.Errorf("ListObjectsV2() keys = %q, want %q", got.Keys, want)
	}
}

// TestUnstorableKeys checks keys that S3 accepts but that do not map
// one-to-one onto file paths: writes fail with 400, reads find nothing, and
// none of them reaches a file outside its bucket.
func TestUnstorableKeys(t *testing.T) {
	f := startStore(t, map[string]string{
		"demo/a/b":       "b in a",
		"demo/x":         "x",
		"other/keep.txt": "keep",
	})

	paths := []string{
		"/demo/a//b",
		"/demo//x",
		"/demo/a/b/",
		"/demo/./x",
		"/demo/a/../x",
		"/demo/../other/keep.txt",
		"/demo/a%00b",
		"/demo/" + strings.Repeat("y", 256),
	}
	for _, path := range paths {
		t.Run(path[:min(len(path), 30)], func(t *testing.T) {
			resp, body := f.do(t, http.MethodPut, path, nil, "overwritten")
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
				t.Errorf("PUT %s status = %d body %s, want 400 InvalidArgument", path, resp.StatusCode, body)
			}
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				resp, _ := f.do(t, method, path, nil, "")
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s %s status = %d, want 404", method, path, resp.StatusCode)
				}
			}
			resp, _ = f.do(t, http.MethodDelete, path, nil, "")
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("DELETE %s status = %d, want 204", path, resp.StatusCode)
			}
		})
	}

	// The keys arrive unchanged through the SDK as well.
	_, err := f.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("demo"),
		Key:    aws.String("a//b"),
		Body:   strings.NewReader("overwritten"),
	})
	if got := codeOf(err); got != "InvalidArgument" {
		t.Errorf("PutObject(a//b) error code = %q, want InvalidArgument (error %v)", got, err)
	}
	_, err = f.client.DeleteObjects(context.Background(), &s3.DeleteObjectsInput{
		Bucket: aws.String("demo"),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("../other/keep.txt")}}},
	})
	if err != nil {
		t.Errorf("DeleteObjects(../other/keep.txt) = %v", err)
	}

	for name, want := range map[string]string{"demo/a/b": "b in a", "demo/x": "x", "other/keep.txt": "keep"} {
		if got := f.readFile(t, name); got != want {
			t.Errorf("%s = %q after the requests, want %q", name, got, want)
		}
	}
}
