package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// emptyPayloadHash is the hex SHA-256 of an empty body, the
// x-amz-content-sha256 value of a GET.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// endpoint builds GET requests for one way of reaching the objects: the
// agent's helper API, or path-style S3 straight at versitygw (through the
// counting proxy or not). It is safe for concurrent use.
type endpoint struct {
	name string
	base string
	// helper selects GET /s3/getObject?bucket=&key=; otherwise requests are
	// path-style GET /bucket/key, signed with SigV4.
	helper bool
	creds  aws.Credentials
	region string
	signer *v4.Signer
}

func helperEndpoint(name, base string) *endpoint {
	return &endpoint{name: name, base: base, helper: true}
}

func s3Endpoint(name, base string, creds aws.Credentials, region string) *endpoint {
	return &endpoint{
		name: name, base: base, creds: creds, region: region,
		// S3 paths are escaped once, not twice as other services' are.
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
	}
}

// request returns a GET for bucket/key. Path-style requests are signed here,
// so a caller that starts its clock after request leaves the signing cost
// out of the latency.
func (ep *endpoint) request(ctx context.Context, bucket, key string) (*http.Request, error) {
	if ep.helper {
		q := url.Values{"bucket": {bucket}, "key": {key}}
		return http.NewRequestWithContext(ctx, http.MethodGet, ep.base+"/s3/getObject?"+q.Encode(), nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.base+"/"+bucket+"/"+key, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Amz-Content-Sha256", emptyPayloadHash)
	if err := ep.signer.SignHTTP(ctx, ep.creds, req, emptyPayloadHash, "s3", ep.region, time.Now()); err != nil {
		return nil, fmt.Errorf("signing GET %s: %w", req.URL.Path, err)
	}
	return req, nil
}

// newClient returns an HTTP client that keeps one connection per
// concurrent client open.
func newClient(clients int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        clients + 16,
		MaxIdleConnsPerHost: clients + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

// requestTimeout bounds one request of a load run, so that a stuck server
// cannot hold the tool forever.
const requestTimeout = 60 * time.Second

// loadSpec is a closed-loop load: clients send requests back to back, each
// waiting for its previous response, until duration has passed or
// maxRequests have been sent.
type loadSpec struct {
	clients     int
	duration    time.Duration
	maxRequests int // 0 means no limit
	bucket      string
	// key returns the key of the i-th request of the run, counted from 0.
	key func(i int) string
	// size is the size of every object read.
	size int
	// warmKey is read once by every client before the clock starts, to
	// open the connections.
	warmKey string
	// started is called once every client is warmed up, right before the
	// clock starts.
	started func()
}

// loadResult is the outcome of a closed-loop load.
type loadResult struct {
	latencies  []time.Duration // of the successful requests
	spans      []span          // of the successful requests
	errors     int
	firstError string
	elapsed    time.Duration
}

// span is when a request was sent and when its response was fully read.
type span struct{ start, end time.Time }

// runClosedLoop runs spec against ep.
func runClosedLoop(ctx context.Context, ep *endpoint, spec loadSpec) loadResult {
	client := newClient(spec.clients)
	defer client.CloseIdleConnections()

	var (
		next    atomic.Int64
		ready   sync.WaitGroup
		done    sync.WaitGroup
		start   = make(chan struct{})
		results = make([]loadResult, spec.clients)
	)
	var deadline time.Time
	ready.Add(spec.clients)
	for c := range spec.clients {
		done.Go(func() {
			res := &results[c]
			var buf bytes.Buffer
			if err := getOnce(ctx, client, ep, spec.bucket, spec.warmKey, spec.size, &buf); err != nil {
				res.fail(err)
			}
			ready.Done()
			<-start

			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if spec.maxRequests > 0 && i >= spec.maxRequests {
					return
				}
				key := spec.key(i)
				rctx, cancel := context.WithTimeout(ctx, requestTimeout)
				req, err := ep.request(rctx, spec.bucket, key)
				if err != nil {
					cancel()
					res.fail(err)
					continue
				}
				// The clock starts after signing: a direct request costs
				// the client a signature that an agent request does not,
				// and leaving it out favours the direct baseline.
				t0 := time.Now()
				err = doChecked(client, req, key, spec.size, &buf)
				t1 := time.Now()
				cancel()
				if err != nil {
					res.fail(err)
					continue
				}
				res.latencies = append(res.latencies, t1.Sub(t0))
				res.spans = append(res.spans, span{t0, t1})
			}
		})
	}

	ready.Wait()
	if spec.started != nil {
		spec.started()
	}
	began := time.Now()
	deadline = began.Add(spec.duration)
	close(start)
	done.Wait()

	total := loadResult{elapsed: time.Since(began)}
	for _, r := range results {
		total.latencies = append(total.latencies, r.latencies...)
		total.spans = append(total.spans, r.spans...)
		total.errors += r.errors
		if total.firstError == "" {
			total.firstError = r.firstError
		}
	}
	return total
}

func (r *loadResult) fail(err error) {
	r.errors++
	if r.firstError == "" {
		r.firstError = err.Error()
	}
}

// getOnce reads bucket/key through ep and checks its status and body.
func getOnce(ctx context.Context, client *http.Client, ep *endpoint, bucket, key string, size int, buf *bytes.Buffer) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := ep.request(ctx, bucket, key)
	if err != nil {
		return err
	}
	return doChecked(client, req, key, size, buf)
}

// doChecked sends req, reads the body into buf and checks that the status
// is 200 and the body is key's stored object of size bytes.
func doChecked(client *http.Client, req *http.Request, key string, size int, buf *bytes.Buffer) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return fmt.Errorf("reading %s: %w", key, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %.200s", key, resp.StatusCode, buf.Bytes())
	}
	if buf.Len() != size || !bytes.Equal(buf.Bytes(), patternBytes(key, size)) {
		return fmt.Errorf("GET %s: body of %d bytes differs from the stored %d bytes", key, buf.Len(), size)
	}
	return nil
}

