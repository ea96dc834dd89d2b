package localstore

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/afero"
)

func TestStoredMetadata(t *testing.T) {
	meta := map[string]string{
		"Content-Type":         "text/plain",
		"Content-Encoding":     "gzip,aws-chunked",
		"Content-Disposition":  "attachment",
		"X-Amz-Meta-Color":     "blue",
		"X-Amz-Date":           "20260102T030405Z",
		"X-Amz-Security-Token": "token",
		"X-Amz-Checksum-Crc32": "AAAAAA==",
		"Last-Modified":        "Fri, 02 Jan 2026 03:04:05 GMT",
	}
	want := map[string]string{
		"Content-Type":        "text/plain",
		"Content-Encoding":    "gzip",
		"Content-Disposition": "attachment",
		"X-Amz-Meta-Color":    "blue",
	}
	if diff := cmp.Diff(want, storedMetadata(meta)); diff != "" {
		t.Errorf("storedMetadata() mismatch (-want +got):\n%s", diff)
	}
}

func TestResponseMetadata(t *testing.T) {
	tests := []struct {
		name     string
		meta     map[string]string
		uploaded bool
		key      string
		want     map[string]string
	}{
		{
			name: "plain file",
			key:  "data/table.CSV",
			want: map[string]string{"Content-Type": "text/csv", "Last-Modified": "Fri, 02 Jan 2026 03:04:05 GMT"},
		},
		{
			name: "plain file of unknown type",
			key:  "data/table.unknown",
			want: map[string]string{"Content-Type": "binary/octet-stream", "Last-Modified": "Fri, 02 Jan 2026 03:04:05 GMT"},
		},
		{
			name:     "upload without type",
			meta:     map[string]string{"X-Amz-Meta-A": "1", "Content-Type": ""},
			uploaded: true,
			key:      "a.txt",
			want: map[string]string{
				"Content-Type":  "binary/octet-stream",
				"X-Amz-Meta-A":  "1",
				"Last-Modified": "Fri, 02 Jan 2026 03:04:05 GMT",
			},
		},
		{
			name:     "erased and foreign entries",
			meta:     map[string]string{"X-Amz-Meta-Old": "", "X-Amz-Date": "x", "Content-Type": "image/png"},
			uploaded: true,
			key:      "a.txt",
			want:     map[string]string{"Content-Type": "image/png", "Last-Modified": "Fri, 02 Jan 2026 03:04:05 GMT"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := responseMetadata(tt.meta, tt.uploaded, tt.key, fixedTime)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("responseMetadata() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRootFsRoute(t *testing.T) {
	fs := newRootFs("/served", afero.NewMemMapFs())

	tests := []struct {
		name        string
		in          string
		wantBuckets bool
		wantName    string
	}{
		{name: "buckets folder", in: "buckets", wantBuckets: true, wantName: "/"},
		{name: "object", in: "buckets/demo/a/b.txt", wantBuckets: true, wantName: "demo/a/b.txt"},
		{name: "leading slash", in: "/buckets/demo", wantBuckets: true, wantName: "demo"},
		{name: "probe file", in: ".modtime-resolution", wantName: ".modtime-resolution"},
		{name: "metadata folder", in: "metadata/demo", wantName: "metadata/demo"},
		{name: "similar name", in: "buckets2/x", wantName: "buckets2/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotFs, gotName := fs.route(tt.in)
			if (gotFs == fs.buckets) != tt.wantBuckets || gotName != tt.wantName {
				t.Errorf("route(%q) = (served directory: %t, %q), want (%t, %q)",
					tt.in, gotFs == fs.buckets, gotName, tt.wantBuckets, tt.wantName)
			}
		})
	}
}
