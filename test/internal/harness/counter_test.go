package harness

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

// counterStack starts versitygw with one bucket and a counter in front of
// it, and returns an S3 client that talks to the counter.
func counterStack(t *testing.T) (*S3Server, *Counter, *s3.Client) {
	t.Helper()
	s := Versitygw(t)
	s.CreateBucket(t, "bkt")
	c := NewCounter(t, s.Endpoint)
	return s, c, NewS3Client(c.URL)
}

// getObject reads bucket/key through client and returns the body.
func getObject(ctx context.Context, client *s3.Client, bucket, key string) ([]byte, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func TestCounterForwardsSignedRequests(t *testing.T) {
	s, c, client := counterStack(t)

	keys := []struct {
		name string
		key  string
	}{
		{name: "plain", key: "k.txt"},
		{name: "nested", key: "dir/sub/k.txt"},
		{name: "reserved characters", key: "a+b c=d&e;f.txt"},
		{name: "non-ASCII", key: "données/日本.txt"},
		{name: "tilde and percent", key: "~user/100%.txt"},
	}
	for _, tt := range keys {
		t.Run(tt.name, func(t *testing.T) {
			want := []byte("body of " + tt.key)
			s.Put(t, "bkt", tt.key, want, "text/plain", nil)
			c.Reset()

			got, err := getObject(context.Background(), client, "bkt", tt.key)
			if err != nil {
				t.Fatalf("GetObject(%q) through the counter = %v", tt.key, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("GetObject(%q) through the counter = %q, want %q", tt.key, got, want)
			}
			if n := c.Count(http.MethodGet, "bkt", tt.key); n != 1 {
				t.Errorf("Count(GET, b, %q) = %d, want 1", tt.key, n)
			}
			if n := c.Total(); n != 1 {
				t.Errorf("Total() = %d, want 1", n)
			}
		})
	}
}

func TestCounterCountsByMethodAndQuery(t *testing.T) {
	s, c, client := counterStack(t)
	s.Put(t, "bkt", "dir/one", []byte("1"), "", nil)
	s.Put(t, "bkt", "dir/two", []byte("2"), "", nil)
	ctx := context.Background()

	if _, err := getObject(ctx, client, "bkt", "dir/one"); err != nil {
		t.Fatalf("GetObject(dir/one) = %v", err)
	}
	if _, err := getObject(ctx, client, "bkt", "dir/one"); err != nil {
		t.Fatalf("GetObject(dir/one) = %v", err)
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/one")}); err != nil {
		t.Fatalf("HeadObject(dir/one) = %v", err)
	}
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("dir/")})
	if err != nil {
		t.Fatalf("ListObjectsV2(prefix=dir/) = %v", err)
	}
	if n := len(list.Contents); n != 2 {
		t.Errorf("ListObjectsV2(prefix=dir/) returned %d objects, want 2", n)
	}

	counts := []struct {
		name   string
		method string
		key    string
		want   int
	}{
		{name: "GET object", method: http.MethodGet, key: "dir/one", want: 2},
		{name: "HEAD object", method: http.MethodHead, key: "dir/one", want: 1},
		{name: "any method", method: "", key: "dir/one", want: 3},
		{name: "other object", method: "", key: "dir/two", want: 0},
		{name: "bucket level", method: http.MethodGet, key: "", want: 1},
	}
	for _, tt := range counts {
		if got := c.Count(tt.method, "bkt", tt.key); got != tt.want {
			t.Errorf("%s: Count(%q, b, %q) = %d, want %d", tt.name, tt.method, tt.key, got, tt.want)
		}
	}
	if got := c.Total(); got != 4 {
		t.Errorf("Total() = %d, want 4", got)
	}

	listV2 := c.CountMatching(func(r Request) bool {
		return r.Key == "" && r.Query.Get("list-type") == "2" && r.Query.Get("prefix") == "dir/"
	})
	if listV2 != 1 {
		t.Errorf("CountMatching(list-type=2, prefix=dir/) = %d, want 1", listV2)
	}

	c.Reset()
	if got := c.Total(); got != 0 {
		t.Errorf("Total() after Reset = %d, want 0", got)
	}
	if got := c.Count(http.MethodGet, "bkt", "dir/one"); got != 0 {
		t.Errorf("Count(GET, b, dir/one) after Reset = %d, want 0", got)
	}
}

