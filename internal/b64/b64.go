// Package b64 appends the standard base64 encoding (RFC 4648, with
// padding) of bytes, as encoding/base64.StdEncoding.AppendEncode does,
// about twice as fast (BenchmarkAppendEncode): six input bytes become
// eight output bytes with one 64-bit load, four lookups of two characters
// each and one 64-bit store, twice per loop, where encoding/base64 looks
// up every character. No library the module may depend on does this. An
// admission response carries its JSON patch in base64; for a small Pod
// the encoding was a tenth of the whole review. The standard library
// encodes the last few bytes, so padding is its own.
package b64

import (
	"encoding/base64"
	"encoding/binary"
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// pairs holds, for every 12-bit value, its two base64 characters, the
// first in the low byte (the order of a little-endian store).
var pairs = func() (t [4096]uint16) {
	for v := range t {
		t[v] = uint16(alphabet[v>>6]) | uint16(alphabet[v&63])<<8
	}
	return t
}()

// AppendEncode appends the standard base64 encoding of src to dst and
// returns the extended slice, as base64.StdEncoding.AppendEncode does.
func AppendEncode(dst, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	if cap(dst)-len(dst) < n {
		dst = append(make([]byte, 0, len(dst)+n), dst...)
	}
	out := dst[len(dst) : len(dst)+n]
	i, o := 0, 0
	// Eight bytes are loaded for each six encoded: the loop stops while
	// fourteen remain (the second load's end). The bounds in the
	// condition let the compiler drop the checks in the body.
	for ; len(src)-i >= 14 && len(out)-o >= 16; i, o = i+12, o+16 {
		x := binary.BigEndian.Uint64(src[i : i+8])
		y := binary.BigEndian.Uint64(src[i+6 : i+14])
		binary.LittleEndian.PutUint64(out[o:o+8], uint64(pairs[x>>52&0xfff])|
			uint64(pairs[x>>40&0xfff])<<16|
			uint64(pairs[x>>28&0xfff])<<32|
			uint64(pairs[x>>16&0xfff])<<48)
		binary.LittleEndian.PutUint64(out[o+8:o+16], uint64(pairs[y>>52&0xfff])|
			uint64(pairs[y>>40&0xfff])<<16|
			uint64(pairs[y>>28&0xfff])<<32|
			uint64(pairs[y>>16&0xfff])<<48)
	}
	base64.StdEncoding.Encode(out[o:], src[i:])
	return dst[:len(dst)+n]
}
