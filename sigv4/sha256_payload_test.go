package sigv4

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSHA256ReaderMatches(t *testing.T) {
	data := bytes.Repeat([]byte("payload "), 10_000)
	for _, tt := range []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{name: "plain", wrap: func(r io.Reader) io.Reader { return r }},
		{name: "one byte at a time", wrap: iotest.OneByteReader},
		{name: "half reads", wrap: iotest.HalfReader},
		{name: "data with EOF", wrap: iotest.DataErrReader},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewSHA256Reader(tt.wrap(bytes.NewReader(data)), sha256HexOf(data))
			if err != nil {
				t.Fatal(err)
			}
			if err := iotest.TestReader(r, data); err != nil {
				t.Errorf("iotest.TestReader() error = %v", err)
			}
		})
	}
}

func TestSHA256ReaderHoldsBackOnMismatch(t *testing.T) {
	data := []byte("the payload")
	for _, size := range []int{1, 2, 4, 512} {
		r, err := NewSHA256Reader(bytes.NewReader(data), sha256HexOf([]byte("the paYload")))
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		buf := make([]byte, size)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				wantErrorIs(t, "Read()", err, ErrContentSHA256Mismatch)
				break
			}
		}
		if len(got) >= len(data) {
			t.Errorf("read size %d: bytes returned before the error = %d, want fewer than %d", size, len(got), len(data))
		}
	}
}

func TestSHA256ReaderEmptyBody(t *testing.T) {
	r, err := NewSHA256Reader(strings.NewReader(""), EmptySHA256)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := io.ReadAll(r); err != nil || len(data) != 0 {
		t.Errorf("ReadAll() = %q, %v; want empty, nil", data, err)
	}
}

func TestSHA256ReaderRejectsBadHash(t *testing.T) {
	for _, value := range []string{"", "abc", strings.Repeat("g", 64), strings.Repeat("a", 66)} {
		if _, err := NewSHA256Reader(strings.NewReader(""), value); !errors.Is(err, ErrMalformed) {
			t.Errorf("NewSHA256Reader(%q) error = %v, want %v", value, err, ErrMalformed)
		}
	}
}
