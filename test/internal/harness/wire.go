package harness

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file holds what tests need to put exact bytes on the wire: a SigV4
// signer for raw requests and aws-chunked bodies, a raw HTTP/1.1
// connection, and Tap, a proxy that records whole request bodies and can
// return any response.
//
// The signer follows the Amazon S3 API reference ("Authenticating Requests:
// Using the Authorization Header", "Transferring Payload in Multiple
// Chunks", "Signature calculations for trailing headers" and "Using Query
// Parameters"). It is written apart from the agent's sigv4 package so that
// tests do not check that package against itself.

// SigV4 timestamp and date layouts.
const (
	amzDateLayout  = "20060102T150405Z"
	amzShortLayout = "20060102"
)

// EmptySHA256 is the hex SHA-256 of an empty payload.
const EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Signer signs S3 requests as a client does. The zero Time means the time
// of each call. A Signer is a value; it is safe for concurrent use.
type Signer struct {
	AccessKey string
	SecretKey string
	Region    string
	// Time is the signing time; zero means time.Now.
	Time time.Time
}

// RawRequest is an HTTP/1.1 request written byte for byte by Bytes.
type RawRequest struct {
	Method string
	// Path is the request target's path exactly as it goes on the wire.
	Path string
	// RawQuery is the query string exactly as it goes on the wire.
	RawQuery string
	// Host is the Host header.
	Host string
	// Header holds every other header, written in sorted order. Put
	// Transfer-Encoding or Content-Length here as the body needs.
	Header http.Header
	// Body is written as is after the headers, already framed.
	Body []byte
}

// Bytes returns the request as it goes on the wire.
func (r *RawRequest) Bytes() []byte {
	var b bytes.Buffer
	b.WriteString(r.HeadBytes())
	b.Write(r.Body)
	return b.Bytes()
}

// HeadBytes returns the request line and headers, ending with the blank
// line.
func (r *RawRequest) HeadBytes() string {
	var b strings.Builder
	target := r.Path
	if r.RawQuery != "" {
		target += "?" + r.RawQuery
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, target, r.Host)
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range r.Header[name] {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

// signingTime returns the time to sign at.
func (s Signer) signingTime() time.Time {
	if s.Time.IsZero() {
		return time.Now().UTC()
	}
	return s.Time.UTC()
}

// scope returns the credential scope date/region/s3/aws4_request.
func (s Signer) scope(at time.Time) string {
	return at.Format(amzShortLayout) + "/" + s.Region + "/s3/aws4_request"
}

// signingKey derives the key for the date of at.
func (s Signer) signingKey(at time.Time) []byte {
	key := hmacSHA256([]byte("AWS4"+s.SecretKey), at.Format(amzShortLayout))
	key = hmacSHA256(key, s.Region)
	key = hmacSHA256(key, "s3")
	return hmacSHA256(key, "aws4_request")
}

// SignRaw adds X-Amz-Date, X-Amz-Content-Sha256 and Authorization to r,
// signing host, those two headers and every header of r.Header named in
// signed (any case). It returns the signature, the seed of a signed
// aws-chunked body.
func (s Signer) SignRaw(r *RawRequest, payloadHash string, signed ...string) string {
	at := s.signingTime()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("X-Amz-Date", at.Format(amzDateLayout))
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)

	values := map[string][]string{"host": {r.Host}}
	names := []string{"host", "x-amz-date", "x-amz-content-sha256"}
	values["x-amz-date"] = r.Header.Values("X-Amz-Date")
	values["x-amz-content-sha256"] = r.Header.Values("X-Amz-Content-Sha256")
	for _, name := range signed {
		lower := strings.ToLower(name)
		values[lower] = r.Header.Values(name)
		names = append(names, lower)
	}

	signature, signedList := s.signature(at, r.Method, r.Path, r.RawQuery, names, values, payloadHash)
	r.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		s.AccessKey, s.scope(at), signedList, signature))
	return signature
}

