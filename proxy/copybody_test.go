package proxy

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// readFromSpy is a writer whose ReadFrom must not be used: net/http's
// response writer implements ReadFrom, and going through it allocated a
// fresh 32 KiB buffer per response in the TCP connection's generic copy.
type readFromSpy struct {
	bytes.Buffer
	readFromCalled bool
}

func (w *readFromSpy) ReadFrom(r io.Reader) (int64, error) {
	w.readFromCalled = true
	return w.Buffer.ReadFrom(r)
}

func TestCopyBody(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"empty", ""},
		{"small", "hello"},
		{"larger than the buffer", strings.Repeat("0123456789abcdef", 5000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w readFromSpy
			// The body hides WriteTo, as a batched body has none.
			n, err := CopyBody(&w, struct{ io.Reader }{strings.NewReader(tt.body)})
			if err != nil || n != int64(len(tt.body)) {
				t.Fatalf("CopyBody() = %d, %v, want %d, nil", n, err, len(tt.body))
			}
			if w.String() != tt.body {
				t.Errorf("CopyBody() wrote %d bytes that differ from the body", w.Len())
			}
			if w.readFromCalled {
				t.Errorf("CopyBody() called the writer's ReadFrom, want only Write")
			}
		})
	}
}
