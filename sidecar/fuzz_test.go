package sidecar_test

import (
	"encoding/json"
	"strconv"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sidecarkit/sidecarkit/internal/fuzzgen"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// genSidecar builds a random Spec, sometimes clashing with the pod's names
// or paths, so that refusals are exercised too.
func genSidecar(s *fuzzgen.Source) sidecar.Spec {
	names := []string{"proxy", "app0", "init0", "log-shipper"}
	sp := sidecar.Spec{Container: corev1.Container{Name: names[s.Intn(len(names))], Image: "sidecar:" + strconv.Itoa(s.Intn(3))}}
	if s.Bool() {
		sp.Container.Command = []string{"/sidecar"}
	}
	if s.Bool() {
		sp.Container.Ports = []corev1.ContainerPort{{Name: "side", ContainerPort: 15000 + int32(s.Intn(3))}}
	}
	if s.Bool() {
		sp.Container.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(15000)}}}
	}
	if s.Bool() {
		vol := []string{"sock", "vol0"}[s.Intn(2)]
		sp.Volumes = []corev1.Volume{{Name: vol, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		sp.Container.VolumeMounts = []corev1.VolumeMount{{Name: vol, MountPath: "/var/run/side"}}
		if s.Bool() {
			sp.AppMounts = []corev1.VolumeMount{{Name: vol, MountPath: []string{"/var/run/side", "/mnt/vol0"}[s.Intn(2)]}}
		}
	}
	if s.Bool() {
		sp.AppEnv = []corev1.EnvVar{{Name: []string{"SIDE", "E0"}[s.Intn(2)], Value: "1"}}
	}
	switch s.Intn(4) {
	case 1:
		sp.Placement = sidecar.Placement{Position: sidecar.Last}
	case 2:
		sp.Placement = sidecar.Placement{Position: sidecar.Before, Name: "init" + strconv.Itoa(s.Intn(3))}
	case 3:
		sp.Placement = sidecar.Placement{Position: sidecar.After, Name: "init" + strconv.Itoa(s.Intn(3))}
	}
	return sp
}

var fuzzModes = []sidecar.Mode{sidecar.Auto, sidecar.Native, sidecar.Legacy, sidecar.Pinned}
var fuzzCaps = []string{"native", "strips", "rejects", "drops", "unknown"}

// FuzzInject: a random Pod plus a random Spec → Inject never panics; when it
// succeeds, the JSON patch applies to the raw Pod (which carries unknown
// fields at every level), the result passes ValidatePod, unknown fields
// stay in their own elements, injecting again yields an empty mutation, and
// Uninject gives the original spec back.
func FuzzInject(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add([]byte("a sidecar placed after init1"))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzgen.New(data)
		spec := fuzzgen.Spec(s)
		sp := genSidecar(s)
		mode := fuzzModes[s.Intn(len(fuzzModes))]
		capName := fuzzCaps[s.Intn(len(fuzzCaps))]
		opts := sidecar.Options{Mode: mode, AllowPinned: s.Bool()}
		raw := fuzzgen.PlantUnknown(spec, &metav1.ObjectMeta{Name: "fuzz", Annotations: map[string]string{"a/b~c": "1"}})
		obj, err := patch.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		res, err := sidecar.Inject(obj.Meta, obj.Spec, sp, capabilities[capName], opts)
		in, ierr := sidecar.NewInjector(sp)
		if ierr == nil {
			checkInjector(t, in, obj, capabilities[capName], opts, res, err)
		}
		if err != nil {
			return // refusing is fine; panicking is not
		}
		ops, err := res.Mutation.JSONPatch(obj.Root)
		if err != nil {
			t.Fatal(err)
		}
		if err := patchtest.Verify(raw, ops); err != nil {
			t.Fatalf("Verify: %v\nops: %s", err, mustJSON(t, ops))
		}
		out := applyFuzz(t, raw, ops)
		after, err := patch.Decode(out)
		if err != nil {
			t.Fatal(err)
		}
		if errs := sidecar.ValidatePod(after.Spec); len(errs) > 0 {
			t.Fatalf("the injected pod is invalid: %v\nops: %s", errs.ToAggregate(), mustJSON(t, ops))
		}
		typedMeta, typedSpec := res.Mutation.Result()
		if diff := cmp.Diff(typedSpec, after.Spec, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("patched spec differs from the typed result (-typed +patched):\n%s", diff)
		}
		alive, _ := json.Marshal(&corev1.Pod{ObjectMeta: *typedMeta, Spec: *typedSpec})
		lost, err := fuzzgen.Lost(raw, out, alive)
		if err != nil {
			t.Fatal(err)
		}
		if len(lost) > 0 {
			t.Fatalf("unknown fields lost: %v\nops: %s", lost, mustJSON(t, ops))
		}
		again, err := sidecar.Inject(after.Meta, after.Spec, sp, capabilities[capName], opts)
		if err != nil {
			t.Fatalf("inject again: %v", err)
		}
		checkInjector(t, in, after, capabilities[capName], opts, again, err) // reuses the compiled plan
		if !again.Mutation.Empty() {
			ops2, _ := again.Mutation.JSONPatch(after.Root)
			t.Fatalf("inject again is not empty: %s", mustJSON(t, ops2))
		}
		um, err := sidecar.Uninject(after.Meta, after.Spec, sp.Container.Name)
		if err != nil {
			t.Fatalf("uninject: %v", err)
		}
		uops, _ := um.JSONPatch(after.Root)
		if err := patchtest.Verify(out, uops); err != nil {
			t.Fatalf("Verify uninject: %v\nops: %s", err, mustJSON(t, uops))
		}
		back, err := patch.Decode(applyFuzz(t, out, uops))
		if err != nil {
			t.Fatal(err)
		}
		if a := back.Spec.Affinity; a != nil && obj.Spec.Affinity == nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
			back.Spec.Affinity = nil
		}
		if diff := cmp.Diff(obj.Spec, back.Spec, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("inject + uninject (-original +got):\n%s", diff)
		}
	})
}

func applyFuzz(t *testing.T, doc []byte, ops patch.Ops) []byte {
	t.Helper()
	p, err := jsonpatch.DecodePatch(mustJSON(t, ops))
	if err != nil {
		t.Fatal(err)
	}
	o := jsonpatch.NewApplyOptions()
	o.SupportNegativeIndices = false
	out, err := p.ApplyWithOptions(doc, o)
	if err != nil {
		t.Fatalf("apply %s: %v", mustJSON(t, ops), err)
	}
	return out
}
