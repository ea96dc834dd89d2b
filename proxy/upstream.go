package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/s3-batching-agent/s3-batching-agent/sigv4"
)

// EmptyPayloadHash is the hex SHA-256 of an empty body.
const EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// UnsignedPayload is the x-amz-content-sha256 value for a body that is not
// part of the signature.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// ErrCredentials wraps a failure to load the node's upstream credentials.
var ErrCredentials = errors.New("loading upstream credentials failed")

// UpstreamConfig configures an Upstream.
type UpstreamConfig struct {
	// Endpoint is an S3-compatible service addressed path-style, such as
	// http://127.0.0.1:7070. Nil means AWS S3 in Region, addressed
	// virtual-hosted style when the bucket name allows it.
	Endpoint *url.URL

	// Region is the signing region used until a bucket's own region is
	// learned from a redirect.
	Region string

	// Credentials signs every request. It should cache (aws.Config's
	// provider from the default chain does).
	Credentials aws.CredentialsProvider

	// HeaderTimeout bounds the wait for response headers. Zero means 30s.
	HeaderTimeout time.Duration

	// Transport sends the requests. Nil means a transport tuned for many
	// concurrent connections to one host, without transparent gzip.
	Transport http.RoundTripper

	// Logger receives retries and region changes. Nil discards them.
	Logger *slog.Logger

	// Now returns the signing time. Nil means time.Now.
	Now func() time.Time

	// Observer receives every request and the bytes of every response
	// body. Nil is allowed.
	Observer UpstreamObserver
}

// Upstream sends signed requests to S3 or an S3-compatible service. It is
// safe for concurrent use.
type Upstream struct {
	cfg    UpstreamConfig
	client *http.Client
	signer *sigv4.Signer
	log    *slog.Logger

	regions sync.Map // bucket name -> region learned from a redirect

	// lastOK is the Unix nanosecond time of the last response received.
	lastOK atomicTime
}

// Request is one request to the upstream.
type Request struct {
	Op     string // S3 operation name, for metrics and logs
	Method string
	Bucket string // empty for service-level requests such as ListBuckets
	Key    string // empty for bucket-level requests
	Query  url.Values
	// Header is forwarded and signed, except the client's own
	// authentication headers, which are replaced.
	Header http.Header

	// Body is sent with ContentLength bytes; -1 means unknown. Nil means
	// no body.
	Body          io.Reader
	ContentLength int64

	// PayloadHash is the x-amz-content-sha256 value to sign: a hex SHA-256,
	// UnsignedPayload or a STREAMING-* value. Empty means EmptyPayloadHash.
	PayloadHash string

	// Retry marks an idempotent request without a body: it is sent again
	// after a 500, 502, 503 or 504 response or a connection failure.
	Retry bool
}

// Retry policy for idempotent reads: at most retryAttempts sends, with
// exponential backoff and full jitter starting at retryBase.
const (
	retryAttempts = 3
	retryBase     = 100 * time.Millisecond
	retryMax      = time.Second
)

// NewUpstream returns an Upstream for cfg.
func NewUpstream(cfg UpstreamConfig) *Upstream {
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	transport := cfg.Transport
	if transport == nil {
		transport = &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   10 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   1024,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: cfg.HeaderTimeout,
			ExpectContinueTimeout: time.Second,
			// Bodies pass through byte for byte: no transparent gzip.
			DisableCompression: true,
		}
	}
	return &Upstream{
		cfg: cfg,
		client: &http.Client{
			Transport: transport,
			// Redirects are S3 errors to relay or region hints to act on.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		signer: sigv4.NewSigner(),
		log:    log,
	}
}

// Do signs and sends r. The caller closes the response body. A response
// with an error status is returned as a response, not as an error; the
// error is for failures to get any response.
func (u *Upstream) Do(ctx context.Context, r *Request) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		resp, err := u.send(ctx, r)

		if err == nil && u.learnRegion(r, resp) && r.Body == nil {
			drain(resp)
			resp, err = u.send(ctx, r)
		}

		if !r.Retry || attempt == retryAttempts || !retryable(resp, err) || ctx.Err() != nil {
			return resp, err
		}

		wait := backoff(attempt)
		u.log.Warn("retrying upstream read",
			"method", r.Method, "bucket", r.Bucket, "key", r.Key,
			"attempt", attempt, "status", statusOf(resp), "error", errString(err), "wait", wait)
		if resp != nil {
			drain(resp)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// LastResponse returns when the upstream last sent a response, of any
// status. The zero time means never.
func (u *Upstream) LastResponse() time.Time {
	return u.lastOK.Load()
}

// Region returns the signing region for bucket.
func (u *Upstream) Region(bucket string) string {
	if r, ok := u.regions.Load(bucket); ok {
		return r.(string)
	}
	return u.cfg.Region
}

func (u *Upstream) send(ctx context.Context, r *Request) (*http.Response, error) {
	region := u.Region(r.Bucket)
	req, err := u.newHTTPRequest(ctx, r, region)
	if err != nil {
		return nil, err
	}

	creds, err := u.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	hash := r.PayloadHash
	if hash == "" {
		hash = EmptyPayloadHash
	}
	if err := u.signer.Sign(req, creds, region, hash, u.cfg.Now()); err != nil {
		return nil, fmt.Errorf("signing upstream request: %w", err)
	}

	sent := time.Now()
	resp, err := u.client.Do(req)
	if o := u.cfg.Observer; o != nil {
		o.UpstreamRequest(r.Op, statusOf(resp), time.Since(sent))
	}
	if err != nil {
		return nil, err
	}
	u.lastOK.Store(time.Now())
	if o := u.cfg.Observer; o != nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, observer: o}
	}
	return resp, nil
}

