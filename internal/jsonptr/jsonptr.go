// Package jsonptr builds and splits RFC 6901 JSON Pointers.
package jsonptr

import "strings"

// Escape escapes one reference token: "~" becomes "~0" and "/" becomes "~1".
func Escape(token string) string {
	if strings.IndexByte(token, '~') < 0 && strings.IndexByte(token, '/') < 0 {
		return token
	}
	var b strings.Builder
	b.Grow(len(token) + 4)
	for i := 0; i < len(token); i++ {
		switch c := token[i]; c {
		case '~':
			b.WriteString("~0")
		case '/':
			b.WriteString("~1")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Unescape reverses Escape: "~1" becomes "/" and "~0" becomes "~".
func Unescape(token string) string {
	if strings.IndexByte(token, '~') < 0 {
		return token
	}
	var b strings.Builder
	b.Grow(len(token))
	for i := 0; i < len(token); i++ {
		if c := token[i]; c == '~' && i+1 < len(token) && (token[i+1] == '0' || token[i+1] == '1') {
			if token[i+1] == '0' {
				b.WriteByte('~')
			} else {
				b.WriteByte('/')
			}
			i++
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Join builds a pointer from unescaped tokens: Join("a", "b/c") is "/a/b~1c".
// Join() is "", the pointer to the whole document.
func Join(tokens ...string) string {
	n := 0
	for _, t := range tokens {
		n += len(t) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(Escape(t))
	}
	return b.String()
}

// Split returns the unescaped tokens of a pointer. It reports false when
// ptr is neither "" nor starts with "/".
func Split(ptr string) ([]string, bool) {
	if ptr == "" {
		return nil, true
	}
	if ptr[0] != '/' {
		return nil, false
	}
	parts := strings.Split(ptr[1:], "/")
	for i, p := range parts {
		parts[i] = Unescape(p)
	}
	return parts, true
}
