package bench_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sidecarkit/sidecarkit/bench"
	"github.com/sidecarkit/sidecarkit/internal/cputime"
)

func jsonUnmarshal(b []byte, v interface{}) error { return json.Unmarshal(b, v) }

// assertPath fails b unless p, run once on in before the timer starts,
// makes the benchmark's mutation (bench.Assess; TestPaths checks the rest):
// a benchmark times a path that works.
func assertPath(b *testing.B, p bench.Path, in *bench.Input) {
	b.Helper()
	q, err := bench.Assess(p, in)
	if err != nil {
		b.Fatal(err)
	}
	if p.Output != bench.Nothing && !q.SameMutation {
		b.Fatalf("%s/%s: the patched Pod differs from the Pod mutated in memory", p.Key, in.Name)
	}
}

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
				assertPath(b, p, in)
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
				assertPath(b, p, in)
				var f1, path, f1CPU, pathCPU time.Duration
				cpuOK := true
				timed := func(run func(*bench.Input) ([]byte, error), total, cpu *time.Duration) {
					c0, ok0 := cputime.Process()
					t0 := time.Now()
					_, err := run(in)
					*total += time.Since(t0)
					c1, ok1 := cputime.Process()
					*cpu += c1 - c0
					cpuOK = cpuOK && ok0 && ok1
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if i%2 == 0 {
						timed(bench.F1, &f1, &f1CPU)
						timed(p.Run, &path, &pathCPU)
					} else {
						timed(p.Run, &path, &pathCPU)
						timed(bench.F1, &f1, &f1CPU)
					}
				}
				b.ReportMetric(float64(path)/float64(f1), "xF1")
				if cpuOK && f1CPU > 0 {
					// The same ratio in CPU time of the process: time spent
					// waiting for a CPU on a loaded machine counts in
					// neither.
					b.ReportMetric(float64(pathCPU)/float64(f1CPU), "cpu-xF1")
				}
			})
		}
	}
}
