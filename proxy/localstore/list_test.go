package localstore

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"
)

// listTree is a bucket whose keys test S3's byte order ("a-c.txt" sorts
// before "a/b.txt" although a folder walk meets "a/" first), nested
// folders, an empty folder and files next to buckets.
var listTree = map[string]string{
	"demo/a-c.txt":           "a-c",
	"demo/a/b.txt":           "a/b",
	"demo/a/c/d.txt":         "a/c/d",
	"demo/b.txt":             "b",
	"demo/data/numbers.csv":  "1,2,3\n",
	"demo/data/2024/jan.csv": "jan\n",
	"demo/data/2024/feb.csv": "feb\n",
	"demo/empty/":            "",
	"demo/only-folders/x/y/": "",
	"demo/z.txt":             "z",
	"other/keep.txt":         "keep",
	"notes.txt":              "a file at the top is not a bucket",
	"Not_A_Bucket/file.txt":  "invalid bucket name",
}

func TestListBuckets(t *testing.T) {
	f := startStore(t, listTree)

	out, err := f.client.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets() = %v", err)
	}

	type bucket struct {
		Name    string
		Created time.Time
	}
	var got []bucket
	for _, b := range out.Buckets {
		got = append(got, bucket{aws.ToString(b.Name), aws.ToTime(b.CreationDate)})
	}
	want := []bucket{{"demo", fixedTime}, {"other", fixedTime}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListBuckets() buckets mismatch (-want +got):\n%s", diff)
	}
}

func TestHeadBucket(t *testing.T) {
	f := startStore(t, listTree)

	tests := []struct {
		name       string
		bucket     string
		wantStatus int
	}{
		{name: "folder", bucket: "demo", wantStatus: http.StatusOK},
		{name: "file at top", bucket: "notes.txt", wantStatus: http.StatusNotFound},
		{name: "invalid name", bucket: "Not_A_Bucket", wantStatus: http.StatusNotFound},
		{name: "missing", bucket: "missing", wantStatus: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := f.do(t, http.MethodHead, "/"+tt.bucket, nil, "")
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("HEAD /%s status = %d, want %d", tt.bucket, resp.StatusCode, tt.wantStatus)
			}
		})
	}
}

// listResult is the part of a ListObjectsV2 response that the tests compare.
type listResult struct {
	Keys        []string
	Prefixes    []string
	IsTruncated bool
	KeyCount    int32
}

func listV2(t *testing.T, client *s3.Client, in *s3.ListObjectsV2Input) (listResult, *s3.ListObjectsV2Output) {
	t.Helper()
	out, err := client.ListObjectsV2(context.Background(), in)
	if err != nil {
		t.Fatalf("ListObjectsV2(prefix %q, delimiter %q) = %v", aws.ToString(in.Prefix), aws.ToString(in.Delimiter), err)
	}
	var got listResult
	for _, obj := range out.Contents {
		got.Keys = append(got.Keys, aws.ToString(obj.Key))
	}
	for _, p := range out.CommonPrefixes {
		got.Prefixes = append(got.Prefixes, aws.ToString(p.Prefix))
	}
	got.IsTruncated = aws.ToBool(out.IsTruncated)
	got.KeyCount = aws.ToInt32(out.KeyCount)
	return got, out
}

