package test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3-batching-agent/s3-batching-agent/test/internal/harness"
)

// upstreamArrivalTimeout bounds the wait for a request to reach the
// upstream counter, or to show that it never will.
const upstreamArrivalTimeout = 20 * time.Second

// sdkRead is one read through the S3 listener with aws-sdk-go-v2.
type sdkRead struct {
	head      bool
	rng       string
	versionID string
	// sseCustomerKey, when set, adds the three SSE-C headers with this
	// 32-byte key.
	sseCustomerKey []byte
}

// sdkReadResult is the outcome of an sdkRead. body is nil for HEAD.
type sdkReadResult struct {
	body []byte
	err  error
}

// do runs the read. It may run on any goroutine.
func (r sdkRead) do(ctx context.Context, client *s3.Client, bucket, key string) sdkReadResult {
	var algorithm, customerKey *string
	if r.sseCustomerKey != nil {
		algorithm = aws.String("AES256")
		customerKey = aws.String(base64.StdEncoding.EncodeToString(r.sseCustomerKey))
	}
	optional := func(s string) *string {
		if s == "" {
			return nil
		}
		return aws.String(s)
	}

	if r.head {
		_, err := client.HeadObject(ctx, &s3.HeadObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key),
			Range: optional(r.rng), VersionId: optional(r.versionID),
			SSECustomerAlgorithm: algorithm, SSECustomerKey: customerKey,
		})
		return sdkReadResult{err: err}
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		Range: optional(r.rng), VersionId: optional(r.versionID),
		SSECustomerAlgorithm: algorithm, SSECustomerKey: customerKey,
	})
	if err != nil {
		return sdkReadResult{err: err}
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	return sdkReadResult{body: body, err: err}
}

// startSDKRead runs read on a new goroutine and returns a channel that
// receives its result.
func startSDKRead(ctx context.Context, client *s3.Client, bucket, key string, read sdkRead) <-chan sdkReadResult {
	done := make(chan sdkReadResult, 1)
	go func() { done <- read.do(ctx, client, bucket, key) }()
	return done
}

// awaitUpstream waits until the counter reports a held request on arrived,
// and fails the test with why when none comes within
// upstreamArrivalTimeout.
func awaitUpstream(t *testing.T, arrived <-chan harness.Request, why string) harness.Request {
	t.Helper()
	select {
	case r := <-arrived:
		return r
	case <-time.After(upstreamArrivalTimeout):
		t.Fatalf("no request reached the upstream within %v: %s", upstreamArrivalTimeout, why)
		return harness.Request{}
	}
}

func TestListenerCoalescesConcurrentSDKReads(t *testing.T) {
	const bucket, key, readers = "coalesce", "model.bin", 50
	// Fifty members stay below --max-batch-size, so the group is dispatched
	// when the window ends. The window only has to outlast the time 50
	// loopback requests take to arrive.
	st := startListenerStack(t, listenerOptions{
		buckets:   []string{bucket},
		agentArgs: []string{"--batch-window=2s", "--max-batch-size=100"},
	})
	data := randomObject(t, 512<<10)
	st.s3.Put(t, bucket, key, data, "application/octet-stream", nil)
	client := st.sdkClient()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()

	results := make([]sdkReadResult, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() { results[i] = sdkRead{}.do(ctx, client, bucket, key) })
	}
	wg.Wait()

	for i, r := range results {
		if r.err != nil {
			t.Errorf("GetObject %d = %v", i, r.err)
			continue
		}
		checkSameBytes(t, fmt.Sprintf("GetObject %d body", i), r.body, data)
	}
	if n := st.upstream.Count(http.MethodGet, bucket, key); n != 1 {
		t.Errorf("upstream GETs for %d concurrent GetObject calls = %d, want 1", readers, n)
	}
}