// echoUpstream is an upstream whose response body is the request line and
// Host header it received.
func echoUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Method+" "+r.RequestURI+" "+r.Host)
	}))
	t.Cleanup(upstream.Close)
	return upstream
}

func TestCounterPreservesRawRequest(t *testing.T) {
	upstream := echoUpstream(t)
	c := NewCounter(t, upstream.URL)
	host := strings.TrimPrefix(c.URL, "http://")

	tests := []struct {
		name       string
		requestURI string
		wantBucket string
		wantKey    string
	}{
		{name: "escaped slash", requestURI: "/b/a%2Fb", wantBucket: "b", wantKey: "a/b"},
		{name: "escaped tilde", requestURI: "/b/%7Euser", wantBucket: "b", wantKey: "~user"},
		{name: "dot segments", requestURI: "/b/a/../c", wantBucket: "b", wantKey: "a/../c"},
		{name: "double slash", requestURI: "/b//k", wantBucket: "b", wantKey: "/k"},
		{name: "semicolon query", requestURI: "/b/k?x=1;y=2", wantBucket: "b", wantKey: "k"},
		{name: "unparsable query escape", requestURI: "/b/k?v=%zz&w", wantBucket: "b", wantKey: "k"},
		{name: "subresource query", requestURI: "/b/k?uploads=&tagging", wantBucket: "b", wantKey: "k"},
		{name: "root", requestURI: "/", wantBucket: "", wantKey: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Reset()
			req, err := http.NewRequest(http.MethodGet, c.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Opaque makes the client send the request URI byte for byte.
			req.URL.Opaque = strings.SplitN(tt.requestURI, "?", 2)[0]
			if _, query, ok := strings.Cut(tt.requestURI, "?"); ok {
				req.URL.RawQuery = query
			}

			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("GET %s = %v", tt.requestURI, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("reading GET %s: %v", tt.requestURI, err)
			}

			want := "GET " + tt.requestURI + " " + host
			if string(body) != want {
				t.Errorf("upstream received %q, want %q", body, want)
			}
			got := c.Requests()
			if len(got) != 1 {
				t.Fatalf("Requests() = %d requests, want 1", len(got))
			}
			if got[0].Bucket != tt.wantBucket || got[0].Key != tt.wantKey {
				t.Errorf("Requests()[0] bucket, key = %q, %q, want %q, %q",
					got[0].Bucket, got[0].Key, tt.wantBucket, tt.wantKey)
			}
		})
	}
}

func TestCounterInjectsErrors(t *testing.T) {
	s, c, client := counterStack(t)
	s.Put(t, "bkt", "k", []byte("data"), "", nil)
	ctx := context.Background()

	tests := []struct {
		name       string
		status     int
		code       string
		wantCode   string
		wantStatus int
	}{
		{name: "slow down by default", status: http.StatusServiceUnavailable, wantCode: "SlowDown", wantStatus: 503},
		{name: "internal error by default", status: http.StatusInternalServerError, wantCode: "InternalError", wantStatus: 500},
		{name: "explicit code", status: http.StatusForbidden, code: "AccessDenied", wantCode: "AccessDenied", wantStatus: 403},
		{name: "status text code", status: http.StatusTooManyRequests, wantCode: "TooManyRequests", wantStatus: 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Reset()
			remove := c.Inject(t, Fault{
				Match:  MatchObject(http.MethodGet, "bkt", "k"),
				Times:  2,
				Status: tt.status,
				Code:   tt.code,
			})
			defer remove()

			for i := range 2 {
				_, err := getObject(ctx, client, "bkt", "k")
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("GetObject #%d = %v, want an API error", i+1, err)
				}
				if apiErr.ErrorCode() != tt.wantCode {
					t.Errorf("GetObject #%d error code = %q, want %q", i+1, apiErr.ErrorCode(), tt.wantCode)
				}
				var respErr interface{ HTTPStatusCode() int }
				if errors.As(err, &respErr) && respErr.HTTPStatusCode() != tt.wantStatus {
					t.Errorf("GetObject #%d status = %d, want %d", i+1, respErr.HTTPStatusCode(), tt.wantStatus)
				}
			}

			got, err := getObject(ctx, client, "bkt", "k")
			if err != nil {
				t.Fatalf("GetObject after the fault's 2 uses = %v, want success", err)
			}
			if string(got) != "data" {
				t.Errorf("GetObject after the fault's 2 uses = %q, want %q", got, "data")
			}
			if n := c.Count(http.MethodGet, "bkt", "k"); n != 3 {
				t.Errorf("Count(GET, b, k) = %d, want 3 (faulted requests count)", n)
			}
		})
	}
}