func TestListObjectsV2(t *testing.T) {
	f := startStore(t, listTree)

	tests := []struct {
		name       string
		prefix     string
		delimiter  string
		startAfter string
		maxKeys    int32
		want       listResult
	}{
		{
			name: "all keys in byte order",
			want: listResult{
				Keys: []string{"a-c.txt", "a/b.txt", "a/c/d.txt", "b.txt",
					"data/2024/feb.csv", "data/2024/jan.csv", "data/numbers.csv", "z.txt"},
				KeyCount: 8,
			},
		},
		{
			name:      "delimiter at top",
			delimiter: "/",
			want: listResult{
				Keys:     []string{"a-c.txt", "b.txt", "z.txt"},
				Prefixes: []string{"a/", "data/"},
				KeyCount: 5,
			},
		},
		{
			name:      "delimiter in folder",
			prefix:    "data/",
			delimiter: "/",
			want: listResult{
				Keys:     []string{"data/numbers.csv"},
				Prefixes: []string{"data/2024/"},
				KeyCount: 2,
			},
		},
		{
			name:      "prefix ends inside a name",
			prefix:    "data/2",
			delimiter: "/",
			want:      listResult{Prefixes: []string{"data/2024/"}, KeyCount: 1},
		},
		{
			name:   "prefix without delimiter",
			prefix: "a",
			want:   listResult{Keys: []string{"a-c.txt", "a/b.txt", "a/c/d.txt"}, KeyCount: 3},
		},
		{
			name:      "other delimiter",
			delimiter: "-",
			want: listResult{
				Keys: []string{"a/b.txt", "a/c/d.txt", "b.txt",
					"data/2024/feb.csv", "data/2024/jan.csv", "data/numbers.csv", "z.txt"},
				Prefixes: []string{"a-"},
				KeyCount: 8,
			},
		},
		{
			name:      "missing folder",
			prefix:    "missing/",
			delimiter: "/",
		},
		{
			name:      "folders without files",
			prefix:    "only-folders/",
			delimiter: "/",
		},
		{
			name:   "prefix names a file",
			prefix: "b.txt/",
		},
		{
			name:   "prefix leaves the bucket",
			prefix: "../other/",
		},
		{
			name:       "start after",
			startAfter: "b.txt",
			want: listResult{
				Keys:     []string{"data/2024/feb.csv", "data/2024/jan.csv", "data/numbers.csv", "z.txt"},
				KeyCount: 4,
			},
		},
		{
			name:       "start after inside a common prefix",
			delimiter:  "/",
			startAfter: "data/2024/feb.csv",
			want: listResult{
				Keys:     []string{"z.txt"},
				Prefixes: []string{"data/"},
				KeyCount: 2,
			},
		},
		{
			name:    "max keys",
			maxKeys: 2,
			want:    listResult{Keys: []string{"a-c.txt", "a/b.txt"}, IsTruncated: true, KeyCount: 2},
		},
		{
			name:      "max keys counts common prefixes",
			delimiter: "/",
			maxKeys:   2,
			want: listResult{
				Keys:        []string{"a-c.txt"},
				Prefixes:    []string{"a/"},
				IsTruncated: true,
				KeyCount:    2,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &s3.ListObjectsV2Input{Bucket: aws.String("demo")}
			if tt.prefix != "" {
				in.Prefix = aws.String(tt.prefix)
			}
			if tt.delimiter != "" {
				in.Delimiter = aws.String(tt.delimiter)
			}
			if tt.startAfter != "" {
				in.StartAfter = aws.String(tt.startAfter)
			}
			if tt.maxKeys != 0 {
				in.MaxKeys = aws.Int32(tt.maxKeys)
			}

			got, _ := listV2(t, f.client, in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ListObjectsV2() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestListObjectsMaxKeysZero checks that max-keys=0 returns an empty,
// untruncated page, so that a client following IsTruncated stops.
func TestListObjectsMaxKeysZero(t *testing.T) {
	f := startStore(t, listTree)

	_, body := f.do(t, http.MethodGet, "/demo?list-type=2&max-keys=0", nil, "")
	for _, unwanted := range []string{"<Contents>", "<CommonPrefixes>", "<IsTruncated>true"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("GET /demo?list-type=2&max-keys=0 body contains %q, want none:\n%s", unwanted, body)
		}
	}
}

func TestListObjectsV2Entries(t *testing.T) {
	f := startStore(t, listTree)

	_, out := listV2(t, f.client, &s3.ListObjectsV2Input{Bucket: aws.String("demo"), Prefix: aws.String("data/numbers")})
	if len(out.Contents) != 1 {
		t.Fatalf("ListObjectsV2(prefix data/numbers) returned %d objects, want 1", len(out.Contents))
	}
	got := out.Contents[0]
	want := types.Object{
		Key:          aws.String("data/numbers.csv"),
		LastModified: aws.Time(fixedTime),
		ETag:         aws.String(md5ETag("1,2,3\n")),
		Size:         aws.Int64(6),
		StorageClass: types.ObjectStorageClassStandard,
	}
	opts := cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".noSmithyDocumentSerde"
	}, cmp.Ignore())
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("ListObjectsV2() object mismatch (-want +got):\n%s", diff)
	}
}

// TestListObjectsV2Pages follows continuation tokens with small pages and
// checks that the pages together equal the listing in one page.
func TestListObjectsV2Pages(t *testing.T) {
	f := startStore(t, listTree)

	for _, delimiter := range []string{"", "/", "-"} {
		for _, prefix := range []string{"", "a", "data/"} {
			whole, _ := listV2(t, f.client, &s3.ListObjectsV2Input{
				Bucket:    aws.String("demo"),
				Prefix:    aws.String(prefix),
				Delimiter: aws.String(delimiter),
			})
			for pageSize := int32(1); pageSize <= 3; pageSize++ {
				var got listResult
				paginator := s3.NewListObjectsV2Paginator(f.client, &s3.ListObjectsV2Input{
					Bucket:    aws.String("demo"),
					Prefix:    aws.String(prefix),
					Delimiter: aws.String(delimiter),
					MaxKeys:   aws.Int32(pageSize),
				})
				pages := 0
				for paginator.HasMorePages() {
					page, err := paginator.NextPage(context.Background())
					if err != nil {
						t.Fatalf("NextPage() = %v", err)
					}
					pages++
					if pages > 20 {
						t.Fatalf("prefix %q delimiter %q page size %d: more than 20 pages", prefix, delimiter, pageSize)
					}
					if n := int32(len(page.Contents) + len(page.CommonPrefixes)); n > pageSize {
						t.Errorf("page holds %d entries, want at most %d", n, pageSize)
					}
					for _, obj := range page.Contents {
						got.Keys = append(got.Keys, aws.ToString(obj.Key))
					}
					for _, p := range page.CommonPrefixes {
						got.Prefixes = append(got.Prefixes, aws.ToString(p.Prefix))
					}
				}
				want := listResult{Keys: whole.Keys, Prefixes: whole.Prefixes}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("prefix %q delimiter %q page size %d: pages mismatch (-want +got):\n%s",
						prefix, delimiter, pageSize, diff)
				}
			}
		}
	}
}