// SignHTTP signs req in place for header authentication: it sets
// X-Amz-Date, X-Amz-Content-Sha256 and Authorization and signs host and
// every header req.Header holds at the call. Go writes Content-Length and
// Transfer-Encoding itself, so neither is signed; use SignRaw for those.
func (s Signer) SignHTTP(req *http.Request, payloadHash string) string {
	at := s.signingTime()
	req.Header.Set("X-Amz-Date", at.Format(amzDateLayout))
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)

	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	values := map[string][]string{"host": {host}}
	names := []string{"host"}
	for name, v := range req.Header {
		lower := strings.ToLower(name)
		if lower == "authorization" || lower == "user-agent" {
			continue
		}
		values[lower] = v
		names = append(names, lower)
	}

	signature, signedList := s.signature(at, req.Method, req.URL.EscapedPath(), req.URL.RawQuery, names, values, payloadHash)
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		s.AccessKey, s.scope(at), signedList, signature))
	return signature
}

// Presign returns a presigned URL for method on baseURL (scheme and host)
// plus escapedPath, with query added to the X-Amz-* parameters. Only host
// is signed and the payload is UNSIGNED-PAYLOAD.
func (s Signer) Presign(method, baseURL, escapedPath string, query url.Values, expires time.Duration) (string, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("parsing %q: %w", baseURL, err)
	}
	at := s.signingTime()
	q := url.Values{}
	for name, v := range query {
		q[name] = append([]string(nil), v...)
	}
	q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
	q.Set("X-Amz-Credential", s.AccessKey+"/"+s.scope(at))
	q.Set("X-Amz-Date", at.Format(amzDateLayout))
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires.Seconds())))
	q.Set("X-Amz-SignedHeaders", "host")
	rawQuery := canonicalQuery(q)

	values := map[string][]string{"host": {base.Host}}
	signature, _ := s.signature(at, method, escapedPath, rawQuery, []string{"host"}, values, "UNSIGNED-PAYLOAD")
	return base.Scheme + "://" + base.Host + escapedPath + "?" + rawQuery + "&X-Amz-Signature=" + signature, nil
}

// signature returns the request signature and the signed header list.
func (s Signer) signature(at time.Time, method, escapedPath, rawQuery string, names []string, values map[string][]string, payloadHash string) (signature, signedList string) {
	sort.Strings(names)
	names = compactStrings(names)

	var headers strings.Builder
	for _, name := range names {
		trimmed := make([]string, 0, len(values[name]))
		for _, v := range values[name] {
			trimmed = append(trimmed, strings.Join(strings.Fields(v), " "))
		}
		headers.WriteString(name + ":" + strings.Join(trimmed, ",") + "\n")
	}
	signedList = strings.Join(names, ";")

	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		// A query that does not parse is signed as sent; the server is
		// expected to reject it.
		query = url.Values{}
	}
	canonical := strings.Join([]string{
		method,
		canonicalPath(escapedPath),
		canonicalQuery(query),
		headers.String(),
		signedList,
		payloadHash,
	}, "\n")

	toSign := strings.Join([]string{
		"AWS4-HMAC-SHA256",
		at.Format(amzDateLayout),
		s.scope(at),
		sha256Hex([]byte(canonical)),
	}, "\n")
	return hex.EncodeToString(hmacSHA256(s.signingKey(at), toSign)), signedList
}

// ChunkSigner signs the chunks of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body
// in order, each signature chained to the one before. It is not safe for
// concurrent use.
type ChunkSigner struct {
	key      []byte
	date     string
	scope    string
	previous string
}

// NewChunkSigner returns a ChunkSigner whose chain starts at seed, the
// signature of the request's headers made by SignRaw at the same Time.
func (s Signer) NewChunkSigner(seed string) *ChunkSigner {
	at := s.signingTime()
	return &ChunkSigner{key: s.signingKey(at), date: at.Format(amzDateLayout), scope: s.scope(at), previous: seed}
}

// Chunk returns the signature of the next chunk, data.
func (c *ChunkSigner) Chunk(data []byte) string {
	toSign := strings.Join([]string{
		"AWS4-HMAC-SHA256-PAYLOAD", c.date, c.scope, c.previous, EmptySHA256, sha256Hex(data),
	}, "\n")
	c.previous = hex.EncodeToString(hmacSHA256(c.key, toSign))
	return c.previous
}

// Trailer returns the x-amz-trailer-signature of the trailer lines
// "name:value", signed over each line followed by "\n".
func (c *ChunkSigner) Trailer(lines ...string) string {
	var text strings.Builder
	for _, line := range lines {
		text.WriteString(line + "\n")
	}
	toSign := strings.Join([]string{
		"AWS4-HMAC-SHA256-TRAILER", c.date, c.scope, c.previous, sha256Hex([]byte(text.String())),
	}, "\n")
	c.previous = hex.EncodeToString(hmacSHA256(c.key, toSign))
	return c.previous
}