func TestCounterInjectsHeadErrorWithoutBody(t *testing.T) {
	_, c, _ := counterStack(t)
	c.Inject(t, Fault{Match: MatchObject(http.MethodHead, "bkt", "k"), Status: http.StatusServiceUnavailable})

	req, err := http.NewRequest(http.MethodHead, c.URL+"/bkt/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("HEAD /bkt/k = %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("HEAD /bkt/k status = %d, want 503", resp.StatusCode)
	}
	if resp.ContentLength > 0 {
		t.Errorf("HEAD /bkt/k Content-Length = %d, want none", resp.ContentLength)
	}
}

func TestCounterFaultRemoval(t *testing.T) {
	s, c, client := counterStack(t)
	s.Put(t, "bkt", "k", []byte("data"), "", nil)
	ctx := context.Background()

	remove := c.Inject(t, Fault{Status: http.StatusInternalServerError})
	if _, err := getObject(ctx, client, "bkt", "k"); err == nil {
		t.Fatalf("GetObject with an unlimited fault = nil error, want InternalError")
	}
	remove()
	if _, err := getObject(ctx, client, "bkt", "k"); err != nil {
		t.Errorf("GetObject after remove() = %v, want success", err)
	}

	c.Inject(t, Fault{Status: http.StatusInternalServerError})
	c.ClearFaults()
	if _, err := getObject(ctx, client, "bkt", "k"); err != nil {
		t.Errorf("GetObject after ClearFaults() = %v, want success", err)
	}
}

func TestCounterAppliesFirstMatchingFault(t *testing.T) {
	s, c, client := counterStack(t)
	s.Put(t, "bkt", "k", []byte("data"), "", nil)
	s.Put(t, "bkt", "other", []byte("other"), "", nil)
	ctx := context.Background()

	c.Inject(t, Fault{Match: MatchObject("", "bkt", "other"), Status: http.StatusForbidden, Code: "AccessDenied"})
	c.Inject(t, Fault{Times: 1, Status: http.StatusServiceUnavailable})
	c.Inject(t, Fault{Times: 1, Status: http.StatusInternalServerError})

	steps := []struct {
		name     string
		key      string
		wantCode string // empty means success
	}{
		{name: "unmatched by the first fault", key: "k", wantCode: "SlowDown"},
		{name: "matched by the first fault", key: "other", wantCode: "AccessDenied"},
		{name: "second catch-all", key: "k", wantCode: "InternalError"},
		{name: "all catch-alls used", key: "k", wantCode: ""},
	}
	for _, step := range steps {
		_, err := getObject(ctx, client, "bkt", step.key)
		code := ""
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			code = apiErr.ErrorCode()
		} else if err != nil {
			t.Fatalf("%s: GetObject(%q) = %v", step.name, step.key, err)
		}
		if code != step.wantCode {
			t.Errorf("%s: GetObject(%q) error code = %q, want %q", step.name, step.key, code, step.wantCode)
		}
	}
}

func TestCounterHoldsRequestUntilReleased(t *testing.T) {
	s, c, client := counterStack(t)
	s.Put(t, "bkt", "k", []byte("held"), "", nil)

	arrived := make(chan Request, 1)
	release := make(chan struct{})
	c.Inject(t, Fault{Match: MatchObject(http.MethodGet, "bkt", "k"), Times: 1, Arrived: arrived, Hold: release})

	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := getObject(context.Background(), client, "bkt", "k")
		done <- result{data, err}
	}()

	req := <-arrived
	if req.Method != http.MethodGet || req.Bucket != "bkt" || req.Key != "k" {
		t.Errorf("Arrived got %s %s/%s, want GET bkt/k", req.Method, req.Bucket, req.Key)
	}
	select {
	case r := <-done:
		t.Fatalf("GetObject returned (%q, %v) before the hold was released", r.data, r.err)
	default:
	}

	close(release)
	r := <-done
	if r.err != nil {
		t.Fatalf("GetObject after release = %v", r.err)
	}
	if string(r.data) != "held" {
		t.Errorf("GetObject after release = %q, want %q", r.data, "held")
	}
}

