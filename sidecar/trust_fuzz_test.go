package sidecar_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/internal/fuzzgen"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// FuzzForgedRecord plays the Pod's author against a genuinely injected
// Pod: random edits of the sidecar (image, securityContext, command, env,
// mounts of the Pod's volumes, its removal) and of the record (digests
// replaced, containers, volumes, mounts and env claimed that the library
// never added). Then Inject either refuses, or its patch leaves exactly the
// Spec's sidecar (and a third Inject is empty), removes no container or
// volume the library did not add, and keeps every unknown field; and
// Uninject never removes an application container or one of the Pod's
// own volumes.
func FuzzForgedRecord(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25})
	f.Add([]byte("the author copies the record and brings a miner"))
	f.Add([]byte{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzgen.New(data)
		spec := fuzzgen.Spec(s)
		sp := genSidecar(s)
		mode := []sidecar.Mode{sidecar.Native, sidecar.Legacy, sidecar.Pinned}[s.Intn(3)]
		opts := sidecar.Options{Mode: mode}
		c := capabilities["native"]
		raw := fuzzgen.PlantUnknown(spec, &metav1.ObjectMeta{Name: "fuzz", Annotations: map[string]string{"a/b~c": "1"}})
		obj, err := patch.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		res, err := sidecar.Inject(obj.Meta, obj.Spec, sp, c, opts)
		if err != nil {
			return
		}
		ops, err := res.Mutation.JSONPatch(obj.Root)
		if err != nil {
			t.Fatal(err)
		}
		good := applyFuzz(t, raw, ops)
		genuine, err := patch.Decode(good)
		if err != nil {
			t.Fatal(err)
		}
		wantSide, list, at := findContainer(genuine.Spec, sp.Container.Name)
		if wantSide == nil {
			t.Fatalf("no sidecar after injection: %s", good)
		}
		forged := applyFuzz(t, good, tamper(t, s, genuine, list, at))
		fobj, err := patch.Decode(forged)
		if err != nil {
			t.Fatal(err)
		}
		// The application containers and volumes the author has now.
		apps := map[string]bool{}
		for _, ac := range fobj.Spec.Containers {
			if ac.Name != sp.Container.Name {
				apps[ac.Name] = true
			}
		}
		res2, err := sidecar.Inject(fobj.Meta, fobj.Spec, sp, c, opts)
		if err != nil {
			return // refused: fine
		}
		ops2, err := res2.Mutation.JSONPatch(fobj.Root)
		if err != nil {
			t.Fatal(err)
		}
		if err := patchtest.Verify(forged, ops2); err != nil {
			t.Fatalf("Verify: %v\nops: %s", err, mustJSON(t, ops2))
		}
		fixed := applyFuzz(t, forged, ops2)
		after, err := patch.Decode(fixed)
		if err != nil {
			t.Fatal(err)
		}
		got, _, _ := findContainer(after.Spec, sp.Container.Name)
		if got == nil {
			t.Fatalf("the sidecar is gone: ops %s", mustJSON(t, ops2))
		}
		if diff := cmp.Diff(wantSide, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("the author chose the sidecar (-spec +got):\n%s\nops: %s", diff, mustJSON(t, ops2))
		}
		for _, v := range obj.Spec.Volumes {
			if !hasVolume(after.Spec.Volumes, v.Name) {
				t.Fatalf("the Pod's own volume %q was removed: ops %s", v.Name, mustJSON(t, ops2))
			}
		}
		for n := range apps {
			if _, _, i := findContainer(after.Spec, n); i < 0 {
				t.Fatalf("container %q was removed: ops %s", n, mustJSON(t, ops2))
			}
		}
		typedMeta, typedSpec := res2.Mutation.Result()
		alive, _ := json.Marshal(&corev1.Pod{ObjectMeta: *typedMeta, Spec: *typedSpec})
		if lost, err := fuzzgen.Lost(forged, fixed, alive); err != nil || len(lost) > 0 {
			t.Fatalf("unknown fields lost: %v %v\nops: %s", lost, err, mustJSON(t, ops2))
		}
		third, err := sidecar.Inject(after.Meta, after.Spec, sp, c, opts)
		if err != nil || !third.Mutation.Empty() {
			ops3, _ := third.Mutation.JSONPatch(after.Root)
			t.Fatalf("not converged: %v %s", err, mustJSON(t, ops3))
		}
		// Uninject the forged Pod: it may refuse, but never removes the
		// author's containers or volumes.
		um, err := sidecar.Uninject(fobj.Meta, fobj.Spec, sp.Container.Name)
		if err != nil {
			return
		}
		uops, _ := um.JSONPatch(fobj.Root)
		back, err := patch.Decode(applyFuzz(t, forged, uops))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range obj.Spec.Volumes {
			if !hasVolume(back.Spec.Volumes, v.Name) {
				t.Fatalf("Uninject removed the Pod's own volume %q: ops %s", v.Name, mustJSON(t, uops))
			}
		}
		for n := range apps {
			if _, _, i := findContainer(back.Spec, n); i < 0 && !strings.HasPrefix(n, sp.Container.Name+"-") {
				t.Fatalf("Uninject removed container %q: ops %s", n, mustJSON(t, uops))
			}
		}
	})
}

