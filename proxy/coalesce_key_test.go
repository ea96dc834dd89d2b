package proxy

import (
	"net/http"
	"net/url"
	"testing"
)

func TestCoalesceKeySeparatesWhatChangesTheAnswer(t *testing.T) {
	base := func() *ReadRequest {
		return &ReadRequest{Op: OpGetObject, Bucket: "photos", Key: "big.bin", Header: http.Header{}}
	}
	variants := []struct {
		name   string
		modify func(r *ReadRequest)
	}{
		{"head", func(r *ReadRequest) { r.Op = OpHeadObject }},
		{"other key", func(r *ReadRequest) { r.Key = "big.bin2" }},
		{"key differing in escaping only", func(r *ReadRequest) { r.Key = "big%2Ebin" }},
		{"other bucket", func(r *ReadRequest) { r.Bucket = "photos2" }},
		{"range", func(r *ReadRequest) { r.Header.Set("Range", "bytes=0-99") }},
		{"other range", func(r *ReadRequest) { r.Header.Set("Range", "bytes=100-199") }},
		{"version", func(r *ReadRequest) { r.Query = url.Values{"versionId": {"v1"}} }},
		{"part number", func(r *ReadRequest) { r.Query = url.Values{"partNumber": {"1"}} }},
		{"response override", func(r *ReadRequest) { r.Query = url.Values{"response-content-type": {"text/plain"}} }},
		{"if-none-match", func(r *ReadRequest) { r.Header.Set("If-None-Match", `"abc"`) }},
		{"checksum mode", func(r *ReadRequest) { r.Header.Set("X-Amz-Checksum-Mode", "ENABLED") }},
		{"expected owner", func(r *ReadRequest) { r.Header.Set("X-Amz-Expected-Bucket-Owner", "123") }},
	}
	seen := map[CoalesceKey]string{base().CoalesceKey(): "base"}
	for _, v := range variants {
		r := base()
		v.modify(r)
		k := r.CoalesceKey()
		if other, dup := seen[k]; dup {
			t.Errorf("%s: CoalesceKey() equals the key of %s", v.name, other)
		}
		seen[k] = v.name
	}

	if base().CoalesceKey() != base().CoalesceKey() {
		t.Errorf("CoalesceKey() differs for identical requests")
	}
}

func TestSSECNeverCoalesces(t *testing.T) {
	r := &ReadRequest{Op: OpGetObject, Bucket: "b", Key: "k", Header: http.Header{}}
	if !r.Coalescable() {
		t.Fatalf("Coalescable() = false for a plain GET, want true")
	}
	r.Header.Set("X-Amz-Server-Side-Encryption-Customer-Key", "c2VjcmV0")
	if r.Coalescable() {
		t.Errorf("Coalescable() = true with an SSE-C key, want false")
	}
}
