package localstore

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   byteRange
		wantOK bool
	}{
		{name: "closed", header: "bytes=0-4", want: byteRange{start: 0, end: 4}, wantOK: true},
		{name: "open", header: "bytes=10-", want: byteRange{start: 10, end: -1}, wantOK: true},
		{name: "suffix", header: "bytes=-3", want: byteRange{end: 3, suffix: true}, wantOK: true},
		{name: "spaces", header: "bytes= 1 - 2 ", want: byteRange{start: 1, end: 2}, wantOK: true},
		{name: "unit case", header: "Bytes=1-2", want: byteRange{start: 1, end: 2}, wantOK: true},
		{name: "end before start", header: "bytes=5-1"},
		{name: "several", header: "bytes=0-1,3-4"},
		{name: "other unit", header: "items=0-1"},
		{name: "no dash", header: "bytes=5"},
		{name: "empty spec", header: "bytes="},
		{name: "only dash", header: "bytes=-"},
		{name: "negative", header: "bytes=--5"},
		{name: "letters", header: "bytes=a-b"},
		{name: "overflow", header: "bytes=99999999999999999999-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRange(tt.header)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("parseRange(%q) = %+v, %t, want %+v, %t", tt.header, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestByteRangeResolve(t *testing.T) {
	tests := []struct {
		name      string
		r         byteRange
		size      int64
		wantFirst int64
		wantLast  int64
		wantOK    bool
	}{
		{name: "inside", r: byteRange{start: 2, end: 4}, size: 10, wantFirst: 2, wantLast: 4, wantOK: true},
		{name: "end past size", r: byteRange{start: 2, end: 40}, size: 10, wantFirst: 2, wantLast: 9, wantOK: true},
		{name: "open", r: byteRange{start: 9, end: -1}, size: 10, wantFirst: 9, wantLast: 9, wantOK: true},
		{name: "start at size", r: byteRange{start: 10, end: -1}, size: 10},
		{name: "suffix", r: byteRange{end: 3, suffix: true}, size: 10, wantFirst: 7, wantLast: 9, wantOK: true},
		{name: "suffix past size", r: byteRange{end: 30, suffix: true}, size: 10, wantFirst: 0, wantLast: 9, wantOK: true},
		{name: "zero suffix", r: byteRange{end: 0, suffix: true}, size: 10},
		{name: "empty object", r: byteRange{start: 0, end: -1}, size: 0},
		{name: "suffix of empty object", r: byteRange{end: 5, suffix: true}, size: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, last, ok := tt.r.resolve(tt.size)
			if ok != tt.wantOK || (ok && (first != tt.wantFirst || last != tt.wantLast)) {
				t.Errorf("%+v.resolve(%d) = %d, %d, %t, want %d, %d, %t",
					tt.r, tt.size, first, last, ok, tt.wantFirst, tt.wantLast, tt.wantOK)
			}
		})
	}
}

// FuzzParseRange checks that a parsed range always resolves inside the
// object.
func FuzzParseRange(f *testing.F) {
	for _, seed := range []string{"bytes=0-4", "bytes=-3", "bytes=7-", "bytes=5-1", "bytes=0-1,2-3", "bytes= 1 -"} {
		f.Add(seed, int64(10))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			size = -size
		}
		r, ok := parseRange(header)
		if !ok {
			return
		}
		first, last, ok := r.resolve(size)
		if ok && (first < 0 || first > last || last >= size) {
			t.Errorf("parseRange(%q) resolved for size %d to %d-%d, outside the object", header, size, first, last)
		}
	})
}

func TestMatchETag(t *testing.T) {
	const etag = `"abc"`
	tests := []struct {
		name string
		list string
		weak bool
		want bool
	}{
		{name: "equal", list: `"abc"`, want: true},
		{name: "unquoted", list: `abc`, want: true},
		{name: "star", list: `*`, want: true},
		{name: "in list", list: `"x", "abc"`, want: true},
		{name: "other", list: `"x"`},
		{name: "weak, strong comparison", list: `W/"abc"`},
		{name: "weak, weak comparison", list: `W/"abc"`, weak: true, want: true},
		{name: "empty", list: ``},
		{name: "empty items", list: `,,`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchETag(tt.list, etag, tt.weak); got != tt.want {
				t.Errorf("matchETag(%q, %q, %t) = %t, want %t", tt.list, etag, tt.weak, got, tt.want)
			}
		})
	}
}

func TestCheckPreconditions(t *testing.T) {
	const etag = `"abc"`
	modified := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	tests := []struct {
		name       string
		header     http.Header
		want       precondition
		wantHeader string
	}{
		{name: "none", header: http.Header{}, want: preconditionsMet},
		{name: "if-match fails", header: http.Header{"If-Match": {`"x"`}}, want: preconditionFailed, wantHeader: "If-Match"},
		{name: "second if-match line", header: http.Header{"If-Match": {`"x"`, `"abc"`}}, want: preconditionsMet},
		{
			name:   "if-unmodified-since at the same second",
			header: http.Header{"If-Unmodified-Since": {"Fri, 02 Jan 2026 03:04:05 GMT"}},
			want:   preconditionsMet,
		},
		{
			name:   "if-unmodified-since earlier",
			header: http.Header{"If-Unmodified-Since": {"Fri, 02 Jan 2026 03:04:04 GMT"}},
			want:   preconditionFailed, wantHeader: "If-Unmodified-Since",
		},
		{
			name:   "if-modified-since at the same second",
			header: http.Header{"If-Modified-Since": {"Fri, 02 Jan 2026 03:04:05 GMT"}},
			want:   notModified, wantHeader: "If-Modified-Since",
		},
		{
			name:   "if-modified-since in RFC 850 form",
			header: http.Header{"If-Modified-Since": {"Friday, 02-Jan-26 03:04:05 GMT"}},
			want:   notModified, wantHeader: "If-Modified-Since",
		},
		{
			name:   "if-none-match matches",
			header: http.Header{"If-None-Match": {etag}},
			want:   notModified, wantHeader: "If-None-Match",
		},
		{
			name:   "failure wins over not modified",
			header: http.Header{"If-Match": {`"x"`}, "If-None-Match": {etag}},
			want:   preconditionFailed, wantHeader: "If-Match",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, header := checkPreconditions(tt.header, etag, modified)
			if got != tt.want || header != tt.wantHeader {
				t.Errorf("checkPreconditions(%v) = %d, %q, want %d, %q", tt.header, got, header, tt.want, tt.wantHeader)
			}
		})
	}
}