// SignedChunkedBody returns data as a signed aws-chunked body with chunks of
// chunkSize bytes, signed by c. With trailer lines ("name:value") it is the
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER form, with an
// x-amz-trailer-signature line.
func SignedChunkedBody(c *ChunkSigner, data []byte, chunkSize int, trailers ...string) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		n := min(chunkSize, len(data))
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", n, c.Chunk(data[:n]))
		b.Write(data[:n])
		b.WriteString("\r\n")
		data = data[n:]
	}
	fmt.Fprintf(&b, "0;chunk-signature=%s\r\n", c.Chunk(nil))
	if len(trailers) > 0 {
		for _, line := range trailers {
			b.WriteString(line + "\r\n")
		}
		fmt.Fprintf(&b, "x-amz-trailer-signature:%s\r\n", c.Trailer(trailers...))
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// UnsignedChunkedBody returns data as a STREAMING-UNSIGNED-PAYLOAD-TRAILER
// body with chunks of chunkSize bytes and the given trailer lines.
func UnsignedChunkedBody(data []byte, chunkSize int, trailers ...string) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		n := min(chunkSize, len(data))
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(data[:n])
		b.WriteString("\r\n")
		data = data[n:]
	}
	b.WriteString("0\r\n")
	for _, line := range trailers {
		b.WriteString(line + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// HTTPChunked frames body for Transfer-Encoding: chunked (RFC 9112,
// section 7.1) as one chunk and the last chunk.
func HTTPChunked(body []byte) []byte {
	var b bytes.Buffer
	if len(body) > 0 {
		fmt.Fprintf(&b, "%x\r\n", len(body))
		b.Write(body)
		b.WriteString("\r\n")
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

// canonicalPath decodes an escaped path once and escapes it again as S3's
// canonical URI: every byte outside A-Z a-z 0-9 - . _ ~ / becomes an
// upper-case %XX. A path that does not decode is used as sent.
func canonicalPath(escaped string) string {
	decoded, err := url.PathUnescape(escaped)
	if err != nil {
		return escaped
	}
	if decoded == "" {
		return "/"
	}
	return uriEscape(decoded, true)
}

// canonicalQuery encodes q sorted by name and then by value, each escaped
// with uriEscape.
func canonicalQuery(q url.Values) string {
	pairs := make([]string, 0, len(q))
	for name, values := range q {
		for _, v := range values {
			pairs = append(pairs, uriEscape(name, false)+"="+uriEscape(v, false))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// uriEscape escapes s as SigV4's UriEncode does.
func uriEscape(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func compactStrings(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// SHA256Hex returns the hex SHA-256 of data, an x-amz-content-sha256 value.
func SHA256Hex(data []byte) string {
	return sha256Hex(data)
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// RawConn is a client connection for raw HTTP/1.1 exchanges. Its methods
// that take a testing.TB must run on the test's goroutine.
type RawConn struct {
	conn   net.Conn
	reader *bufio.Reader
}

// DialRaw connects to addr (host:port) and closes the connection when the
// test ends.
func DialRaw(t testing.TB, addr string) *RawConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &RawConn{conn: conn, reader: bufio.NewReader(conn)}
}

// Write sends data, failing the test when the write does not finish within
// timeout.
func (c *RawConn) Write(t testing.TB, data []byte, timeout time.Duration) {
	t.Helper()
	if err := c.conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.Write(data); err != nil {
		t.Fatalf("writing %d bytes: %v", len(data), err)
	}
}

// RawResponse is a response read whole from a RawConn.
type RawResponse struct {
	Status int
	Header http.Header
	// TransferEncoding is the response's transfer coding, such as
	// ["chunked"], or nil.
	TransferEncoding []string
	// ContentLength is -1 when the response had no Content-Length.
	ContentLength int64
	Body          []byte
}

// ReadResponse reads one response to a request with method, an interim
// 1xx response included, and its whole body. It returns an error when no
// response arrives within timeout.
func (c *RawConn) ReadResponse(method string, timeout time.Duration) (*RawResponse, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(c.reader, &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the %d response body: %w", resp.StatusCode, err)
	}
	return &RawResponse{
		Status:           resp.StatusCode,
		Header:           resp.Header,
		TransferEncoding: resp.TransferEncoding,
		ContentLength:    resp.ContentLength,
		Body:             body,
	}, nil
}

// Buffered reports how many bytes arrived after the last response read.
func (c *RawConn) Buffered() int {
	return c.reader.Buffered()
}

// TapRequest is one request that reached a Tap, body included.
type TapRequest struct {
	Method   string
	RawPath  string
	RawQuery string
	Host     string
	Header   http.Header
	// ContentLength is -1 for a body of unknown length, such as a chunked
	// one.
	ContentLength    int64
	TransferEncoding []string
	Body             []byte
}

// Tap is a reverse proxy on 127.0.0.1 that records every request with its
// whole body. It forwards each request with its method, escaped path,
// query, Host header, headers, framing and body unchanged, so signatures
// made for the tap's address stay valid upstream. Respond makes it return
// a canned response instead. Request bodies are held in memory, so a Tap
// suits bodies of a few MiB. A Tap is safe for concurrent use.
type Tap struct {
	// URL is the tap's base URL, http://127.0.0.1:PORT.
	URL string

	upstream  *url.URL
	transport *http.Transport
	proxy     *httputil.ReverseProxy

	mu        sync.Mutex // guards requests and responses
	requests  []TapRequest
	responses []*tapResponse
}

// tapResponse is a canned response for the next matching request.
type tapResponse struct {
	match  func(TapRequest) bool
	status int
	header http.Header
	body   string
}

// NewTap starts a tap that forwards to upstream, a base URL such as a
// Counter's URL. t.Cleanup closes it.
func NewTap(t testing.TB, upstream string) *Tap {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil || target.Scheme == "" || target.Host == "" {
		t.Fatalf("invalid upstream URL %q for a tap: %v", upstream, err)
	}
	tap := &Tap{
		upstream: target,
		transport: &http.Transport{
			Proxy:              nil,
			DisableCompression: true,
		},
	}
	tap.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = target.Scheme
			pr.Out.URL.Host = target.Host
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
		},
		Transport:     tap.transport,
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	server := httptest.NewServer(tap)
	tap.URL = server.URL
	t.Cleanup(func() {
		server.Close()
		tap.transport.CloseIdleConnections()
	})
	return tap
}

// ServeHTTP records the request with its body, then writes a canned
// response or forwards it.
func (tap *Tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	req := TapRequest{
		Method:           r.Method,
		RawPath:          r.URL.EscapedPath(),
		RawQuery:         r.URL.RawQuery,
		Host:             r.Host,
		Header:           r.Header.Clone(),
		ContentLength:    r.ContentLength,
		TransferEncoding: append([]string(nil), r.TransferEncoding...),
		Body:             body,
	}

	canned := tap.record(req)
	if canned != nil {
		for name, v := range canned.header {
			w.Header()[name] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(canned.body)))
		w.WriteHeader(canned.status)
		io.WriteString(w, canned.body)
		return
	}

	r.Body = io.NopCloser(bytes.NewReader(body))
	tap.proxy.ServeHTTP(w, r)
}

// record stores req and takes the first canned response that matches it.
func (tap *Tap) record(req TapRequest) *tapResponse {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	tap.requests = append(tap.requests, req)
	for i, c := range tap.responses {
		if c.match == nil || c.match(req) {
			tap.responses = append(tap.responses[:i:i], tap.responses[i+1:]...)
			return c
		}
	}
	return nil
}

// Respond makes the tap return status, header and body, once, for the next
// request that match reports true for (nil matches any), instead of
// forwarding it. Canned responses apply in the order they were added. It
// may run on any goroutine.
func (tap *Tap) Respond(match func(TapRequest) bool, status int, header http.Header, body string) {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	tap.responses = append(tap.responses, &tapResponse{match: match, status: status, header: header.Clone(), body: body})
}

// Requests returns the recorded requests in arrival order. The caller must
// not change their Header maps or Body slices.
func (tap *Tap) Requests() []TapRequest {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return append([]TapRequest(nil), tap.requests...)
}

// Reset discards the recorded requests; canned responses stay.
func (tap *Tap) Reset() {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	tap.requests = nil
}
