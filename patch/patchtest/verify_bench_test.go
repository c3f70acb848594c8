package patchtest_test

import (
	"errors"
	"testing"

	"github.com/sidecarkit/sidecarkit/internal/podgen"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

// BenchmarkVerify times Verify on a generated Deployment (about 4 KB, with
// unknown fields throughout). Each case checks its outcome once before the
// timer starts, so it times the path it names.
//
//   - clean: a sidecar inserted before the init containers and an app
//     container with env inserted first, the patch an injection makes;
//     Verify finds nothing.
//   - dropped: the same, except that the init containers are replaced by a
//     list holding only the sidecar, which drops the unknown fields of the
//     two init containers podgen made: 12 violations, all of op 0.
func BenchmarkVerify(b *testing.B) {
	d, err := podgen.Generate([]byte("bench"), podgen.Options{Kind: "Deployment"})
	if err != nil {
		b.Fatal(err)
	}
	app := []patch.Op{
		vRaw("add", d.Spec+"/containers/0", `{"name":"log","image":"l"}`),
		vRaw("add", d.Spec+"/containers/0/env", `[{"name":"A","value":"1"}]`),
	}
	for _, bc := range []struct {
		name       string
		ops        patch.Ops
		violations int
	}{
		{"clean", append(patch.Ops{vRaw("add", d.Spec+"/initContainers/0", sidecar)}, app...), 0},
		{"dropped", append(patch.Ops{vRaw("add", d.Spec+"/initContainers", "["+sidecar+"]")}, app...), 12},
	} {
		b.Run(bc.name, func(b *testing.B) {
			err := patchtest.Verify(d.JSON, bc.ops)
			var ve *patchtest.VerifyError
			switch {
			case bc.violations == 0 && err != nil:
				b.Fatalf("Verify: %v, want no violation", err)
			case bc.violations > 0 && !errors.As(err, &ve):
				b.Fatalf("Verify: %v, want a *patchtest.VerifyError", err)
			case bc.violations > 0 && len(ve.Violations) != bc.violations:
				b.Fatalf("Verify: %d violations, want %d: %v", len(ve.Violations), bc.violations, err)
			}
			for _, v := range violationsOf(ve) {
				if v.Kind != patchtest.Dropped || v.Op != 0 {
					b.Fatalf("violation %v of op %d at %s, want only drops by op 0", v.Kind, v.Op, v.Path)
				}
			}
			b.SetBytes(int64(len(d.JSON)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_ = patchtest.Verify(d.JSON, bc.ops)
			}
		})
	}
}

// violationsOf returns ve's violations, none for a nil ve.
func violationsOf(ve *patchtest.VerifyError) []patchtest.Violation {
	if ve == nil {
		return nil
	}
	return ve.Violations
}
