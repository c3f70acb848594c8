// Command report runs the benchmarks of package bench in interleaved rounds
// (every round runs every path on every fixture once, so that a change in
// the machine's load hits all paths alike), takes medians with
// golang.org/x/perf/benchmath (benchstat's statistics), assesses every
// path's patch (bytes, op count, unknown fields kept), runs the loopback
// load test, and rewrites the results section of README.md.
//
//	go run ./cmd/report                 # 6 rounds, 300ms per benchmark, 3×3s load per route, over TLS and plain HTTP
//	go run ./cmd/report -rounds 7 -benchtime 500ms -load 5s
//
// The raw `go test -bench` output is kept in results/bench.txt for benchstat.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"

	"github.com/sidecarkit/sidecarkit/bench"
)

func main() {
	rounds := flag.Int("rounds", 6, "interleaved benchmark rounds (at least 5)")
	benchtime := flag.String("benchtime", "300ms", "go test -benchtime of each benchmark in each round")
	load := flag.Duration("load", 3*time.Second, "load test duration per route per round (3 rounds); 0 skips it")
	readme := flag.String("readme", "README.md", "file whose results section is rewritten")
	raw := flag.String("raw", "results/bench.txt", "where the raw benchmark output goes")
	flag.Parse()
	if err := run(*rounds, *benchtime, *load, *readme, *raw); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

type key struct{ path, fixture string }

type stats struct {
	ns, bytes, allocs benchmath.Summary
	// ratio is the paired ratio to F1 (BenchmarkPaired: F1 and the path
	// timed in alternation), over the rounds; F1's own is 1.
	ratio benchmath.Summary
	// cpu is the same paired ratio in CPU time of the process.
	cpu benchmath.Summary
	// split is the ratio of the separate BenchmarkPaths timings, per
	// round: more exposed to the machine's speed changing between them.
	split benchmath.Summary
}

func run(rounds int, benchtime string, load time.Duration, readme, rawPath string) error {
	if rounds < 5 {
		return fmt.Errorf("-rounds %d: at least 5 are needed", rounds)
	}
	var out bytes.Buffer
	for r := 1; r <= rounds; r++ {
		fmt.Fprintf(os.Stderr, "round %d/%d\n", r, rounds)
		cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^(BenchmarkPaths|BenchmarkPaired)$", "-benchmem", "-count", "1", "-benchtime", benchtime, ".")
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("round %d: go test: %w\n%s", r, err, b)
		}
		out.Write(b)
	}
	if err := os.MkdirAll(filepath.Dir(rawPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(rawPath, out.Bytes(), 0o644); err != nil {
		return err
	}
	samples, err := parse(out.Bytes())
	if err != nil {
		return err
	}
	ins, err := bench.Inputs()
	if err != nil {
		return err
	}
	st := map[key]*stats{}
	for k, s := range samples {
		f1 := samples[key{"F1", k.fixture}]
		n := len(s.ns)
		if len(f1.ns) < n {
			n = len(f1.ns)
		}
		ratios := make([]float64, n)
		for i := 0; i < n; i++ {
			ratios[i] = s.ns[i] / f1.ns[i]
		}
		paired, cpu := s.paired, s.cpu
		if k.path == "F1" {
			paired = make([]float64, len(s.ns)) // F1 against itself
			for i := range paired {
				paired[i] = 1
			}
			cpu = paired
		}
		if len(cpu) == 0 {
			cpu = []float64{math.NaN()} // no CPU time on this platform
		}
		if len(paired) == 0 {
			return fmt.Errorf("no BenchmarkPaired result for %s/%s", k.path, k.fixture)
		}
		st[k] = &stats{ns: summary(s.ns), bytes: summary(s.bytes), allocs: summary(s.allocs), ratio: summary(paired), cpu: summary(cpu), split: summary(ratios)}
	}
	var md strings.Builder
	fmt.Fprintf(&md, "Measured %s with `go run ./cmd/report -rounds %d -benchtime %s` (%s, %s/%s, GOMAXPROCS %d; %s).\n",
		time.Now().UTC().Format("2006-01-02"), rounds, benchtime, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), machine())
	fmt.Fprintf(&md, "Medians of %d interleaved rounds (golang.org/x/perf/benchmath). \"ratio to F1\" is paired: BenchmarkPaired times F1 and the path in alternation on the same fixture, so a change in the machine's speed affects both alike; the targets are judged by it. \"CPU ratio\" is the same pairing in CPU time of the process, which time spent waiting for a CPU on a loaded machine does not inflate. \"split ratio\" divides the separate BenchmarkPaths timings of each round, as earlier reports did. Raw output: results/bench.txt (`benchstat results/bench.txt`).\n\n", rounds)
	qual := map[key]bench.Quality{}
	for _, in := range ins {
		fmt.Fprintf(&md, "#### %s Pod (%d bytes, %d init containers, %d containers)\n\n", in.Name, len(in.Raw), len(in.Spec.InitContainers), len(in.Spec.Containers))
		md.WriteString("| path | µs/op | ratio to F1 | CPU ratio | split ratio | B/op | allocs/op | patch bytes | ops (min) | unknown fields kept |\n")
		md.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, p := range bench.Paths() {
			k := key{p.Key, in.Name}
			s := st[k]
			if s == nil {
				return fmt.Errorf("no benchmark result for %s/%s", k.path, k.fixture)
			}
			q, err := bench.Assess(p, in)
			if err != nil {
				return err
			}
			qual[k] = q
			patchBytes, ops, kept := "—", "—", "—"
			if p.Output != bench.Nothing {
				patchBytes = fmt.Sprint(q.PatchBytes)
				ops = "merge patch"
				if q.Ops >= 0 {
					ops = fmt.Sprintf("%d (%d)", q.Ops, q.MinOps)
				}
				kept = fmt.Sprintf("%d/%d", q.UnknownKept, q.UnknownTotal)
				if q.UnknownKept == q.UnknownTotal {
					kept += " ✓"
				} else {
					kept += " ✗"
				}
				if !q.SameMutation {
					kept += " (different mutation!)"
				}
			}
			fmt.Fprintf(&md, "| %s | %s | %s | %.3f | %.3f | %.0f | %.0f | %s | %s | %s |\n", p.Key, us(s.ns), ratio(s.ratio), s.cpu.Center, s.split.Center, s.bytes.Center, s.allocs.Center, patchBytes, ops, kept)
		}
		md.WriteString("\n")
	}
	// Scaling.
	small, large := ins[0], ins[len(ins)-1]
	md.WriteString("#### Scaling from the small to the large Pod\n\n")
	md.WriteString("log-log slope of µs/op against Pod bytes (1 = linear); allocs/op by fixture.\n\n")
	md.WriteString("| path | slope | allocs small / typical / large |\n|---|---:|---|\n")
	for _, p := range bench.Paths() {
		a, b := st[key{p.Key, small.Name}], st[key{p.Key, large.Name}]
		slope := math.Log(b.ns.Center/a.ns.Center) / math.Log(float64(len(large.Raw))/float64(len(small.Raw)))
		var allocs []string
		for _, in := range ins {
			allocs = append(allocs, fmt.Sprintf("%.0f", st[key{p.Key, in.Name}].allocs.Center))
		}
		fmt.Fprintf(&md, "| %s | %.2f | %s |\n", p.Key, slope, strings.Join(allocs, " / "))
	}
	md.WriteString("\n")
	// Targets.
	md.WriteString(targets(st, qual, ins))
	// Load.
	if load > 0 {
		fmt.Fprintln(os.Stderr, "load test")
		typical := ins[1]
		fmt.Fprintf(&md, "#### Load test: typical Pod on loopback\n\n`bench.Load`: one HTTP server on 127.0.0.1 serving both routes, over TLS (as the API server calls webhooks: HTTP/1.1 over TLS 1.3, a self-signed ECDSA P-256 certificate) and over plain HTTP, a Go client with 4 keep-alive connections on the same 2 cores, 3 alternating rounds of %s per route, at most 200000 requests per round.\n\n", load)
		md.WriteString("| transport | route | requests | errors | req/s | p50 | p99 |\n|---|---|---:|---:|---:|---:|---:|\n")
		for _, tls := range []bool{true, false} {
			res, err := bench.Load(context.Background(), typical.Review, bench.LoadOptions{Duration: load, Rounds: 3, Concurrency: 4, MaxRequests: 200000, TLS: tls})
			if err != nil {
				return err
			}
			transport := "plain HTTP"
			if tls {
				transport = "TLS"
			}
			for _, r := range res {
				fmt.Fprintf(&md, "| %s | %s | %d | %d | %.0f | %s | %s |\n", transport, r.Route, r.Requests, r.Errors, r.RPS, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond))
			}
		}
		md.WriteString("\n")
	}
	return rewrite(readme, md.String())
}

