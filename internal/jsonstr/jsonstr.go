// Package jsonstr encodes strings as JSON exactly as encoding/json does,
// without its reflection, for the hand-written encoders of hot paths whose
// output must stay byte-identical to json.Marshal's.
package jsonstr

import (
	"encoding/json"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// Append appends s as a JSON string, as encoding/json encodes it (with its
// HTML escaping). Strings with control characters, whose escapes changed
// between Go releases (\b and \f since Go 1.22), are left to encoding/json
// itself, so the output always matches the running toolchain's.
func Append(b []byte, s string) []byte {
	n := len(b)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			switch asciiClass[c] {
			case plain:
				i++
				continue
			case quoted:
				b = append(b, s[start:i]...)
				b = append(b, '\\', c)
			case html:
				b = append(b, s[start:i]...)
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			default: // a control character
				enc, _ := json.Marshal(s) // a string always encodes
				return append(b[:n], enc...)
			}
			i++
			start = i
			continue
		}
		// encoding/json's appendString (Go 1.20 to 1.26) for the rest.
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			start = i + size
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// The classes of ASCII bytes in a JSON string: written as they are,
// after a backslash, as \u00XX (encoding/json's HTML escaping), or a
// control character.
const (
	plain uint8 = iota
	quoted
	html
	control
)

// asciiClass is the class of each ASCII byte.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch {
		case c < 0x20:
			t[c] = control
		case c == '"' || c == '\\':
			t[c] = quoted
		case c == '<' || c == '>' || c == '&':
			t[c] = html
		}
	}
	return t
}()

// Plain reports whether encoding/json writes s as it is between quotes:
// printable ASCII without quotes, backslashes or the characters it escapes
// for HTML.
func Plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
