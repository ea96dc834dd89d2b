package main

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPatternReaderMatchesChecker(t *testing.T) {
	tests := []struct {
		name string
		size int64
	}{
		{"empty", 0},
		{"one byte", 1},
		{"shorter than the period", 1 << 10},
		{"several periods", 3*patternPeriod + 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body bytes.Buffer
			n, err := io.CopyBuffer(&body, newPatternReader("k", tt.size), make([]byte, 4096))
			if err != nil || n != tt.size {
				t.Fatalf("reading the pattern = %d, %v, want %d, nil", n, err, tt.size)
			}
			if tt.size <= 1<<10 && !bytes.Equal(body.Bytes(), patternBytes("k", int(tt.size))) {
				t.Errorf("patternReader body differs from patternBytes")
			}
			if _, err := newPatternChecker("k").Write(body.Bytes()); err != nil {
				t.Errorf("patternChecker.Write(own body) = %v, want nil", err)
			}
		})
	}
}

func TestPatternCheckerRejects(t *testing.T) {
	body := patternBytes("k", 3*patternPeriod)
	tests := []struct {
		name   string
		key    string
		modify func([]byte)
		wantN  int
	}{
		{"other key", "other", func([]byte) {}, 0},
		{"flipped byte past one period", "k", func(b []byte) { b[patternPeriod+5] ^= 1 }, patternPeriod + 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(body)
			tt.modify(b)
			n, err := newPatternChecker(tt.key).Write(b)
			if err == nil || n != tt.wantN {
				t.Errorf("Write() = %d, %v, want %d and an error", n, err, tt.wantN)
			}
		})
	}
}

func TestPatternReaderSeek(t *testing.T) {
	r := newPatternReader("k", 100)
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	if off, err := r.Seek(0, io.SeekStart); off != 0 || err != nil {
		t.Fatalf("Seek(0, SeekStart) = %d, %v, want 0, nil", off, err)
	}
	got, _ := io.ReadAll(r)
	if !bytes.Equal(got, patternBytes("k", 100)) {
		t.Errorf("body after Seek differs from the first read")
	}
}

func TestPercentile(t *testing.T) {
	sorted := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"median", sorted, 50, 5},
		{"p99 rounds up", sorted, 99, 10},
		{"max", sorted, 100, 10},
		{"p0 is the min", sorted, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.in, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.in, tt.p, got, tt.want)
			}
		})
	}
}

func TestCallSpacing(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(offsets ...time.Duration) []*call {
		var calls []*call
		for _, o := range offsets {
			calls = append(calls, &call{Start: base.Add(o)})
		}
		return calls
	}
	ms := time.Millisecond
	tests := []struct {
		name          string
		calls         []*call
		wantGap       float64
		wantPerWindow int
	}{
		{"none", nil, 0, 0},
		{"one", at(0), 0, 1},
		{"exactly one window apart", at(0, 100*ms, 200*ms), 100, 1},
		{"two within a window", at(0, 150*ms, 220*ms), 70, 2},
		{"unsorted input", at(200*ms, 0, 100*ms), 100, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gap, perWindow := callSpacing(tt.calls, 100*ms)
			if gap != tt.wantGap || perWindow != tt.wantPerWindow {
				t.Errorf("callSpacing() = %v, %d, want %v, %d", gap, perWindow, tt.wantGap, tt.wantPerWindow)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{"bytes", "1024", 1024, false},
		{"KiB", "64KiB", 64 << 10, false},
		{"MiB", "256MiB", 256 << 20, false},
		{"GiB", "1GiB", 1 << 30, false},
		{"zero", "0", 0, true},
		{"unknown unit", "1GB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("parseSize(%q) = %d, %v, want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestSplitLatency(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := time.Millisecond
	calls := []*call{
		// Reached the proxy at 100 ms, first byte at 101 ms, ended late.
		{Start: base.Add(100 * ms), FirstByte: base.Add(101 * ms), End: base.Add(130 * ms)},
		{Start: base.Add(205 * ms), FirstByte: base.Add(206 * ms), End: base.Add(207 * ms)},
	}
	spans := []span{
		// Served by the first call, read before that call's recorded end.
		{start: base, end: base.Add(103 * ms)},
		// Served by the second call: 205 ms before dispatch, 4 ms after.
		{start: base, end: base.Add(210 * ms)},
		// Ended before any first byte: not attributed.
		{start: base, end: base.Add(50 * ms)},
	}
	var m measurement
	m.splitLatency(spans, calls, 100*ms)

	want := measurement{
		MaxDispatchWaitMs:  205,
		MaxDeliveryMs:      4,
		SlowestDispatchMs:  205,
		SlowestUpstreamMs:  1,
		SlowestDeliveryMs:  4,
		DispatchOverWindow: 1,
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("splitLatency() mismatch (-want +got):\n%s", diff)
	}
}
