package patch_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarkit/sidecarkit/patch"
)

// DecodeAs gives the same Object as Decode for every golden input (Pods and
// each workload kind), in one pass.
func TestDecodeAsMatchesDecode(t *testing.T) {
	ins, err := filepath.Glob("testdata/golden/*.in.json")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range ins {
		in := in
		t.Run(strings.TrimSuffix(filepath.Base(in), ".in.json"), func(t *testing.T) {
			raw := readFile(t, in)
			want, err := patch.Decode(raw)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got, err := patch.DecodeAs(raw, want.Kind)
			if err != nil {
				t.Fatalf("DecodeAs: %v", err)
			}
			if d := cmp.Diff(want, got, cmp.AllowUnexported(patch.Object{})); d != "" {
				t.Errorf("DecodeAs differs from Decode (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeAsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, kind, doc string
		want            string
		is              error
	}{
		{name: "kind mismatch", kind: "Pod", doc: `{"kind":"Deployment","spec":{"template":{"spec":{}}}}`, want: `patch: decode Pod: the document's kind is "Deployment"`},
		{name: "unknown kind", kind: "Service", doc: `{"spec":{}}`, want: `patch: kind "Service" has no pod spec`},
		{name: "no spec", kind: "Pod", doc: `{"metadata":{"name":"p"}}`, is: patch.ErrNoPodSpec},
		{name: "no template", kind: "Deployment", doc: `{"metadata":{"name":"d"},"spec":{}}`, want: `patch: no pod spec at spec.template.spec of Deployment "d"`},
		{name: "cronjob without jobTemplate", kind: "CronJob", doc: `{"spec":{}}`, is: patch.ErrNoPodSpec},
		{name: "wrong type", kind: "Pod", doc: `{"spec":{"containers":{}}}`, want: "patch: decode Pod: json: cannot unmarshal object"},
		{name: "not json", kind: "PodTemplate", doc: `{"template":`, want: "patch: decode PodTemplate:"},
		{name: "case-sensitive", kind: "Pod", doc: `{"Spec":{"containers":[]}}`, is: patch.ErrNoPodSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := patch.DecodeAs([]byte(tc.doc), tc.kind)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q does not start with %q", err, tc.want)
			}
		})
	}
}
