package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The baselines sign the same request with the aws-sdk-go-v2 signer alone:
// verifying costs one signature computation plus parsing, and re-signing
// costs one SDK signature plus the header filtering and path
// canonicalization around it.

func benchmarkRequest() *http.Request {
	req, _ := http.NewRequest("GET", "http://agent.local:9000/photos/reports/a%20b%2Bc.txt?versionId=3&response-content-type=text%2Fplain", nil)
	req.Header.Set("Range", "bytes=0-1023")
	req.Header.Set("X-Amz-Content-Sha256", EmptySHA256)
	req.Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0")
	req.Header.Set("X-Amz-Checksum-Mode", "ENABLED")
	return req
}

func BenchmarkSDKSignHTTPBaseline(b *testing.B) {
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	template := benchmarkRequest()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		req := template.Clone(context.Background())
		if err := signer.SignHTTP(context.Background(), clientCredentials(), req, EmptySHA256, "s3", clientRegion, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHeader(b *testing.B) {
	now := time.Now()
	req := benchmarkRequest()
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), clientCredentials(), req, EmptySHA256, "s3", clientRegion, now); err != nil {
		b.Fatal(err)
	}
	server := asServerRequest(b, req)
	verifier := &Verifier{Credentials: StaticCredentials{clientAccessKey: clientSecretKey}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verifier.Verify(server, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPresigned(b *testing.B) {
	now := time.Now()
	req, _ := http.NewRequest("GET", "http://agent.local:9000/photos/reports/a%20b%2Bc.txt?X-Amz-Expires=900&versionId=3", nil)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	signed, _, err := signer.PresignHTTP(context.Background(), clientCredentials(), req, UnsignedPayload, "s3", clientRegion, now)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := http.NewRequest("GET", signed, nil)
	server := asServerRequest(b, out)
	verifier := &Verifier{Credentials: StaticCredentials{clientAccessKey: clientSecretKey}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verifier.Verify(server, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResign(b *testing.B) {
	signer := NewSigner()
	template := benchmarkRequest()
	template.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDCLIENT/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		req := template.Clone(context.Background())
		if err := signer.Sign(req, nodeCredentials(), nodeRegion, EmptySHA256, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChunkedReaderSigned decodes the documented 65 KiB signed upload.
// Its baseline, BenchmarkSHA256Baseline, hashes the same bytes with SHA-256
// once, which is the least that checking signed chunks costs.
func BenchmarkChunkedReaderSigned(b *testing.B) {
	body := documentedChunkedBody(documentedChunkSignatures, "")
	r := readServerRequest(b, documentedChunkedHead, body)
	v, err := exampleVerifier().Verify(r, exampleTime)
	if err != nil {
		b.Fatal(err)
	}
	config := ChunkedConfig{Mode: PayloadStreamingSigned, DecodedLength: 66560,
		SigningKey: v.SigningKey, SeedSignature: v.Signature, SigningTime: v.SigningTime, Region: v.Region}
	b.SetBytes(66560)
	b.ReportAllocs()
	for b.Loop() {
		reader, err := NewChunkedReader(bytes.NewReader(body), config)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, reader); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSHA256Baseline(b *testing.B) {
	data := bytes.Repeat([]byte{'a'}, 66560)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		sha256.Sum256(data)
	}
}
