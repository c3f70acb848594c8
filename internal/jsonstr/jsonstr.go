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
	if Plain(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 {
			enc, _ := json.Marshal(s) // a string always encodes
			return append(b, enc...)
		}
	}
	// encoding/json's appendString (Go 1.20 to 1.26) without control
	// characters.
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, s[start:i]...)
				b = append(b, '\\', c)
				start = i + 1
			case '<', '>', '&':
				b = append(b, s[start:i]...)
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
				start = i + 1
			}
			i++
			continue
		}
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
