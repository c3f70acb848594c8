package bench_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

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

// BenchmarkPaired measures every path against F1 in alternation on the same
// fixture, one call of each per iteration (in alternating order), and
// reports the ratio of their times as the metric "xF1": the two are timed
// microseconds apart, so a change in the machine's speed during the run
// (other tenants, frequency scaling) affects both alike. cmd/report judges
// the targets by it. BenchmarkPaired/<path>/<fixture>.
func BenchmarkPaired(b *testing.B) {
	ins, err := bench.Inputs()
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range bench.Paths() {
		if p.Key == "F1" {
			continue
		}
		for _, in := range ins {
			b.Run(p.Key+"/"+in.Name, func(b *testing.B) {
				if _, err := p.Run(in); err != nil {
					b.Fatal(err)
				}
				var f1, path time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if i%2 == 0 {
						t0 := time.Now()
						_, err1 := bench.F1(in)
						t1 := time.Now()
						_, err2 := p.Run(in)
						f1, path = f1+t1.Sub(t0), path+time.Since(t1)
						err = errors.Join(err1, err2)
					} else {
						t0 := time.Now()
						_, err2 := p.Run(in)
						t1 := time.Now()
						_, err1 := bench.F1(in)
						path, f1 = path+t1.Sub(t0), f1+time.Since(t1)
						err = errors.Join(err1, err2)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(path)/float64(f1), "xF1")
			})
		}
	}
}