func TestCounterReleasesHoldWhenClientLeaves(t *testing.T) {
	s, c, client := counterStack(t)
	s.Put(t, "bkt", "k", []byte("x"), "", nil)

	arrived := make(chan Request, 1)
	never := make(chan struct{})
	c.Inject(t, Fault{Times: 1, Arrived: arrived, Hold: never})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := getObject(ctx, client, "bkt", "k")
		done <- err
	}()
	<-arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("GetObject after cancel = %v, want context.Canceled", err)
	}

	// The counter still serves after the held client left. A handler left
	// waiting would also show as a hang in the counter's cleanup.
	if got, err := getObject(context.Background(), client, "bkt", "k"); err != nil || string(got) != "x" {
		t.Errorf("GetObject after the held client left = (%q, %v), want (%q, nil)", got, err, "x")
	}
}

func TestCounterHoldsBodyMidway(t *testing.T) {
	s, c, client := counterStack(t)
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	s.Put(t, "bkt", "big", data, "application/octet-stream", nil)

	release := make(chan struct{})
	c.Inject(t, Fault{Match: MatchObject(http.MethodGet, "bkt", "big"), Times: 1, BodyAfter: 1000, BodyHold: release})

	out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")})
	if err != nil {
		t.Fatalf("GetObject(big) = %v", err)
	}
	defer out.Body.Close()
	if got := aws.ToInt64(out.ContentLength); got != int64(len(data)) {
		t.Errorf("GetObject(big) ContentLength = %d, want %d", got, len(data))
	}

	// The first 1000 bytes arrive while the hold is still closed.
	head := make([]byte, 1000)
	if _, err := io.ReadFull(out.Body, head); err != nil {
		t.Fatalf("reading the first 1000 bytes before release: %v", err)
	}
	if !bytes.Equal(head, data[:1000]) {
		t.Errorf("first 1000 bytes differ from the object")
	}

	rest := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(out.Body)
		rest <- b
	}()
	select {
	case b := <-rest:
		t.Fatalf("read %d more bytes before the hold was released", len(b))
	default:
	}

	close(release)
	if got := <-rest; !bytes.Equal(got, data[1000:]) {
		t.Errorf("after release read %d bytes, want the remaining %d", len(got), len(data)-1000)
	}
}

