package patchtest

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarkit/sidecarkit/internal/podgen"
)

// TestVerifierFindsPlantedUnknowns checks that the unknown fields Verify
// protects are exactly those podgen planted (and internal/schema lists).
func TestVerifierFindsPlantedUnknowns(t *testing.T) {
	for i := 0; i < 100; i++ {
		d, err := podgen.Generate([]byte("internal-"+strconv.Itoa(i)), podgen.Options{AnyKind: true})
		if err != nil {
			t.Fatal(err)
		}
		v, err := newVerifier(d.JSON, "", false)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, u := range v.unknowns {
			b, _ := u.node.MarshalJSON()
			got[u.path.String()] = string(b)
		}
		want := map[string]string{}
		for p, val := range d.Unknown {
			want[p] = string(val)
		}
		if diff := cmp.Diff(len(want), len(got)); diff != "" {
			t.Fatalf("seed %d: unknown field count (-want +got):\n%s", i, diff)
		}
		for p := range want {
			if _, ok := got[p]; !ok {
				t.Fatalf("seed %d: verifier misses %s", i, p)
			}
		}
		if len(v.carried) != len(v.unknowns) {
			t.Fatalf("seed %d: %d unknown fields but %d carried nodes", i, len(v.unknowns), len(v.carried))
		}
	}
}