// readerResult is one fan-out reader's timeline.
type readerResult struct {
	start, firstByte, end time.Time
	bytes                 int64
	err                   error
}

// runFanout makes clients readers send the same GET at the same moment and
// read the whole body, checking every byte. started is called right before
// the requests go out.
func runFanout(ctx context.Context, ep *endpoint, bucket, key, warmKey string, size int64, clients int, started func()) []readerResult {
	client := newClient(clients)
	defer client.CloseIdleConnections()

	var ready, done sync.WaitGroup
	start := make(chan struct{})
	results := make([]readerResult, clients)
	ready.Add(clients)
	for c := range clients {
		done.Go(func() {
			res := &results[c]
			var buf bytes.Buffer
			// The warm-up object is a small one: it opens the connection.
			warmErr := getOnce(ctx, client, ep, bucket, warmKey, warmSize, &buf)
			ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			req, err := ep.request(ctx, bucket, key)
			ready.Done()
			<-start
			if warmErr != nil {
				res.err = warmErr
				return
			}
			if err != nil {
				res.err = err
				return
			}
			res.start = time.Now()
			res.bytes, res.firstByte, res.err = readChecked(client, req, key, size)
			res.end = time.Now()
		})
	}
	ready.Wait()
	if started != nil {
		started()
	}
	close(start)
	done.Wait()
	return results
}

// readChecked sends req and reads the body through a patternChecker,
// noting when the first body byte arrived.
func readChecked(client *http.Client, req *http.Request, key string, size int64) (n int64, firstByte time.Time, err error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, firstByte, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, firstByte, fmt.Errorf("GET %s: status %d", key, resp.StatusCode)
	}

	check := newPatternChecker(key)
	buf := make([]byte, 256<<10)
	for {
		m, rerr := resp.Body.Read(buf)
		if m > 0 {
			if n == 0 {
				firstByte = time.Now()
			}
			if _, err := check.Write(buf[:m]); err != nil {
				return n, firstByte, err
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, firstByte, fmt.Errorf("reading %s after %d bytes: %w", key, n, rerr)
		}
	}
	if n != size {
		return n, firstByte, fmt.Errorf("GET %s: %d bytes, want %d", key, n, size)
	}
	return n, firstByte, nil
}
