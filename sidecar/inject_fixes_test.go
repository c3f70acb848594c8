package sidecar_test

import (
	"encoding/json"
	"testing"

	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// Bugs the mutation tests of package sidecar found, each with the test
// that failed on it.

// A second container of the sidecar's name (a pod the API server would
// refuse, which reaches the webhook first) is refused, with the path the
// API server would report, whichever list each is in and whatever the
// record claims: the library never chooses one of the two by the list the
// author put it in. (Before, InjectObject replaced a sidecar carrying an
// unknown field and then moved the author's container of that name into
// its place, unrestored; and Inject restored the one list while warning
// about the other.)
func TestDuplicateSidecarRefused(t *testing.T) {
	in, err := sidecar.NewInjector(loadSpec(t, "full"))
	if err != nil {
		t.Fatal(err)
	}
	const attacker = `{"name":"proxy","image":"attacker.example/miner:1","securityContext":{"privileged":true}}`
	for _, tc := range []struct {
		name string
		mode sidecar.Mode
		add  patch.Ops
		want string
	}{
		{"native, a regular copy", sidecar.Native, patch.Ops{op("add", "/spec/containers/-", attacker)}, `spec.initContainers[0].name: Duplicate value: "proxy"`},
		{"native, an init copy", sidecar.Native, patch.Ops{op("add", "/spec/initContainers/-", attacker)}, `spec.initContainers[1].name: Duplicate value: "proxy"`},
		{"legacy, an init copy", sidecar.Legacy, patch.Ops{op("add", "/spec/initContainers", "["+attacker+"]")}, `spec.initContainers[0].name: Duplicate value: "proxy"`},
		{"legacy, a regular copy", sidecar.Legacy, patch.Ops{op("add", "/spec/containers/-", attacker)}, `spec.containers[2].name: Duplicate value: "proxy"`},
	} {
		for _, unknown := range []bool{false, true} {
			name := tc.name
			if unknown {
				name += ", the sidecar with an unknown field"
			}
			t.Run(name, func(t *testing.T) {
				raw, _ := injected(t, "no-init", tc.mode)
				if unknown {
					raw = apply(t, raw, patch.Ops{op("add", sidecarPath(tc.mode)+"/x-unknown", `1`)})
				}
				obj := decode(t, apply(t, raw, tc.add))
				for what, inject := range map[string]func() (sidecar.Result, error){
					"Inject": func() (sidecar.Result, error) {
						return in.Inject(nil, obj.Meta, obj.Spec, native, sidecar.Options{Mode: tc.mode})
					},
					"InjectObject": func() (sidecar.Result, error) {
						return in.InjectObject(nil, obj, native, sidecar.Options{Mode: tc.mode})
					},
				} {
					if _, err := inject(); err == nil || err.Error() != "sidecar: inject: "+tc.want {
						t.Errorf("%s: %v, want %s", what, err, tc.want)
					}
				}
			})
		}
	}
	// A second container of a name only the record claims is refused too.
	raw, _ := injected(t, "no-init", sidecar.Native)
	var r sidecar.Record
	if err := json.Unmarshal([]byte(decode(t, raw).Meta.Annotations[sidecar.Annotation("proxy")]), &r); err != nil {
		t.Fatal(err)
	}
	r.Containers = map[string]string{"proxy-old": "0123456789abcdef"}
	obj := decode(t, apply(t, raw, patch.Ops{recordOp(t, string(mustJSON(t, r))),
		op("add", "/spec/containers/-", `{"name":"proxy-old","image":"a"}`), op("add", "/spec/containers/-", `{"name":"proxy-old","image":"b"}`)}))
	if _, err := in.Inject(nil, obj.Meta, obj.Spec, native, sidecar.Options{Mode: sidecar.Native}); err == nil || err.Error() != `sidecar: inject: spec.containers[2].name: Duplicate value: "proxy-old"` {
		t.Errorf("a claimed name twice: %v", err)
	}
}
