package b64

import (
	"encoding/base64"
	"math/rand"
	"testing"
)

// TestAppendEncode: every length from 0 to 100 (each remainder of both
// loops), random and extreme bytes, onto empty, nil and partly full
// destinations with and without room: the bytes of
// base64.StdEncoding.AppendEncode.
func TestAppendEncode(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	for n := 0; n <= 100; n++ {
		for _, fill := range []byte{0x00, 0xff, 'r'} {
			src := make([]byte, n)
			for i := range src {
				src[i] = fill
				if fill == 'r' {
					src[i] = byte(rnd.Intn(256))
				}
			}
			for _, dst := range [][]byte{nil, {}, []byte(`{"patch":"`), make([]byte, 3, 200)} {
				want := base64.StdEncoding.AppendEncode(append([]byte(nil), dst...), src)
				if got := AppendEncode(append([]byte(nil), dst...), src); string(got) != string(want) {
					t.Fatalf("n=%d fill=%q dst=%q: got %q, want %q", n, fill, dst, got, want)
				}
				if got := AppendEncode(dst, src); string(got) != string(want) {
					t.Fatalf("n=%d fill=%q dst=%q, in place: got %q, want %q", n, fill, dst, got, want)
				}
			}
		}
	}
}

// TestEveryPair: every 12-bit value encodes as encoding/base64 encodes it
// (the table is built right).
func TestEveryPair(t *testing.T) {
	for v := 0; v < 4096; v++ {
		src := []byte{byte(v >> 4), byte(v << 4), 0, 0, 0, 0, 0, 0, 0}
		want := base64.StdEncoding.EncodeToString(src)
		if got := string(AppendEncode(nil, src)); got != want {
			t.Fatalf("%03x: got %s, want %s", v, got, want)
		}
	}
}

func FuzzAppendEncode(f *testing.F) {
	for _, s := range []string{"", "a", "ab", "abc", "abcdefgh", "abcdefghi", `[{"op":"add","path":"/spec/initContainers","value":[]}]`} {
		f.Add([]byte(s), []byte(`{"patch":"`))
	}
	f.Fuzz(func(t *testing.T, src, dst []byte) {
		want := base64.StdEncoding.AppendEncode(append([]byte(nil), dst...), src)
		// dst without spare capacity (the fuzzer's arguments may share
		// memory, which an append would overwrite), and with room.
		if got := AppendEncode(dst[:len(dst):len(dst)], src); string(got) != string(want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		roomy := append(make([]byte, 0, len(dst)+len(src)*2+4), dst...)
		if got := AppendEncode(roomy, src); string(got) != string(want) {
			t.Fatalf("with room: got %q, want %q", got, want)
		}
	})
}

// BenchmarkAppendEncode compares the encoding of a typical JSON patch
// (2 KB) with encoding/base64's: b64/... against std/....
func BenchmarkAppendEncode(b *testing.B) {
	src := make([]byte, 2048)
	rand.New(rand.NewSource(1)).Read(src)
	dst := make([]byte, 0, 4096)
	for _, c := range []struct {
		name string
		f    func(dst, src []byte) []byte
	}{{"b64", AppendEncode}, {"std", base64.StdEncoding.AppendEncode}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for i := 0; i < b.N; i++ {
				c.f(dst[:0], src)
			}
		})
	}
}
