package sidecar_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// testdata/inject/stored holds a Pod as kube-apiserver v1.37.2 stored it
// after the library's webhook injected mesh.yaml natively: every default
// of the sidecar's elements filled in (imagePullPolicy, termination
// message, port protocols, probe and httpGet defaults, fieldRef
// apiVersions, volume modes, token expiration, hostPath type, requests
// from limits) and the ServiceAccount plugin's token volume mounted into
// every container, the sidecar's included. It was captured by the e2e
// test TestTrustRecognisedAfterStorage (native/token-v0.28) in
// e2e/injection/trust_test.go; testdata/inject/stored/README.md says how
// to capture it again.

const storedDir = "testdata/inject/stored"

// storedPod returns the stored Pod's JSON and the Spec it was injected
// with.
func storedPod(t *testing.T) ([]byte, sidecar.Spec) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(storedDir, "pod-native.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(storedDir, "mesh.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sidecar.LoadSpec(doc)
	if err != nil {
		t.Fatal(err)
	}
	return raw, s
}

// storedInject runs Inject on raw and returns the result, its JSON patch
// and the patched document.
func storedInject(t *testing.T, raw []byte, s sidecar.Spec) (sidecar.Result, patch.Ops, []byte) {
	t.Helper()
	obj, err := patch.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sidecar.Inject(obj.Meta, obj.Spec, s, compat.Capability{}, sidecar.Options{Mode: sidecar.Native})
	if err != nil {
		t.Fatalf("Inject: %v", err)
	}
	ops, err := res.Mutation.JSONPatch(obj.Root)
	if err != nil {
		t.Fatal(err)
	}
	return res, ops, storedApply(t, raw, ops)
}

func storedApply(t *testing.T, raw []byte, ops patch.Ops) []byte {
	t.Helper()
	if len(ops) == 0 {
		return raw
	}
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("apply %s: %v", b, err)
	}
	return out
}

func storedDecode(t *testing.T, raw []byte) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func storedSidecar(t *testing.T, p *corev1.Pod) *corev1.Container {
	t.Helper()
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == "mesh" {
			return &p.Spec.InitContainers[i]
		}
	}
	t.Fatalf("no init container mesh in %v", p.Spec.InitContainers)
	return nil
}

const saTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// TestStoredPod runs the library on a Pod as the API server stored it.
func TestStoredPod(t *testing.T) {
	raw, v1 := storedPod(t)
	stored := storedDecode(t, raw)
	if n := tokenMountsOf(storedSidecar(t, stored)); n != 1 {
		t.Fatalf("fixture: the stored sidecar has %d token mounts, want 1", n)
	}
	v2 := v1
	v2.Container = *v1.Container.DeepCopy()
	v2.Container.Image = "registry.invalid/mesh/agent:2.2"
	v2.Container.Env = append(v2.Container.Env, corev1.EnvVar{Name: "MESH_TRACE", Value: "on"})

	t.Run("recognised", func(t *testing.T) {
		res, ops, _ := storedInject(t, raw, v1)
		if res.Skipped != sidecar.SkipAlreadyInjected || len(ops) > 0 || len(res.Warnings) > 0 {
			t.Errorf("Inject with the same Spec: skipped %q, patch %s, warnings %q; want %q and nothing else", res.Skipped, storedJSON(t, ops), res.Warnings, sidecar.SkipAlreadyInjected)
		}
	})

	t.Run("update keeps defaults", func(t *testing.T) {
		res, ops, patched := storedInject(t, raw, v2)
		for _, op := range ops {
			if op.Op == "remove" {
				t.Errorf("the update from v1 to v2 removes %s: %s", op.Path, storedJSON(t, ops))
			}
		}
		for _, w := range res.Warnings {
			t.Errorf("updating the library's own sidecar warns: %q", w)
		}
		got := storedSidecar(t, storedDecode(t, patched))
		want := storedSidecar(t, stored).DeepCopy()
		want.Image = v2.Container.Image
		want.Env = append(want.Env, corev1.EnvVar{Name: "MESH_TRACE", Value: "on"})
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("updated sidecar (-the stored one with v2's image and env +updated):\n%s\npatch: %s", d, storedJSON(t, ops))
		}
		again, ops, _ := storedInject(t, patched, v2)
		if again.Skipped != sidecar.SkipAlreadyInjected {
			t.Errorf("Inject v2 on the updated pod: skipped %q, patch %s", again.Skipped, storedJSON(t, ops))
		}
	})

	t.Run("forged sidecar restored", func(t *testing.T) {
		forged := stored.DeepCopy()
		c := storedSidecar(t, forged)
		privileged := true
		c.Image = "registry.invalid/evil/agent:6.6.6"
		c.SecurityContext = &corev1.SecurityContext{Privileged: &privileged}
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "mesh-logs", MountPath: "/host"})
		res, ops, patched := storedInject(t, storedJSON(t, forged), v1)
		if len(res.Warnings) != 1 || !strings.Contains(text(res.Warnings[0]), "restored") {
			t.Errorf("warnings %q: want one saying the sidecar was restored", res.Warnings)
		}
		if d := cmp.Diff(storedSidecar(t, stored), storedSidecar(t, storedDecode(t, patched))); d != "" {
			t.Errorf("restored sidecar (-stored +restored):\n%s\npatch: %s", d, storedJSON(t, ops))
		}
	})

	t.Run("uninject", func(t *testing.T) {
		obj, err := patch.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		m, err := sidecar.Uninject(obj.Meta, obj.Spec, "mesh")
		if err != nil {
			t.Fatalf("Uninject: %v", err)
		}
		ops, err := m.JSONPatch(obj.Root)
		if err != nil {
			t.Fatal(err)
		}
		un := storedDecode(t, storedApply(t, raw, ops))
		if len(un.Spec.InitContainers) != 1 || un.Spec.InitContainers[0].Name != "setup" {
			t.Errorf("init containers after Uninject: %+v", un.Spec.InitContainers)
		}
		if len(un.Spec.Volumes) != 1 || !strings.HasPrefix(un.Spec.Volumes[0].Name, "kube-api-access-") {
			t.Errorf("volumes after Uninject: %s; want only the token volume", storedJSON(t, un.Spec.Volumes))
		}
		for _, l := range [][]corev1.Container{un.Spec.InitContainers, un.Spec.Containers} {
			for i := range l {
				if len(l[i].VolumeMounts) != 1 || l[i].VolumeMounts[0].MountPath != saTokenPath || len(l[i].Env) > 0 {
					t.Errorf("container %s after Uninject: mounts %s, env %s; want only the token mount", l[i].Name, storedJSON(t, l[i].VolumeMounts), storedJSON(t, l[i].Env))
				}
			}
		}
		if _, ok := un.Annotations[sidecar.Annotation("mesh")]; ok {
			t.Error("the record is left after Uninject")
		}
	})
}

func tokenMountsOf(c *corev1.Container) int {
	n := 0
	for _, m := range c.VolumeMounts {
		if m.MountPath == saTokenPath {
			n++
		}
	}
	return n
}

func storedJSON(t *testing.T, v interface{}) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