// tamper returns the author's edits of a genuinely injected Pod whose
// sidecar is at index at of list.
func tamper(t *testing.T, s *fuzzgen.Source, p *patch.Object, list string, at int) patch.Ops {
	sc := "/spec/" + list + "/" + itoa(at)
	side := &p.Spec.InitContainers
	if list == "containers" {
		side = &p.Spec.Containers
	}
	var ops patch.Ops
	name := (*side)[at].Name
	var rec sidecar.Record
	if err := json.Unmarshal([]byte(p.Meta.Annotations[sidecar.Annotation(name)]), &rec); err != nil {
		t.Fatal(err)
	}
	forgeRecord := false
	for n := 1 + s.Intn(4); n > 0; n-- {
		switch s.Intn(10) {
		case 0:
			ops = append(ops, op("replace", sc+"/image", `"attacker.example/miner:1"`))
		case 1:
			ops = append(ops, op("add", sc+"/securityContext", `{"privileged":true,"runAsUser":0}`))
		case 2:
			ops = append(ops, op("add", sc+"/command", `["/bin/sh","-c","evil"]`))
		case 3:
			ops = append(ops, op("add", sc+"/env", `[{"name":"LD_PRELOAD","value":"/evil.so"}]`))
		case 4:
			if len(p.Spec.Volumes) > 0 {
				v := p.Spec.Volumes[s.Intn(len(p.Spec.Volumes))].Name
				ops = append(ops, op("add", sc+"/volumeMounts", `[{"name":`+quoteJSON(v)+`,"mountPath":"/stolen"}]`))
			}
		case 5:
			for k := range rec.InitContainers {
				rec.InitContainers[k] = "0123456789abcdef"
			}
			for k := range rec.Containers {
				rec.Containers[k] = "0123456789abcdef"
			}
			forgeRecord = true
		case 6:
			// Claim the Pod's own volumes and an app's env.
			if rec.Volumes == nil {
				rec.Volumes = map[string]string{}
			}
			for _, v := range p.Spec.Volumes {
				if _, ours := rec.Volumes[v.Name]; !ours {
					rec.Volumes[v.Name] = "fedcba9876543210"
				}
			}
			rec.AppEnv = map[string]string{"E0": "fedcba9876543210", "PATH": "0"}
			rec.AppMounts = map[string]string{"/data": "1"}
			forgeRecord = true
		case 7:
			// Claim a container of the sidecar's names that the author
			// added (a twin look-alike) with a digest that does not match.
			if rec.Containers == nil {
				rec.Containers = map[string]string{}
			}
			if _, ours := rec.InitContainers[name+"-x"]; !ours {
				rec.Containers[name+"-x"] = "0"
				ops = append(ops, op("add", "/spec/containers/-", `{"name":`+quoteJSON(name+"-x")+`,"image":"author:1"}`))
			}
			forgeRecord = true
		case 8:
			ops = append(ops, op("add", sc+"/args", `["--insecure"]`))
		case 9:
			ops = append(ops, op("replace", sc+"/name", quoteJSON(name)))
		}
	}
	if forgeRecord {
		b, _ := json.Marshal(rec)
		v, _ := json.Marshal(string(b))
		ops = append(ops, patch.Op{Op: "replace", Path: "/metadata/annotations/" + strings.ReplaceAll(sidecar.Annotation(name), "/", "~1"), Value: v})
	}
	if s.Intn(8) == 0 {
		// Finally the author removes the sidecar but keeps the record.
		ops = append(ops, op("remove", sc, ""))
	}
	return ops
}

func quoteJSON(s string) string { b, _ := json.Marshal(s); return string(b) }

// findContainer returns the container named name and where it is (list
// "initContainers" or "containers", and index; -1 when absent).
func findContainer(spec *corev1.PodSpec, name string) (*corev1.Container, string, int) {
	for i := range spec.InitContainers {
		if spec.InitContainers[i].Name == name {
			return &spec.InitContainers[i], "initContainers", i
		}
	}
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i], "containers", i
		}
	}
	return nil, "", -1
}

func hasVolume(l []corev1.Volume, name string) bool {
	for _, v := range l {
		if v.Name == name {
			return true
		}
	}
	return false
}
