package proxy

import (
	"net/url"
	"sort"
	"strings"
)

// EscapePath escapes an object key or path the way S3 canonicalises it:
// every byte outside A-Z a-z 0-9 - . _ ~ / becomes an upper-case %XX. The
// result is escaped exactly once, so it can go on the wire and into a
// SigV4 canonical request unchanged.
func EscapePath(p string) string {
	return escape(p, true)
}

// EscapeQueryComponent escapes a query name or value the same way, with
// '/' escaped too, as SigV4's canonical query string requires.
func EscapeQueryComponent(s string) string {
	return escape(s, false)
}

func escape(s string, keepSlash bool) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i], keepSlash) {
			n++
		}
	}
	if n == 0 {
		return s
	}

	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c, keepSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func unreserved(c byte, keepSlash bool) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '.', c == '_', c == '~':
		return true
	case c == '/':
		return keepSlash
	}
	return false
}

// EncodeQuery encodes q sorted by name and then by value, every name and
// value escaped with EscapeQueryComponent. A parameter with an empty value
// is written as "name=".
func EncodeQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)

	var b strings.Builder
	for _, name := range names {
		values := append([]string(nil), q[name]...)
		sort.Strings(values)
		for _, v := range values {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(EscapeQueryComponent(name))
			b.WriteByte('=')
			b.WriteString(EscapeQueryComponent(v))
		}
	}
	return b.String()
}
