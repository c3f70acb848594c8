package sidecar_test

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"

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

// The digest an injection records is the one every later call computes
// on the stored Pod, whatever the Pod's facts: under hostNetwork (where
// the API server defaults hostPorts), and for a Spec that mounts its own
// projected volume, named as the ServiceAccount plugin names its, at the
// token path (the volume is in the Pod only once injected). Injecting
// again changes nothing, and Uninject verifies the sidecar.
func TestRecordedDigestIsTheStoredOnes(t *testing.T) {
	token := "/var/run/secrets/kubernetes.io/serviceaccount"
	for _, tc := range []struct {
		name   string
		pod    patch.Ops
		spec   sidecar.Spec
		stored patch.Ops // what the API server adds to the sidecar
	}{
		{"hostNetwork", patch.Ops{op("add", "/spec/hostNetwork", "true")},
			sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "p:1", Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001}}}},
			patch.Ops{op("add", "/spec/initContainers/0/ports/0/hostPort", "15001"), op("add", "/spec/initContainers/0/ports/0/protocol", `"TCP"`)}},
		{"own token volume", nil,
			sidecar.Spec{
				Container: corev1.Container{Name: "proxy", Image: "p:1", VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access-mesh", ReadOnly: true, MountPath: token}}},
				Volumes: []corev1.Volume{{Name: "kube-api-access-mesh", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}},
			},
			patch.Ops{op("add", "/spec/initContainers/0/terminationMessagePath", `"/dev/termination-log"`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := pod(t, "no-init")
			if tc.pod != nil {
				raw = apply(t, raw, tc.pod)
			}
			out, _, _ := injectRaw(t, raw, tc.spec, sidecar.Options{Mode: sidecar.Native}, native)
			converged(t, out, tc.spec, sidecar.Native)
			stored := apply(t, out, tc.stored)
			converged(t, stored, tc.spec, sidecar.Native)
			back := decode(t, uninjectRaw(t, stored))
			if len(back.Spec.InitContainers) != 0 {
				t.Errorf("Uninject left %v", names(back.Spec.InitContainers))
			}
		})
	}
}
