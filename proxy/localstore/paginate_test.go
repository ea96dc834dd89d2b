package localstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
)

func files(keys ...string) []listEntry {
	entries := make([]listEntry, len(keys))
	for i, key := range keys {
		entries[i] = listEntry{key: key}
	}
	return entries
}

// pageSummary is the part of a listPage that the tests compare.
type pageSummary struct {
	Keys       []string
	Prefixes   []string
	Truncated  bool
	NextMarker string
}

func summarize(page listPage) pageSummary {
	s := pageSummary{Prefixes: page.commonPrefixes, Truncated: page.truncated, NextMarker: page.nextMarker}
	for _, entry := range page.contents {
		s.Keys = append(s.Keys, entry.key)
	}
	return s
}

func TestPaginate(t *testing.T) {
	keys := files("a-c", "a/b", "a/c/d", "b", "c/x", "c/y")

	tests := []struct {
		name    string
		entries []listEntry
		query   listQuery
		want    pageSummary
	}{
		{
			name:    "all",
			entries: keys,
			query:   listQuery{maxKeys: 1000},
			want:    pageSummary{Keys: []string{"a-c", "a/b", "a/c/d", "b", "c/x", "c/y"}},
		},
		{
			name:    "delimiter",
			entries: keys,
			query:   listQuery{delimiter: "/", maxKeys: 1000},
			want:    pageSummary{Keys: []string{"a-c", "b"}, Prefixes: []string{"a/", "c/"}},
		},
		{
			name:    "truncated on a common prefix",
			entries: keys,
			query:   listQuery{delimiter: "/", maxKeys: 2},
			want:    pageSummary{Keys: []string{"a-c"}, Prefixes: []string{"a/"}, Truncated: true, NextMarker: "a/"},
		},
		{
			name:    "marker equal to a common prefix skips it",
			entries: keys,
			query:   listQuery{delimiter: "/", marker: "a/", maxKeys: 1000},
			want:    pageSummary{Keys: []string{"b"}, Prefixes: []string{"c/"}},
		},
		{
			name:    "marker inside a common prefix keeps it",
			entries: keys,
			query:   listQuery{delimiter: "/", marker: "a/b", maxKeys: 1000},
			want:    pageSummary{Keys: []string{"b"}, Prefixes: []string{"a/", "c/"}},
		},
		{
			name:    "folder entry",
			entries: []listEntry{{key: "a-c"}, {key: "a/", isPrefix: true}, {key: "b"}},
			query:   listQuery{delimiter: "/", maxKeys: 1000},
			want:    pageSummary{Keys: []string{"a-c", "b"}, Prefixes: []string{"a/"}},
		},
		{
			name:    "last page is not truncated",
			entries: keys,
			query:   listQuery{marker: "c/x", maxKeys: 1},
			want:    pageSummary{Keys: []string{"c/y"}},
		},
		{
			name:    "max keys zero",
			entries: keys,
			query:   listQuery{maxKeys: 0},
			want:    pageSummary{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarize(paginate(tt.entries, tt.query))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("paginate(%+v) mismatch (-want +got):\n%s", tt.query, diff)
			}
		})
	}
}

func TestCommonPrefix(t *testing.T) {
	tests := []struct {
		key, prefix, delimiter string
		want                   string
	}{
		{key: "a/b/c", prefix: "", delimiter: "/", want: "a/"},
		{key: "a/b/c", prefix: "a/", delimiter: "/", want: "a/b/"},
		{key: "a/b/c", prefix: "a/b/", delimiter: "/", want: ""},
		{key: "a/b/c", prefix: "", delimiter: "", want: ""},
		{key: "x--y--z", prefix: "x", delimiter: "--", want: "x--"},
		{key: "photos/2026", prefix: "pho", delimiter: "/", want: "photos/"},
	}
	for _, tt := range tests {
		if got := commonPrefix(tt.key, tt.prefix, tt.delimiter); got != tt.want {
			t.Errorf("commonPrefix(%q, %q, %q) = %q, want %q", tt.key, tt.prefix, tt.delimiter, got, tt.want)
		}
	}
}

// FuzzPaginate checks that following nextMarker through pages of any size
// yields the same keys and common prefixes as one page holding everything.
func FuzzPaginate(f *testing.F) {
	f.Add("a/b\na/c\nb\nc/d/e", "", "/", uint8(1))
	f.Add("x-1\nx-2\nx/3\ny", "x", "-", uint8(2))
	f.Add("a\na/\na//b", "a", "/", uint8(1))
	f.Fuzz(func(t *testing.T, keyList, prefix, delimiter string, pageSize uint8) {
		keys := slices.Compact(slices.Sorted(slices.Values(strings.Split(keyList, "\n"))))
		entries := files(keys...)
		whole := paginate(entries, listQuery{prefix: prefix, delimiter: delimiter, maxKeys: int64(len(keys) + 1)})
		if whole.truncated {
			t.Fatalf("one page for %d keys is truncated", len(keys))
		}

		size := int64(pageSize%8) + 1
		var got listPage
		marker := ""
		for range len(keys) + 2 {
			page := paginate(entries, listQuery{prefix: prefix, delimiter: delimiter, marker: marker, maxKeys: size})
			if n := int64(len(page.contents) + len(page.commonPrefixes)); n > size {
				t.Fatalf("page holds %d entries, want at most %d", n, size)
			}
			got.contents = append(got.contents, page.contents...)
			got.commonPrefixes = append(got.commonPrefixes, page.commonPrefixes...)
			if !page.truncated {
				break
			}
			if page.nextMarker <= marker {
				t.Fatalf("nextMarker %q does not advance past %q", page.nextMarker, marker)
			}
			marker = page.nextMarker
		}

		if diff := cmp.Diff(summarize(whole), summarize(got)); diff != "" {
			t.Errorf("pages of %d mismatch the whole listing (-whole +pages):\n%s", size, diff)
		}
	})
}

// BenchmarkListObjects lists a bucket of 1000 files in 50 folders, with
// and without a delimiter, after one listing has cached the ETags.
func BenchmarkListObjects(b *testing.B) {
	tree := make(map[string]string, 1000)
	for i := range 1000 {
		tree[fmt.Sprintf("bench/folder-%02d/file-%04d.txt", i%50, i)] = "content"
	}
	f := startStore(b, tree)
	ctx := context.Background()

	for _, delimiter := range []string{"", "/"} {
		in := &s3.ListObjectsV2Input{Bucket: aws.String("bench"), Delimiter: aws.String(delimiter)}
		if _, err := f.client.ListObjectsV2(ctx, in); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("delimiter %q", delimiter), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.client.ListObjectsV2(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
