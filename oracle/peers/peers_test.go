package peers_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	gomodules "gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/internal/podgen"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

func toOps(t *testing.T, ops []gomodules.Operation) patch.Ops {
	t.Helper()
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	var out patch.Ops
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func apply(doc []byte, ops patch.Ops) ([]byte, error) {
	raw, err := ops.MarshalJSON()
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		return nil, err
	}
	return p.Apply(doc)
}

// TestPeersLoseUnknownFields injects a sidecar as the first container of
// generated Pods in three ways and counts, with patchtest.UnknownFieldsKept,
// the unknown fields that survive in their own element:
//   - raw-vs-typed: gomodules CreatePatch(raw request, marshal(typed pod)),
//     what controller-runtime's PatchResponseFromRaw, OpenTelemetry and Kuma
//     do: every unknown field becomes a remove op;
//   - typed-vs-typed: CreatePatch(marshal(typed), marshal(typed mutated)),
//     what Istio and Consul do: nothing is removed, but fields stay on the
//     array index and end up on the wrong container;
//   - one explicit add op, what patch.Mutation renders.
func TestPeersLoseUnknownFields(t *testing.T) {
	const pods = 20
	type tally struct{ kept, total, verified, failed int }
	var rawTyped, typedTyped, explicit tally
	for i := 0; i < pods; i++ {
		d, err := podgen.Generate([]byte("peer-"+strconv.Itoa(i)), podgen.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var pod corev1.Pod
		if err := json.Unmarshal(d.JSON, &pod); err != nil {
			t.Fatal(err)
		}
		before, _ := json.Marshal(&pod)
		sidecar := corev1.Container{Name: "proxy", Image: "proxy:2"}
		pod.Spec.Containers = append([]corev1.Container{sidecar}, pod.Spec.Containers...)
		after, _ := json.Marshal(&pod)

		rt, err := gomodules.CreatePatch(d.JSON, after)
		if err != nil {
			t.Fatal(err)
		}
		tt, err := gomodules.CreatePatch(before, after)
		if err != nil {
			t.Fatal(err)
		}
		sc, _ := json.Marshal(sidecar)
		ours := patch.Ops{{Op: "add", Path: "/spec/containers/0", Value: sc}}
		for _, c := range []struct {
			tally *tally
			ops   patch.Ops
		}{{&rawTyped, toOps(t, rt)}, {&typedTyped, toOps(t, tt)}, {&explicit, ours}} {
			out, err := apply(d.JSON, c.ops)
			if err != nil {
				// The typed form writes members the raw object lacks
				// (resources: {}), so the diff may address paths that
				// do not exist in the raw object.
				c.tally.failed++
				out = d.JSON
			}
			kept, total, _, err := patchtest.UnknownFieldsKept(d.JSON, out)
			if err != nil {
				t.Fatal(err)
			}
			c.tally.kept += kept
			c.tally.total += total
			verr := patchtest.Verify(d.JSON, c.ops)
			var ve *patchtest.VerifyError
			if verr != nil && !errors.As(verr, &ve) {
				t.Fatal(verr)
			}
			if verr == nil {
				c.tally.verified++
			}
		}
	}
	t.Logf("unknown fields kept in their own element over %d Pods (a patch that does not apply keeps the original):\n"+
		"  raw-vs-typed   %d/%d kept, %d patches verified, %d did not apply\n"+
		"  typed-vs-typed %d/%d kept, %d verified, %d did not apply\n"+
		"  explicit add   %d/%d kept, %d verified, %d did not apply",
		pods, rawTyped.kept, rawTyped.total, rawTyped.verified, rawTyped.failed,
		typedTyped.kept, typedTyped.total, typedTyped.verified, typedTyped.failed,
		explicit.kept, explicit.total, explicit.verified, explicit.failed)
	if explicit.kept != explicit.total || explicit.verified != pods {
		t.Errorf("explicit add: kept %d of %d, %d of %d verified", explicit.kept, explicit.total, explicit.verified, pods)
	}
	if rawTyped.kept != 0 || rawTyped.verified != 0 {
		t.Errorf("raw-vs-typed kept %d fields and %d patches verified; expected it to drop every field", rawTyped.kept, rawTyped.verified)
	}
	if typedTyped.kept >= typedTyped.total || typedTyped.verified == pods {
		t.Errorf("typed-vs-typed kept %d of %d, %d verified; expected misplaced fields", typedTyped.kept, typedTyped.total, typedTyped.verified)
	}
}
