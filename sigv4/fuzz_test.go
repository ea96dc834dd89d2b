package sigv4

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func FuzzParseAuthorization(f *testing.F) {
	f.Add(validAuthorization)
	f.Add(strings.ReplaceAll(validAuthorization, ", ", ","))
	f.Add("AWS4-HMAC-SHA256 Credential=a/20130524/r/s3/aws4_request,SignedHeaders=host,Signature=" + strings.Repeat("0", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=,SignedHeaders=;;,Signature=")
	f.Add("AWS AKID:sig")
	f.Fuzz(func(t *testing.T, value string) {
		auth, err := ParseAuthorization(value)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseAuthorization() error = %v, want one wrapping ErrMalformed", err)
			}
			return
		}
		again, err := ParseAuthorization(auth.String())
		if err != nil {
			t.Fatalf("ParseAuthorization(%q) of a formatted result error = %v", auth.String(), err)
		}
		if diff := cmp.Diff(auth, again); diff != "" {
			t.Errorf("ParseAuthorization() round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

// isCanonicalPath reports whether s contains only unreserved bytes, '/'
// and upper-case %XX escapes.
func isCanonicalPath(s string, slashAllowed bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case unreserved[c], c == '/' && slashAllowed:
		case c == '%' && i+2 < len(s) && strings.IndexByte(upperHex, s[i+1]) >= 0 && strings.IndexByte(upperHex, s[i+2]) >= 0:
			i += 2
		default:
			return false
		}
	}
	return true
}

func FuzzCanonicalURI(f *testing.F) {
	for _, seed := range []string{"", "/", "/photos/reports/a%20b%2Bc.txt", "/b/libstdc++", "/a%2fb", "/%zz", "/\xff/..//.", "/100%"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		canonical, err := CanonicalURI(escaped)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("CanonicalURI() error = %v, want one wrapping ErrMalformed", err)
			}
			return
		}
		if !isCanonicalPath(canonical, true) {
			t.Fatalf("CanonicalURI(%q) = %q, which has bytes outside the canonical set", escaped, canonical)
		}
		if again, err := CanonicalURI(canonical); err != nil || again != canonical {
			t.Fatalf("CanonicalURI(%q) = %q, %v; want it unchanged", canonical, again, err)
		}
		// Canonicalization keeps the decoded path, except that an escaped
		// slash becomes a slash.
		want, err := url.PathUnescape(escaped)
		if err == nil && escaped != "" {
			got, _ := url.PathUnescape(canonical)
			if got != want {
				t.Fatalf("decoded CanonicalURI(%q) = %q, want %q", escaped, got, want)
			}
		}
	})
}

func FuzzCanonicalQuery(f *testing.F) {
	for _, seed := range []string{"", "lifecycle", "max-keys=2&prefix=J", "prefix=a+b&delimiter=%2F", "a=1&&b", "x=%zz", "k=a/b&k=a-b", "=&=="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		canonical, err := CanonicalQuery(rawQuery)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("CanonicalQuery() error = %v, want one wrapping ErrMalformed", err)
			}
			return
		}
		if again, err := CanonicalQuery(canonical); err != nil || again != canonical {
			t.Fatalf("CanonicalQuery(%q) = %q, %v; want it unchanged", canonical, again, err)
		}
		if canonical == "" {
			return
		}
		var pairs []queryParam
		for _, pair := range strings.Split(canonical, "&") {
			name, value, ok := strings.Cut(pair, "=")
			if !ok || !isCanonicalPath(name, false) || !isCanonicalPath(value, false) {
				t.Fatalf("CanonicalQuery(%q) has pair %q, want escaped name=value", rawQuery, pair)
			}
			pairs = append(pairs, queryParam{name: name, value: value})
		}
		sorted := slices.IsSortedFunc(pairs, func(a, b queryParam) int {
			if c := strings.Compare(a.name, b.name); c != 0 {
				return c
			}
			return strings.Compare(a.value, b.value)
		})
		if !sorted {
			t.Fatalf("CanonicalQuery(%q) = %q, want pairs sorted by name and value", rawQuery, canonical)
		}
	})
}

// FuzzChunkedReader decodes arbitrary bodies in every mode, and checks that
// bytes framed by the encoder come back unchanged.
func FuzzChunkedReader(f *testing.F) {
	f.Add([]byte("8\r\nabcdefgh\r\n0\r\nx-amz-checksum-crc32:"+crcOfABCDEFGH+"\r\n\r\n"), uint8(2), []byte("abc"))
	f.Add(documentedChunkedBody(documentedChunkSignatures, ""), uint8(0), []byte{})
	f.Add([]byte("0;chunk-signature="+strings.Repeat("a", 64)+"\r\nx-amz-trailer-signature:"+strings.Repeat("b", 64)+"\r\n\r\n"), uint8(1), []byte("x"))
	f.Add([]byte("ffffffff\r\n"), uint8(2), bytes.Repeat([]byte{0}, 300))
	f.Fuzz(func(t *testing.T, body []byte, modeSelector uint8, data []byte) {
		modes := []PayloadMode{PayloadStreamingSigned, PayloadStreamingSignedTrailer, PayloadStreamingUnsignedTrailer}
		mode := modes[int(modeSelector)%len(modes)]
		var trailers []string
		if mode.hasTrailer() && modeSelector&0x10 != 0 {
			trailers = []string{"x-amz-checksum-crc32"}
		}
		configs := []ChunkedConfig{
			{Mode: mode, DecodedLength: -1, Trailers: trailers, SkipSignatures: true, MaxChunkSize: 1 << 16},
			{Mode: mode, DecodedLength: int64(len(body) / 2), Trailers: trailers, MaxChunkSize: 1 << 16,
				SigningKey: deriveSigningKey(exampleSecretKey, "20130524", exampleRegion), SeedSignature: documentedChunkSignatures[0],
				SigningTime: exampleTime, Region: exampleRegion},
		}
		for _, config := range configs {
			r, err := NewChunkedReader(bytes.NewReader(body), config)
			if err != nil {
				t.Fatalf("NewChunkedReader() error = %v", err)
			}
			decoded, err := io.ReadAll(r)
			if len(decoded) > len(body) {
				t.Fatalf("decoded %d bytes from a %d-byte body", len(decoded), len(body))
			}
			if err != nil && !errors.Is(err, ErrMalformedPayload) && !errors.Is(err, ErrIncompleteBody) &&
				!errors.Is(err, ErrSignatureMismatch) && !errors.Is(err, ErrBadDigest) {
				t.Fatalf("ReadAll() error = %v, want one of the package's sentinels", err)
			}
			if err == nil && config.DecodedLength >= 0 && int64(len(decoded)) != config.DecodedLength {
				t.Fatalf("decoded %d bytes, want x-amz-decoded-content-length %d", len(decoded), config.DecodedLength)
			}
		}

		encoded := encodeUnsignedTrailer(t, data, 1+int(modeSelector), []Trailer{{Name: "x-amz-checksum-crc32", Value: crc32Base64(data)}})
		r, err := NewChunkedReader(bytes.NewReader(encoded), unsignedTrailerConfig(int64(len(data)), "x-amz-checksum-crc32"))
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(decoded, data) {
			t.Fatalf("round trip of %d bytes = %d bytes, %v", len(data), len(decoded), err)
		}
	})
}