func TestListenerHelperAndSDKShareCall(t *testing.T) {
	const bucket, key, perDoor = "coalesce", "shared config.json", 5
	// --max-batch-size is the number of reads in each round, so the group is
	// dispatched as soon as the last one joins. The long window only keeps
	// the group open until then.
	st := startListenerStack(t, listenerOptions{
		buckets:   []string{bucket},
		agentArgs: []string{"--batch-window=30s", fmt.Sprintf("--max-batch-size=%d", 2*perDoor)},
	})
	data := randomObject(t, 64<<10)
	st.s3.Put(t, bucket, key, data, "application/json", nil)
	client := st.sdkClient()
	helperURL := st.agent.HelperURL + "/s3/getObject?" + url.Values{"bucket": {bucket}, "key": {key}}.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()

	for _, method := range []string{http.MethodGet, http.MethodHead} {
		t.Run(method, func(t *testing.T) {
			st.upstream.Reset()
			sdkResults := make([]sdkReadResult, perDoor)
			helperResults := make([]plainResponse, perDoor)
			helperErrs := make([]error, perDoor)
			var wg sync.WaitGroup
			for i := range perDoor {
				wg.Go(func() { sdkResults[i] = sdkRead{head: method == http.MethodHead}.do(ctx, client, bucket, key) })
				wg.Go(func() { helperResults[i], helperErrs[i] = fetchPlain(ctx, method, helperURL) })
			}
			wg.Wait()

			want := data
			if method == http.MethodHead {
				want = nil
			}
			for i := range perDoor {
				if r := sdkResults[i]; r.err != nil {
					t.Errorf("SDK %s %d = %v", method, i, r.err)
				} else {
					checkSameBytes(t, fmt.Sprintf("SDK %s %d body", method, i), r.body, want)
				}
				switch r := helperResults[i]; {
				case helperErrs[i] != nil:
					t.Errorf("helper API %s %d = %v", method, i, helperErrs[i])
				case r.status != http.StatusOK:
					t.Errorf("helper API %s %d status = %d, want 200", method, i, r.status)
				default:
					checkSameBytes(t, fmt.Sprintf("helper API %s %d body", method, i), r.body, want)
				}
			}
			if n := st.upstream.Count(method, bucket, key); n != 1 {
				t.Errorf("upstream %s requests for %d SDK and %d helper API reads = %d, want 1", method, perDoor, perDoor, n)
			}
		})
	}
}

// fetchPlain sends method to target and reads the whole response. It may
// run on any goroutine.
func fetchPlain(ctx context.Context, method, target string) (plainResponse, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return plainResponse{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return plainResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if len(body) == 0 {
		body = nil
	}
	return plainResponse{status: resp.StatusCode, header: resp.Header, body: body}, err
}

func TestListenerDistinctReadsNeverShare(t *testing.T) {
	const bucket = "never-share"
	// With no window and --join-inflight, a read joins any call in flight
	// for its coalescing key. The first read of each case is held at the
	// upstream counter, so the second one either joins it or reaches the
	// upstream itself.
	st := startListenerStack(t, listenerOptions{
		versioning: true,
		buckets:    []string{bucket},
		agentArgs:  []string{"--batch-window=0", "--join-inflight", "--debug"},
	})
	st.s3.EnableVersioning(t, bucket)
	client := st.sdkClient()
	sseKey := randomObject(t, 32)

	type versions struct{ old, latest harness.PutResult }
	tests := []struct {
		name          string
		first, second func(v versions) sdkRead
		shared        bool
	}{
		{
			name:   "identical reads share",
			first:  func(versions) sdkRead { return sdkRead{} },
			second: func(versions) sdkRead { return sdkRead{} },
			shared: true,
		},
		{
			name:   "ranges differ",
			first:  func(versions) sdkRead { return sdkRead{rng: "bytes=0-99"} },
			second: func(versions) sdkRead { return sdkRead{rng: "bytes=100-199"} },
		},
		{
			name:   "range and whole object",
			first:  func(versions) sdkRead { return sdkRead{rng: "bytes=0-99"} },
			second: func(versions) sdkRead { return sdkRead{} },
		},
		{
			name:   "version ids differ",
			first:  func(v versions) sdkRead { return sdkRead{versionID: v.old.VersionID} },
			second: func(v versions) sdkRead { return sdkRead{versionID: v.latest.VersionID} },
		},
		{
			name:   "version id and latest",
			first:  func(v versions) sdkRead { return sdkRead{versionID: v.old.VersionID} },
			second: func(versions) sdkRead { return sdkRead{} },
		},
		{
			name:   "identical SSE-C reads",
			first:  func(versions) sdkRead { return sdkRead{sseCustomerKey: sseKey} },
			second: func(versions) sdkRead { return sdkRead{sseCustomerKey: sseKey} },
		},
		{
			name:   "plain and SSE-C",
			first:  func(versions) sdkRead { return sdkRead{} },
			second: func(versions) sdkRead { return sdkRead{sseCustomerKey: sseKey} },
		},
		{
			name:   "GET and HEAD",
			first:  func(versions) sdkRead { return sdkRead{} },
			second: func(versions) sdkRead { return sdkRead{head: true} },
		},
		{
			name:   "HEAD and GET",
			first:  func(versions) sdkRead { return sdkRead{head: true} },
			second: func(versions) sdkRead { return sdkRead{} },
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("object-%d", i)
			oldData, latestData := randomObject(t, 1000), randomObject(t, 1000)
			v := versions{
				old:    st.s3.Put(t, bucket, key, oldData, "", nil),
				latest: st.s3.Put(t, bucket, key, latestData, "", nil),
			}
			if v.old.VersionID == "" || v.old.VersionID == v.latest.VersionID {
				t.Fatalf("version ids %q and %q, want two distinct ones (versitygw with versioning)", v.old.VersionID, v.latest.VersionID)
			}
			first, second := tt.first(v), tt.second(v)
			ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
			defer cancel()

			arrived := make(chan harness.Request, 4)
			hold := make(chan struct{})
			released := false
			release := func() {
				if !released {
					released = true
					close(hold)
				}
			}
			defer release()
			remove := st.upstream.Inject(t, harness.Fault{Match: harness.MatchObject("", bucket, key), Arrived: arrived, Hold: hold})
			defer remove()

			firstDone := startSDKRead(ctx, client, bucket, key, first)
			awaitUpstream(t, arrived, "the first read")
			secondDone := startSDKRead(ctx, client, bucket, key, second)
			if tt.shared {
				// Both reads wait in the batching layer: the first for its
				// held call, the second for the call it joined.
				st.agent.WaitForGoroutines(t, harness.FrameGroupWait, 2)
			} else {
				awaitUpstream(t, arrived, "the second read joined the first one's call")
			}
			release()
			firstResult, secondResult := <-firstDone, <-secondDone

			checkSDKRead(t, "first read", first, firstResult, v.old, oldData, latestData)
			checkSDKRead(t, "second read", second, secondResult, v.old, oldData, latestData)
			want := 2
			if tt.shared {
				want = 1
			}
			if n := st.upstream.Count("", bucket, key); n != want {
				t.Errorf("upstream requests for the two reads = %d, want %d", n, want)
			}
		})
	}
}

