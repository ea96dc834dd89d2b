package test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/s3-batching-agent/s3-batching-agent/test/internal/harness"
)

// TestCoalesceDistinctReadsNeverShare runs reads that differ in key, Range,
// versionId or method at the same time, four callers each. A group is
// dispatched when its fourth member joins (the 30s window never ends
// first), so each distinct read must cost exactly one upstream call and
// every caller must get the bytes of its own read.
func TestCoalesceDistinctReadsNeverShare(t *testing.T) {
	const callersPerRead = 4
	st := newStack(t, stackOptions{
		versioning: true,
		buckets:    []string{"bkt"},
		agentArgs:  []string{"--max-batch-size=" + strconv.Itoa(callersPerRead), "--batch-window=30s"},
	})
	st.s3.EnableVersioning(t, "bkt")
	a := randomBytes(t, 64<<10)
	b := randomBytes(t, 64<<10)
	st.s3.Put(t, "bkt", "a", a, "", nil)
	st.s3.Put(t, "bkt", "b", b, "", nil)
	v1Data := randomBytes(t, 1000)
	v2Data := randomBytes(t, 1000)
	v1 := st.s3.Put(t, "bkt", "v", v1Data, "", nil)
	v2 := st.s3.Put(t, "bkt", "v", v2Data, "", nil)

	reads := []struct {
		name       string
		method     string
		key        string
		versionID  string
		rangeValue string
		wantStatus int
		wantBody   []byte
	}{
		{name: "key a", method: http.MethodGet, key: "a", wantStatus: http.StatusOK, wantBody: a},
		{name: "key b", method: http.MethodGet, key: "b", wantStatus: http.StatusOK, wantBody: b},
		{name: "HEAD a", method: http.MethodHead, key: "a", wantStatus: http.StatusOK, wantBody: []byte{}},
		{name: "a first 100", method: http.MethodGet, key: "a", rangeValue: "bytes=0-99", wantStatus: http.StatusPartialContent, wantBody: a[:100]},
		{name: "a second 100", method: http.MethodGet, key: "a", rangeValue: "bytes=100-199", wantStatus: http.StatusPartialContent, wantBody: a[100:200]},
		{name: "a last 100", method: http.MethodGet, key: "a", rangeValue: "bytes=-100", wantStatus: http.StatusPartialContent, wantBody: a[len(a)-100:]},
		{name: "v version 1", method: http.MethodGet, key: "v", versionID: v1.VersionID, wantStatus: http.StatusOK, wantBody: v1Data},
		{name: "v version 2", method: http.MethodGet, key: "v", versionID: v2.VersionID, wantStatus: http.StatusOK, wantBody: v2Data},
		{name: "v latest", method: http.MethodGet, key: "v", wantStatus: http.StatusOK, wantBody: v2Data},
	}

	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	results := make([][]fetchResult, len(reads))
	var wg sync.WaitGroup
	for i, rd := range reads {
		results[i] = make([]fetchResult, callersPerRead)
		params := []string{"bucket", "bkt", "key", rd.key}
		if rd.versionID != "" {
			params = append(params, "versionId", rd.versionID)
		}
		target := st.agent.HelperURL + helperQuery("/s3/getObject", params...)
		var headers []string
		if rd.rangeValue != "" {
			headers = []string{"Range", rd.rangeValue}
		}
		for j := range callersPerRead {
			wg.Go(func() {
				results[i][j] = fetch(ctx, st.client, rd.method, target, headers...)
			})
		}
	}
	wg.Wait()

	for i, rd := range reads {
		for j, r := range results[i] {
			switch {
			case r.err != nil:
				t.Errorf("%s caller %d: error %v", rd.name, j, r.err)
			case r.status != rd.wantStatus:
				t.Errorf("%s caller %d: status %d, want %d; body %.200s", rd.name, j, r.status, rd.wantStatus, r.body)
			case !bytes.Equal(r.body, rd.wantBody):
				t.Errorf("%s caller %d: got %d bytes, want the %d bytes of its own read", rd.name, j, len(r.body), len(rd.wantBody))
			}
		}

		n := st.counter.CountMatching(func(req harness.Request) bool {
			return req.Method == rd.method && req.Bucket == "bkt" && req.Key == rd.key &&
				req.Query.Get("versionId") == rd.versionID && req.Header.Get("Range") == rd.rangeValue
		})
		if n != 1 {
			t.Errorf("upstream calls for %s = %d, want 1", rd.name, n)
		}
	}
	if n, want := st.bucketRequests(), len(reads); n != want {
		t.Errorf("upstream calls in all = %d, want %d, one per distinct read", n, want)
	}
}
