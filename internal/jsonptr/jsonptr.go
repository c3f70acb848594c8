// Package jsonptr builds and splits RFC 6901 JSON Pointers.
package jsonptr

import "strings"

// Escape escapes one reference token: "~" becomes "~0" and "/" becomes "~1".
func Escape(token string) string {
	if strings.IndexByte(token, '~') < 0 && strings.IndexByte(token, '/') < 0 {
		return token
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(token)
}

// Unescape reverses Escape: "~1" becomes "/" and "~0" becomes "~".
func Unescape(token string) string {
	if strings.IndexByte(token, '~') < 0 {
		return token
	}
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(token)
}

// Join builds a pointer from unescaped tokens: Join("a", "b/c") is "/a/b~1c".
// Join() is "", the pointer to the whole document.
func Join(tokens ...string) string {
	var b strings.Builder
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