type sample struct{ ns, bytes, allocs, paired, cpu []float64 }

func parse(b []byte) (map[key]*sample, error) {
	r := benchfmt.NewReader(bytes.NewReader(b), "bench.txt")
	out := map[key]*sample{}
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		base, parts := res.Name.Parts()
		if len(parts) < 2 {
			continue
		}
		pairedRun := string(base) == "Paired"
		k := key{strings.TrimPrefix(string(parts[0]), "/"), strings.TrimPrefix(string(parts[1]), "/")}
		if i := strings.LastIndexByte(k.fixture, '-'); i > 0 {
			k.fixture = k.fixture[:i] // the GOMAXPROCS suffix
		}
		s := out[k]
		if s == nil {
			s = &sample{}
			out[k] = s
		}
		if pairedRun {
			for _, v := range res.Values {
				switch v.Unit {
				case "xF1":
					s.paired = append(s.paired, v.Value)
				case "cpu-xF1":
					s.cpu = append(s.cpu, v.Value)
				}
			}
			continue
		}
		for _, v := range res.Values {
			switch v.Unit {
			case "sec/op":
				s.ns = append(s.ns, v.Value*1e9)
			case "B/op":
				s.bytes = append(s.bytes, v.Value)
			case "allocs/op":
				s.allocs = append(s.allocs, v.Value)
			}
		}
	}
	return out, r.Err()
}

