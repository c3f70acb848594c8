package bench_test

import (
	"encoding/json"
	"testing"

	"github.com/sidecarkit/sidecarkit/bench"
)

func jsonUnmarshal(b []byte, v interface{}) error { return json.Unmarshal(b, v) }

// BenchmarkPaths measures every path on every fixture:
// BenchmarkPaths/<path>/<fixture>. cmd/report runs it and writes the table.
func BenchmarkPaths(b *testing.B) {
	ins, err := bench.Inputs()
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range bench.Paths() {
		for _, in := range ins {
			b.Run(p.Key+"/"+in.Name, func(b *testing.B) {
				if _, err := p.Run(in); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(in.Raw)))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := p.Run(in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