// TestListObjectsV1Markers follows NextMarker through a ListObjects (v1)
// listing with a delimiter, where a page can end on a common prefix.
func TestListObjectsV1Markers(t *testing.T) {
	f := startStore(t, listTree)

	var got listResult
	marker := ""
	for range 20 {
		out, err := f.client.ListObjects(context.Background(), &s3.ListObjectsInput{
			Bucket:    aws.String("demo"),
			Delimiter: aws.String("/"),
			MaxKeys:   aws.Int32(1),
			Marker:    aws.String(marker),
		})
		if err != nil {
			t.Fatalf("ListObjects(marker %q) = %v", marker, err)
		}
		for _, obj := range out.Contents {
			got.Keys = append(got.Keys, aws.ToString(obj.Key))
		}
		for _, p := range out.CommonPrefixes {
			got.Prefixes = append(got.Prefixes, aws.ToString(p.Prefix))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		marker = aws.ToString(out.NextMarker)
	}

	want := listResult{Keys: []string{"a-c.txt", "b.txt", "z.txt"}, Prefixes: []string{"a/", "data/"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListObjects() pages mismatch (-want +got):\n%s", diff)
	}
}

func TestListObjectsMissingBucket(t *testing.T) {
	f := startStore(t, listTree)

	_, err := f.client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("missing")})
	var noSuchBucket *types.NoSuchBucket
	if !errors.As(err, &noSuchBucket) {
		t.Errorf("ListObjectsV2(missing) = %v, want NoSuchBucket", err)
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() != http.StatusNotFound {
		t.Errorf("ListObjectsV2(missing) status = %d, want 404", respErr.HTTPStatusCode())
	}
}
