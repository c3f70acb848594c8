package bench_test

import (
	"testing"

	"github.com/sidecarkit/sidecarkit/bench"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

// TestPaths checks that every path makes the same mutation, that ours keep
// every unknown field with the fewest ops and pass patchtest.Verify, and that
// the peers lose unknown fields (the README's table says so).
func TestPaths(t *testing.T) {
	ins, err := bench.Inputs()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range bench.Paths() {
		for _, in := range ins {
			t.Run(p.Key+"/"+in.Name, func(t *testing.T) {
				q, err := bench.Assess(p, in)
				if err != nil {
					t.Fatal(err)
				}
				if p.Output == bench.Nothing {
					return
				}
				t.Logf("%d ops (min %d), %d bytes, unknown kept %d/%d", q.Ops, q.MinOps, q.PatchBytes, q.UnknownKept, q.UnknownTotal)
				if !q.SameMutation {
					t.Error("the patched Pod differs from the Pod mutated in memory")
				}
				if q.UnknownTotal == 0 {
					t.Fatal("the fixture has no unknown fields")
				}
				ours := p.Key == "OursInject" || p.Key == "OursInjector" || p.Key == "OursDiff" || p.Key == "AdmissionOurs" || p.Key == "AdmissionLean" || p.Key == "AdmissionDecide"
				if !ours {
					if q.UnknownKept == q.UnknownTotal {
						t.Errorf("peer kept every unknown field (%d); the README says it does not", q.UnknownTotal)
					}
					return
				}
				if q.UnknownKept != q.UnknownTotal {
					t.Errorf("kept %d of %d unknown fields; lost %v", q.UnknownKept, q.UnknownTotal, q.Lost)
				}
				if q.Ops != q.MinOps {
					t.Errorf("%d ops, want %d", q.Ops, q.MinOps)
				}
			})
		}
	}
}

// TestOursVerify runs patchtest.Verify over our patches: nothing but the
// injected paths changes.
func TestOursVerify(t *testing.T) {
	ins, err := bench.Inputs()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range ins {
		for _, run := range []func(*bench.Input) ([]byte, error){bench.OursInject, bench.OursInjector, bench.OursDiff} {
			out, err := run(in)
			if err != nil {
				t.Fatal(err)
			}
			var ops patch.Ops
			if err := jsonUnmarshal(out, &ops); err != nil {
				t.Fatal(err)
			}
			if err := patchtest.Verify(in.Raw, ops); err != nil {
				t.Errorf("%s: %v", in.Name, err)
			}
		}
	}
}