func TestCounterCutsBody(t *testing.T) {
	s, c, client := counterStack(t)
	data := bytes.Repeat([]byte("abcdefgh"), 8192)
	s.Put(t, "bkt", "k", data, "", nil)
	c.Inject(t, Fault{Times: 1, BodyAfter: 100, BodyCut: true})

	got, err := getObject(context.Background(), client, "bkt", "k")
	if err == nil {
		t.Fatalf("GetObject with a cut body = %d bytes and nil error, want an error", len(got))
	}
	if len(got) > 100 {
		t.Errorf("GetObject with a cut body read %d bytes, want at most 100", len(got))
	}

	got, err = getObject(context.Background(), client, "bkt", "k")
	if err != nil {
		t.Fatalf("GetObject after the cut = %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("GetObject after the cut = %d bytes, want the %d bytes put", len(got), len(data))
	}
}

func TestCounterCutPassesShortBody(t *testing.T) {
	s, c, client := counterStack(t)
	s.Put(t, "bkt", "k", []byte("short"), "", nil)
	c.Inject(t, Fault{Times: 1, BodyAfter: 100, BodyCut: true})

	got, err := getObject(context.Background(), client, "bkt", "k")
	if err != nil || string(got) != "short" {
		t.Errorf("GetObject of a body shorter than BodyAfter = (%q, %v), want (%q, nil)", got, err, "short")
	}
}

func TestCounterDelaysRequests(t *testing.T) {
	s, c, client := counterStack(t)
	s.Put(t, "bkt", "k", []byte("x"), "", nil)
	const delay = 50 * time.Millisecond
	c.Inject(t, Fault{Times: 1, Delay: delay})

	start := time.Now()
	if _, err := getObject(context.Background(), client, "bkt", "k"); err != nil {
		t.Fatalf("GetObject = %v", err)
	}
	if elapsed := time.Since(start); elapsed < delay {
		t.Errorf("GetObject with Delay %v took %v, want at least the delay", delay, elapsed)
	}
}

func TestCounterRejectsInvalidFaults(t *testing.T) {
	release := make(chan struct{})
	tests := []struct {
		name  string
		fault Fault
		want  string
	}{
		{name: "negative times", fault: Fault{Times: -1}, want: "invalid Times"},
		{name: "negative delay", fault: Fault{Delay: -time.Second}, want: "invalid Delay"},
		{name: "negative body offset", fault: Fault{BodyAfter: -1, BodyCut: true}, want: "invalid BodyAfter"},
		{name: "success status", fault: Fault{Status: 200}, want: "invalid Status"},
		{name: "status and body cut", fault: Fault{Status: 503, BodyCut: true}, want: "cannot apply"},
		{name: "hold and cut", fault: Fault{BodyHold: release, BodyCut: true}, want: "cannot both apply"},
		{name: "code without status", fault: Fault{Code: "SlowDown"}, want: "Code needs a Status"},
	}
	c := NewCounter(t, echoUpstream(t).URL)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			c.Inject(rec, tt.fault)
			if !strings.Contains(rec.fatal, tt.want) {
				t.Errorf("Inject(%s) failure = %q, want it to contain %q", tt.name, rec.fatal, tt.want)
			}
		})
	}
}

func TestMatchObject(t *testing.T) {
	req := Request{Method: http.MethodGet, Bucket: "b", Key: "k"}
	tests := []struct {
		name                string
		method, bucket, key string
		want                bool
	}{
		{name: "exact", method: http.MethodGet, bucket: "b", key: "k", want: true},
		{name: "any method", method: "", bucket: "b", key: "k", want: true},
		{name: "other method", method: http.MethodHead, bucket: "b", key: "k", want: false},
		{name: "other bucket", method: http.MethodGet, bucket: "c", key: "k", want: false},
		{name: "other key", method: http.MethodGet, bucket: "b", key: "k2", want: false},
		{name: "key prefix", method: http.MethodGet, bucket: "b", key: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchObject(tt.method, tt.bucket, tt.key)(req); got != tt.want {
				t.Errorf("MatchObject(%q, %q, %q)(GET b/k) = %v, want %v", tt.method, tt.bucket, tt.key, got, tt.want)
			}
		})
	}
}

func TestCounterRecordsHeaders(t *testing.T) {
	c := NewCounter(t, echoUpstream(t).URL)
	req, err := http.NewRequest(http.MethodGet, c.URL+"/b/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", "bytes=0-9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /b/k = %v", err)
	}
	resp.Body.Close()

	got := c.Requests()
	if len(got) != 1 {
		t.Fatalf("Requests() = %d requests, want 1", len(got))
	}
	if diff := cmp.Diff([]string{"bytes=0-9"}, got[0].Header.Values("Range")); diff != "" {
		t.Errorf("Requests()[0].Header Range mismatch (-want +got):\n%s", diff)
	}
}

func TestCounterReleasesHoldsAtCleanup(t *testing.T) {
	upstream := echoUpstream(t)
	status := make(chan int, 1)

	t.Run("held request", func(t *testing.T) {
		c := NewCounter(t, upstream.URL)
		arrived := make(chan Request, 1)
		c.Inject(t, Fault{Arrived: arrived, Hold: make(chan struct{})})
		go func() {
			resp, err := http.Get(c.URL + "/bkt/k")
			if err != nil {
				status <- -1
				return
			}
			resp.Body.Close()
			status <- resp.StatusCode
		}()
		<-arrived
		// The subtest ends here with the request still held; its cleanup
		// must release it rather than wait for it.
	})

	if got := <-status; got != http.StatusBadGateway {
		t.Errorf("held request after the counter's cleanup: status %d, want 502", got)
	}
}