func summary(v []float64) benchmath.Summary {
	return benchmath.AssumeNothing.Summary(benchmath.NewSample(v, &benchmath.DefaultThresholds), 0.95)
}

func us(s benchmath.Summary) string {
	return fmt.Sprintf("%.1f ±%s", s.Center/1e3, strings.TrimPrefix(s.PctRangeString(), "±"))
}

func ratio(s benchmath.Summary) string {
	return fmt.Sprintf("%.3f [%.3f, %.3f]", s.Center, s.Lo, s.Hi)
}

func targets(st map[key]*stats, qual map[key]bench.Quality, ins []*bench.Input) string {
	var b strings.Builder
	b.WriteString("#### Targets (typical Pod, paired ratios to F1)\n\n| target | measured | |\n|---|---|---|\n")
	check := func(name string, v, limit float64) {
		mark := "met"
		if v > limit {
			mark = fmt.Sprintf("missed by %.0f%%", (v/limit-1)*100)
		}
		fmt.Fprintf(&b, "| %s ≤ %.2f | %.3f | %s |\n", name, limit, v, mark)
	}
	t := ins[1].Name
	check("Injector.Inject + MarshalJSONPatch (OursInjector)", st[key{"OursInjector", t}].ratio.Center, 0.10)
	check("sidecar.Inject + MarshalJSONPatch (OursInject)", st[key{"OursInject", t}].ratio.Center, 0.10)
	for _, in := range ins {
		check("whole admission path with a Capability hook (AdmissionOurs), "+in.Name+" Pod,", st[key{"AdmissionOurs", in.Name}].ratio.Center, 0.5)
		check("whole admission path without hooks (AdmissionLean), "+in.Name+" Pod,", st[key{"AdmissionLean", in.Name}].ratio.Center, 0.5)
	}
	check("whole admission path with a Decide hook (AdmissionDecide)", st[key{"AdmissionDecide", t}].ratio.Center, 1.6)
	check("Diff (OursDiff)", st[key{"OursDiff", t}].ratio.Center, 0.5)
	small, large := ins[0], ins[len(ins)-1]
	for _, p := range []string{"OursInjector", "AdmissionOurs", "AdmissionLean", "AdmissionDecide"} {
		a, c := st[key{p, small.Name}], st[key{p, large.Name}]
		slope := math.Log(c.ns.Center/a.ns.Center) / math.Log(float64(len(large.Raw))/float64(len(small.Raw)))
		check("log-log slope of "+p, slope, 1.05)
	}
	// Allocations beyond the ops: allocs/op minus a constant per op.
	a, c := st[key{"OursInjector", small.Name}].allocs.Center, st[key{"OursInjector", large.Name}].allocs.Center
	qa, qc := qual[key{"OursInjector", small.Name}], qual[key{"OursInjector", large.Name}]
	perOp := (c - a) / float64(qc.Ops-qa.Ops)
	fmt.Fprintf(&b, "| allocs of OursInjector independent of Pod size apart from the ops | %.0f allocs at %d ops, %.0f at %d ops: %.1f per extra op | see README |\n", a, qa.Ops, c, qc.Ops, perOp)
	ok := true
	for k, q := range qual {
		if strings.HasPrefix(k.path, "Ours") || strings.HasPrefix(k.path, "Admission") && k.path != "AdmissionPeer" {
			ok = ok && q.Ops == q.MinOps && q.UnknownKept == q.UnknownTotal && q.SameMutation
		}
	}
	mark := "met"
	if !ok {
		mark = "MISSED"
	}
	fmt.Fprintf(&b, "| ours: minimal ops, every unknown field kept, on every fixture | %v | %s |\n\n", ok, mark)
	return b.String()
}

func machine() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return fmt.Sprintf("%d CPUs", runtime.NumCPU())
	}
	f := strings.Fields(string(b))
	return fmt.Sprintf("%d CPUs shared with other work, load average %s at the end", runtime.NumCPU(), f[0])
}

const begin, end = "<!-- results:begin -->", "<!-- results:end -->"

func rewrite(path, section string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s … %s section", path, begin, end)
	}
	s = s[:i+len(begin)] + "\n" + section + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