// checkSDKRead checks the body of a read of an object with two versions.
// SSE-C reads are left out, because versitygw may reject them over plain
// http and only their upstream count matters.
func checkSDKRead(t *testing.T, what string, read sdkRead, got sdkReadResult, old harness.PutResult, oldData, latestData []byte) {
	t.Helper()
	if read.sseCustomerKey != nil {
		return
	}
	if got.err != nil {
		t.Errorf("%s %+v = %v", what, read, got.err)
		return
	}
	want := latestData
	if read.versionID == old.VersionID {
		want = oldData
	}
	switch {
	case read.head:
		want = nil
	case read.rng == "bytes=0-99":
		want = want[:100]
	case read.rng == "bytes=100-199":
		want = want[100:200]
	}
	checkSameBytes(t, fmt.Sprintf("%s %+v body", what, read), got.body, want)
}

// TestListenerReadAfterWrite checks that a write through the listener
// closes the read call in flight to new members. A read that starts after
// the PUT's response gets the new bytes at once, while the reads that were
// waiting on the older call keep waiting on it.
func TestListenerReadAfterWrite(t *testing.T) {
	const bucket, key, waiting = "read-after-write", "config.json", 5
	st := startListenerStack(t, listenerOptions{
		buckets:   []string{bucket},
		agentArgs: []string{"--batch-window=0", "--join-inflight", "--debug"},
	})
	oldData, newData := randomObject(t, 100<<10), randomObject(t, 100<<10)
	st.s3.Put(t, bucket, key, oldData, "", nil)
	client := st.sdkClient()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()

	// The first upstream GET is held at the counter, so the group of reads
	// waiting on it stays in flight until the test releases it.
	arrived := make(chan harness.Request, 1)
	hold := make(chan struct{})
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(hold) }) }
	defer release()
	st.upstream.Inject(t, harness.Fault{Match: harness.MatchObject(http.MethodGet, bucket, key), Times: 1, Arrived: arrived, Hold: hold})

	held := []<-chan sdkReadResult{startSDKRead(ctx, client, bucket, key, sdkRead{})}
	awaitUpstream(t, arrived, "the first read")
	for range waiting - 1 {
		held = append(held, startSDKRead(ctx, client, bucket, key, sdkRead{}))
	}
	st.agent.WaitForGoroutines(t, harness.FrameGroupWait, waiting)

	_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(newData)})
	if err != nil {
		t.Fatalf("PutObject through the listener = %v", err)
	}

	// Joining the held call would block this read until the release below.
	afterCtx, afterCancel := context.WithTimeout(ctx, upstreamArrivalTimeout)
	defer afterCancel()
	after := sdkRead{}.do(afterCtx, client, bucket, key)
	if after.err != nil {
		t.Fatalf("GetObject after the PUT, with an older call held = %v, want the new bytes without waiting for it", after.err)
	}
	checkSameBytes(t, "GetObject after the PUT", after.body, newData)

	// The held call reaches versitygw after the PUT, so its members get
	// the new bytes as well.
	release()
	for i, done := range held {
		r := <-done
		if r.err != nil {
			t.Errorf("held GetObject %d = %v", i, r.err)
			continue
		}
		checkSameBytes(t, fmt.Sprintf("held GetObject %d body", i), r.body, newData)
	}
	if n := st.upstream.Count(http.MethodGet, bucket, key); n != 2 {
		t.Errorf("upstream GETs = %d, want 2: one for the %d reads before the PUT, one for the read after it", n, waiting)
	}
}
