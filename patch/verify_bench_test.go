package patch_test

import (
	"testing"

	"github.com/sidecarkit/sidecarkit/internal/podgen"
	"github.com/sidecarkit/sidecarkit/patch"
)

func BenchmarkVerify(b *testing.B) {
	d, err := podgen.Generate([]byte("bench"), podgen.Options{Kind: "Deployment"})
	if err != nil {
		b.Fatal(err)
	}
	ops := patch.Ops{
		vRaw("add", d.Spec+"/initContainers", "["+sidecar+"]"),
		vRaw("add", d.Spec+"/containers/0", `{"name":"log","image":"l"}`),
		vRaw("add", d.Spec+"/containers/0/env", `[{"name":"A","value":"1"}]`),
	}
	b.SetBytes(int64(len(d.JSON)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = patch.Verify(d.JSON, ops)
	}
}
