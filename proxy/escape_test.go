package proxy

import (
	"net/url"
	"testing"
)

func TestEscapePath(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "dir/file.txt", "dir/file.txt"},
		{"space and plus", "reports/a b+c.txt", "reports/a%20b%2Bc.txt"},
		{"percent", "100%.txt", "100%25.txt"},
		{"escaped percent stays literal", "100%25.txt", "100%2525.txt"},
		{"double slash kept", "dir//x", "dir//x"},
		{"dot segments kept", "a/../b/./c", "a/../b/./c"},
		{"utf-8", "ünï/日本.txt", "%C3%BCn%C3%AF/%E6%97%A5%E6%9C%AC.txt"},
		{"parentheses", "img/image(1).jpg", "img/image%281%29.jpg"},
		{"tilde unreserved", "~user", "~user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EscapePath(tt.in); got != tt.want {
				t.Errorf("EscapePath(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if back, err := url.PathUnescape(EscapePath(tt.in)); err != nil || back != tt.in {
				t.Errorf("PathUnescape(EscapePath(%q)) = %q, %v, want the key back", tt.in, back, err)
			}
		})
	}
}

func TestEncodeQuerySortsAndEscapes(t *testing.T) {
	q := url.Values{
		"prefix":             {"a b/"},
		"list-type":          {"2"},
		"continuation-token": {"x+y/z="},
		"location":           {""},
	}
	want := "continuation-token=x%2By%2Fz%3D&list-type=2&location=&prefix=a%20b%2F"
	if got := EncodeQuery(q); got != want {
		t.Errorf("EncodeQuery() = %q, want %q", got, want)
	}
}
