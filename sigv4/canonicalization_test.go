package sigv4

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCanonicalURI(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "empty", in: "", want: "/"},
		{name: "root", in: "/", want: "/"},
		{name: "escaped once stays", in: "/photos/reports/a%20b%2Bc.txt", want: "/photos/reports/a%20b%2Bc.txt"},
		{name: "raw plus escaped", in: "/photos/pkgs/libstdc++-docs.rpm", want: "/photos/pkgs/libstdc%2B%2B-docs.rpm"},
		{name: "lower-case hex upper-cased", in: "/photos/pkgs/libstdc%2b%2b-docs.rpm", want: "/photos/pkgs/libstdc%2B%2B-docs.rpm"},
		{name: "parentheses", in: "/photos/img/image(1).jpg", want: "/photos/img/image%281%29.jpg"},
		{name: "escaped parentheses", in: "/photos/img/image%281%29.jpg", want: "/photos/img/image%281%29.jpg"},
		{name: "dollar", in: "/test$file.text", want: "/test%24file.text"},
		{name: "unreserved escape decoded", in: "/%41%7e", want: "/A~"},
		{name: "escaped slash becomes slash", in: "/photos/a%2Fb", want: "/photos/a/b"},
		{name: "no path cleaning", in: "/photos//a/./../b", want: "/photos//a/./../b"},
		{name: "raw UTF-8", in: "/photos/\xe5\x86\x99", want: "/photos/%E5%86%99"},
		{name: "unreserved kept", in: "/A-Z_a.z~0", want: "/A-Z_a.z~0"},
		{name: "sub-delims escaped", in: "/!$&'*,;=:@", want: "/%21%24%26%27%2A%2C%3B%3D%3A%40"},
		{name: "bad escape", in: "/a%zz", wantErr: true},
		{name: "cut escape", in: "/a%4", wantErr: true},
		{name: "lone percent", in: "/100%", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalURI(tt.in)
			if tt.wantErr {
				wantErrorIs(t, "CanonicalURI()", err, ErrMalformed)
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("CanonicalURI(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "empty", in: "", want: ""},
		{name: "name without value", in: "lifecycle", want: "lifecycle="},
		{name: "sorted by name", in: "prefix=J&max-keys=2", want: "max-keys=2&prefix=J"},
		{name: "sorted by value", in: "a=2&a=1", want: "a=1&a=2"},
		{name: "plus is a space", in: "prefix=a+b", want: "prefix=a%20b"},
		{name: "escaped plus stays plus", in: "prefix=a%2Bb", want: "prefix=a%2Bb"},
		{name: "slash escaped", in: "delimiter=/", want: "delimiter=%2F"},
		{name: "lower-case hex upper-cased", in: "delimiter=%2f", want: "delimiter=%2F"},
		{name: "sorted after encoding", in: "k=a-b&k=a/b", want: "k=a%2Fb&k=a-b"},
		{name: "empty segments skipped", in: "a=1&&b=2&", want: "a=1&b=2"},
		{name: "equals sign in value", in: "t=a=b", want: "t=a%3Db"},
		{name: "continuation token", in: "continuation-token=1%2Fab%2Bc%3D%3D&list-type=2", want: "continuation-token=1%2Fab%2Bc%3D%3D&list-type=2"},
		{name: "semicolon is data", in: "a=1;b=2", want: "a=1%3Bb%3D2"},
		{name: "bad escape", in: "prefix=%zz", wantErr: true},
		{name: "bad escape in name", in: "%g1=x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalQuery(tt.in)
			if tt.wantErr {
				wantErrorIs(t, "CanonicalQuery()", err, ErrMalformed)
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("CanonicalQuery(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPresignedCanonicalQueryLeavesOutSignature(t *testing.T) {
	params, err := parseQuery("X-Amz-Signature=abc&X-Amz-Date=20130524T000000Z&x-amz-signature=kept")
	if err != nil {
		t.Fatal(err)
	}
	want := "X-Amz-Date=20130524T000000Z&x-amz-signature=kept"
	if got := canonicalQueryString(params, querySignature); got != want {
		t.Errorf("canonicalQueryString() = %q, want %q", got, want)
	}
}

func TestCanonicalHeaderValue(t *testing.T) {
	r := httptest.NewRequest("PUT", "http://agent.local:9000/photos/k", strings.NewReader("12345"))
	r.Header["X-Amz-Meta-List"] = []string{" a ", "b   c", "\td\t"}
	r.Header.Set("X-Amz-Meta-Spaces", "  one   two  three ")
	r.Header.Set("Content-Type", "text/plain")

	tests := []struct {
		name   string
		header string
		want   string
	}{
		{name: "host as received", header: "host", want: "agent.local:9000"},
		{name: "several values joined", header: "x-amz-meta-list", want: "a,b c,d"},
		{name: "spaces collapsed", header: "x-amz-meta-spaces", want: "one two three"},
		{name: "content-length from ContentLength", header: "content-length", want: "5"},
		{name: "absent header", header: "x-amz-meta-absent", want: ""},
		{name: "ordinary header", header: "content-type", want: "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := canonicalHeaderValue(r, tt.header); got != tt.want {
				t.Errorf("canonicalHeaderValue(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}

	withHeader := httptest.NewRequest("PUT", "http://agent.local:9000/photos/k", strings.NewReader("12345"))
	withHeader.Header = http.Header{"Content-Length": {"5"}}
	if got := canonicalHeaderValue(withHeader, "content-length"); got != "5" {
		t.Errorf("canonicalHeaderValue(content-length) = %q, want %q", got, "5")
	}
}

func TestTrimAll(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "abc", want: "abc"},
		{name: "outer spaces", in: "  abc  ", want: "abc"},
		{name: "outer tabs", in: "\tabc\t", want: "abc"},
		{name: "inner run", in: "a    b", want: "a b"},
		{name: "inner tab kept", in: "a\tb", want: "a\tb"},
		{name: "only spaces", in: "    ", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := trimAll(tt.in); got != tt.want {
				t.Errorf("trimAll(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