// newHTTPRequest builds the outgoing request for region, without a
// signature. The path is escaped once and kept as is on the wire.
func (u *Upstream) newHTTPRequest(ctx context.Context, r *Request, region string) (*http.Request, error) {
	target := u.target(r.Bucket, r.Key, region)
	target.RawQuery = EncodeQuery(r.Query)

	body := r.Body
	req, err := http.NewRequestWithContext(ctx, r.Method, target.String(), body)
	if err != nil {
		return nil, fmt.Errorf("building upstream request: %w", err)
	}
	// NewRequest parsed the URL again; restore the exact escaped path.
	req.URL.Path, req.URL.RawPath = target.Path, target.RawPath

	for name, values := range r.Header {
		req.Header[name] = append([]string(nil), values...)
	}
	if body != nil {
		req.ContentLength = r.ContentLength
		if r.ContentLength == 0 {
			req.Body = http.NoBody
		}
	}
	return req, nil
}

// target returns the URL of bucket and key: path-style on a configured
// endpoint, virtual-hosted style on AWS when the bucket name is a DNS label.
func (u *Upstream) target(bucket, key, region string) *url.URL {
	var t url.URL
	if e := u.cfg.Endpoint; e != nil {
		t.Scheme, t.Host = e.Scheme, e.Host
		base := strings.TrimSuffix(e.Path, "/")
		t.Path, t.RawPath = objectPath(base, bucket, key)
		return &t
	}

	t.Scheme = "https"
	host := "s3." + region + ".amazonaws.com"
	if bucket != "" && virtualHostable(bucket) {
		t.Host = bucket + "." + host
		t.Path, t.RawPath = objectPath("", "", key)
		if t.Path == "" {
			t.Path = "/"
		}
		return &t
	}
	t.Host = host
	t.Path, t.RawPath = objectPath("", bucket, key)
	return &t
}

// objectPath returns the decoded and escaped forms of base/bucket/key.
func objectPath(base, bucket, key string) (path, raw string) {
	path, raw = base, EscapePath(base)
	if bucket != "" {
		path += "/" + bucket
		raw += "/" + EscapePath(bucket)
	}
	if key != "" {
		path += "/" + key
		raw += "/" + EscapePath(key)
	}
	if path == "" {
		return "/", "/"
	}
	return path, raw
}

// virtualHostable reports whether bucket can be a host name label under
// the S3 endpoint without breaking TLS: lower-case letters, digits and
// hyphens, 3 to 63 characters, no dots.
func virtualHostable(bucket string) bool {
	if len(bucket) < 3 || len(bucket) > 63 || bucket[0] == '-' || bucket[len(bucket)-1] == '-' {
		return false
	}
	for i := 0; i < len(bucket); i++ {
		c := bucket[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// learnRegion records the region S3 names in a 301 PermanentRedirect or a
// 400 AuthorizationHeaderMalformed response and reports whether it differs
// from the region the request was signed for.
func (u *Upstream) learnRegion(r *Request, resp *http.Response) bool {
	if r.Bucket == "" || (resp.StatusCode != http.StatusMovedPermanently && resp.StatusCode != http.StatusBadRequest) {
		return false
	}
	region := resp.Header.Get("X-Amz-Bucket-Region")
	if region == "" || region == u.Region(r.Bucket) {
		return false
	}
	u.regions.Store(r.Bucket, region)
	u.log.Info("learned bucket region", "bucket", r.Bucket, "region", region)
	return true
}

func retryable(resp *http.Response, err error) bool {
	if err != nil {
		// A timeout already cost the caller its patience; a cancelled
		// context is the caller leaving.
		var ne net.Error
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
			errors.Is(err, ErrCredentials) || (errors.As(err, &ne) && ne.Timeout()) {
			return false
		}
		return true
	}
	switch resp.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func backoff(attempt int) time.Duration {
	ceiling := min(retryBase<<(attempt-1), retryMax)
	return time.Duration(rand.Int64N(int64(ceiling))) + time.Millisecond
}

// drain reads a little of an unwanted body so the connection can be
// reused, then closes it.
func drain(resp *http.Response) {
	io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// countingBody reports the bytes read from an upstream response body.
type countingBody struct {
	io.ReadCloser
	observer UpstreamObserver
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.observer.UpstreamBytes(int64(n))
	}
	return n, err
}
