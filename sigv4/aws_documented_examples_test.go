package sigv4

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// The requests and signatures below are the worked examples of the Amazon S3
// API reference: "Signature Calculations for the Authorization Header:
// Transferring Payload in a Single Chunk", "Authenticating Requests: Using
// Query Parameters", "Transferring Payload in Multiple Chunks" and
// "Signature calculations for trailing headers". The expected values are the
// documented ones, so a canonicalization error cannot hide behind a signer
// and verifier that agree with each other.

func TestDocumentedHeaderExamplesVerify(t *testing.T) {
	tests := []struct {
		name string
		head string
		body string
	}{
		{
			name: "GET object with Range",
			head: `
GET /test.txt HTTP/1.1
Host: examplebucket.s3.amazonaws.com
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41
Range: bytes=0-9
x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
x-amz-date: 20130524T000000Z

`,
		},
		{
			name: "PUT object with a dollar sign in the key",
			head: `
PUT /test$file.text HTTP/1.1
Host: examplebucket.s3.amazonaws.com
Date: Fri, 24 May 2013 00:00:00 GMT
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd
x-amz-date: 20130524T000000Z
x-amz-storage-class: REDUCED_REDUNDANCY
x-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
Content-Length: 21

`,
			body: "Welcome to Amazon S3.",
		},
		{
			name: "GET bucket lifecycle",
			head: `
GET /?lifecycle HTTP/1.1
Host: examplebucket.s3.amazonaws.com
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543
x-amz-date: 20130524T000000Z
x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

`,
		},
		{
			name: "GET bucket list objects",
			head: `
GET /?max-keys=2&prefix=J HTTP/1.1
Host: examplebucket.s3.amazonaws.com
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7
x-amz-date: 20130524T000000Z
x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readServerRequest(t, tt.head, []byte(tt.body))
			data, _, err := readPayload(t, exampleVerifier(), r, exampleTime.Add(time.Minute))
			if err != nil {
				t.Fatalf("Verify() and read error = %v, want nil", err)
			}
			if got := string(data); got != tt.body {
				t.Errorf("payload = %q, want %q", got, tt.body)
			}
		})
	}
}

func TestDocumentedHeaderExamplesRejectOneChange(t *testing.T) {
	const head = `
GET /test.txt HTTP/1.1
Host: examplebucket.s3.amazonaws.com
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41
Range: bytes=0-9
x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
x-amz-date: 20130524T000000Z

`
	tests := []struct {
		name     string
		old, new string
	}{
		{name: "range", old: "bytes=0-9", new: "bytes=0-8"},
		{name: "path", old: "/test.txt", new: "/test.txU"},
		{name: "host", old: "examplebucket.s3", new: "examplebucket.s4"},
		{name: "signature", old: "6bdb41", new: "6bdb42"},
		{name: "query added", old: "/test.txt", new: "/test.txt?x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readServerRequest(t, strings.Replace(head, tt.old, tt.new, 1), nil)
			_, err := exampleVerifier().Verify(r, exampleTime)
			wantErrorIs(t, "Verify()", err, ErrSignatureMismatch)
		})
	}
}

func TestDocumentedPutPayloadHashIsChecked(t *testing.T) {
	const head = `
PUT /test$file.text HTTP/1.1
Host: examplebucket.s3.amazonaws.com
Date: Fri, 24 May 2013 00:00:00 GMT
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd
x-amz-date: 20130524T000000Z
x-amz-storage-class: REDUCED_REDUNDANCY
x-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
Content-Length: 21

`
	r := readServerRequest(t, head, []byte("Welcome to Amazon S4."))
	data, _, err := readPayload(t, exampleVerifier(), r, exampleTime)
	wantErrorIs(t, "reading payload", err, ErrContentSHA256Mismatch)
	if len(data) >= 21 {
		t.Errorf("bytes returned before the error = %d, want fewer than 21", len(data))
	}
}

func TestDocumentedPresignedExampleVerifies(t *testing.T) {
	const head = `
GET /test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404 HTTP/1.1
Host: examplebucket.s3.amazonaws.com

`
	r := readServerRequest(t, head, nil)
	v, err := exampleVerifier().Verify(r, exampleTime.Add(23*time.Hour))
	if err != nil {
		t.Fatalf("Verify() error = %v, want nil", err)
	}
	if !v.Presigned || v.Expires != 86400*time.Second || v.Payload != PayloadUnsigned {
		t.Errorf("Verify() = presigned %v, expires %v, payload %v; want true, 24h, UNSIGNED-PAYLOAD", v.Presigned, v.Expires, v.Payload)
	}

	_, err = exampleVerifier().Verify(r, exampleTime.Add(24*time.Hour+time.Second))
	wantErrorIs(t, "Verify() a day later", err, ErrExpired)

	changed := readServerRequest(t, strings.Replace(head, "/test.txt", "/test.txT", 1), nil)
	_, err = exampleVerifier().Verify(changed, exampleTime)
	wantErrorIs(t, "Verify() with another key", err, ErrSignatureMismatch)
}

// documentedChunkedHead is the chunked PUT example: 66560 bytes of 'a' sent
// as chunks of 65536, 1024 and 0 bytes.
const documentedChunkedHead = `
PUT /examplebucket/chunkObject.txt HTTP/1.1
Host: s3.amazonaws.com
x-amz-date: 20130524T000000Z
x-amz-storage-class: REDUCED_REDUNDANCY
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9
x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD
Content-Encoding: aws-chunked
x-amz-decoded-content-length: 66560
Content-Length: 66824

`

func documentedChunkedBody(signatures [3]string, trailer string) []byte {
	var b bytes.Buffer
	b.WriteString("10000;chunk-signature=" + signatures[0] + "\r\n")
	b.Write(bytes.Repeat([]byte{'a'}, 65536))
	b.WriteString("\r\n400;chunk-signature=" + signatures[1] + "\r\n")
	b.Write(bytes.Repeat([]byte{'a'}, 1024))
	b.WriteString("\r\n0;chunk-signature=" + signatures[2] + "\r\n")
	b.WriteString(trailer)
	b.WriteString("\r\n")
	return b.Bytes()
}

var documentedChunkSignatures = [3]string{
	"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
	"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
	"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
}

func TestDocumentedChunkedUploadDecodes(t *testing.T) {
	// The documented string to sign of the first chunk covers this hash of
	// its 65536 bytes.
	if got, want := sha256Hex(bytes.Repeat([]byte{'a'}, 65536)), "bf718b6f653bebc184e1479f1935b8da974d701b893afcf49e701f3e2f9f9c5a"; got != want {
		t.Fatalf("sha256Hex(64 KiB of a) = %s, want %s", got, want)
	}

	body := documentedChunkedBody(documentedChunkSignatures, "")
	if len(body) != 66824 {
		t.Fatalf("len(body) = %d, want the documented Content-Length 66824", len(body))
	}
	r := readServerRequest(t, documentedChunkedHead, body)
	data, _, err := readPayload(t, exampleVerifier(), r, exampleTime)
	if err != nil {
		t.Fatalf("reading payload error = %v, want nil", err)
	}
	if !bytes.Equal(data, bytes.Repeat([]byte{'a'}, 66560)) {
		t.Errorf("payload = %d bytes, want 66560 bytes of 'a'", len(data))
	}
}

func TestDocumentedChunkedUploadRejectsChangedChunk(t *testing.T) {
	tests := []struct {
		name      string
		change    func(body []byte)
		wantBytes int // decoded bytes returned before the error
	}{
		{name: "first chunk data", change: func(b []byte) { b[100] = 'b' }, wantBytes: 0},
		{name: "second chunk data", change: func(b []byte) { b[len(b)-200] = 'b' }, wantBytes: 65536},
		{name: "final chunk signature", change: func(b []byte) { b[len(b)-5] = '0' }, wantBytes: 65536},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := documentedChunkedBody(documentedChunkSignatures, "")
			tt.change(body)
			r := readServerRequest(t, documentedChunkedHead, body)
			data, _, err := readPayload(t, exampleVerifier(), r, exampleTime)
			wantErrorIs(t, "reading payload", err, ErrSignatureMismatch)
			if len(data) != tt.wantBytes {
				t.Errorf("bytes returned before the error = %d, want %d", len(data), tt.wantBytes)
			}
		})
	}
}

func TestDocumentedChunkedTrailerUploadDecodes(t *testing.T) {
	const head = `
PUT /examplebucket/chunkObject.txt HTTP/1.1
Host: s3.amazonaws.com
x-amz-date: 20130524T000000Z
x-amz-storage-class: REDUCED_REDUNDANCY
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e
x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
Content-Encoding: aws-chunked
x-amz-decoded-content-length: 66560
x-amz-trailer: x-amz-checksum-crc32c

`
	signatures := [3]string{
		"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
		"1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
		"2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
	}
	const trailer = "x-amz-checksum-crc32c:sOO8/Q==\r\n" +
		"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"

	t.Run("as documented", func(t *testing.T) {
		r := readServerRequest(t, head, documentedChunkedBody(signatures, trailer))
		data, trailers, err := readPayload(t, exampleVerifier(), r, exampleTime)
		if err != nil {
			t.Fatalf("reading payload error = %v, want nil", err)
		}
		if !bytes.Equal(data, bytes.Repeat([]byte{'a'}, 66560)) {
			t.Errorf("payload = %d bytes, want 66560 bytes of 'a'", len(data))
		}
		want := []Trailer{{Name: "x-amz-checksum-crc32c", Value: "sOO8/Q=="}}
		if len(trailers) != 1 || trailers[0] != want[0] {
			t.Errorf("Trailers() = %v, want %v", trailers, want)
		}
	})

	t.Run("changed checksum", func(t *testing.T) {
		changed := strings.Replace(trailer, "sOO8/Q==", "sOO8/A==", 1)
		r := readServerRequest(t, head, documentedChunkedBody(signatures, changed))
		data, _, err := readPayload(t, exampleVerifier(), r, exampleTime)
		wantErrorIs(t, "reading payload", err, ErrSignatureMismatch)
		if len(data) != 65536 {
			t.Errorf("bytes returned before the error = %d, want 65536", len(data))
		}
	})
}

func TestDocumentedSigningKeyChain(t *testing.T) {
	// The chunk signatures chain from the seed: the documented first chunk
	// signature follows from the documented seed and the signing key.
	key := deriveSigningKey(exampleSecretKey, "20130524", exampleRegion)
	scope := Scope{Date: "20130524", Region: exampleRegion, Service: service}.String()
	data := bytes.Repeat([]byte{'a'}, 65536)
	got := signHex(key, chunkStringToSign("20130524T000000Z", scope,
		"4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9", sha256Hex(data)))
	if got != documentedChunkSignatures[0] {
		t.Errorf("first chunk signature = %s, want %s", got, documentedChunkSignatures[0])
	}

	// Reading in one-byte steps changes nothing.
	r := readServerRequest(t, documentedChunkedHead, documentedChunkedBody(documentedChunkSignatures, ""))
	v, err := exampleVerifier().Verify(r, exampleTime)
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	payload, err := v.NewPayloadReader(r.Body, r.Header)
	if err != nil {
		t.Fatalf("NewPayloadReader() error = %v", err)
	}
	var out bytes.Buffer
	one := make([]byte, 1)
	for {
		n, err := payload.Read(one)
		out.Write(one[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read() error = %v", err)
		}
	}
	if out.Len() != 66560 {
		t.Errorf("bytes read one at a time = %d, want 66560", out.Len())
	}
}
