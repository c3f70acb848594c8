package sidecar_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/optioncases"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// The reconciler's rules (docs/injection-record.md), each on a raw Pod
// with fields the API types do not know: what the library added and can
// verify is updated or removed, what it cannot verify stays (with a
// warning), and every unknown field survives.

var native = capabilities["native"]

// withCommand is the "full" Spec with a command, as the universal pair's
// handshake needs.
func withCommand(t *testing.T) sidecar.Spec {
	return fullWith(t, func(s *sidecar.Spec) { s.Container.Command = []string{"/proxy"} })
}

// fullWith returns the "full" Spec changed by edit.
func fullWith(t *testing.T, edit func(s *sidecar.Spec)) sidecar.Spec {
	t.Helper()
	s := loadSpec(t, "full")
	if edit != nil {
		edit(&s)
	}
	return s
}

// converged checks that injecting s again into raw changes nothing.
func converged(t *testing.T, raw []byte, s sidecar.Spec, mode sidecar.Mode) {
	t.Helper()
	obj := decode(t, raw)
	res, err := sidecar.Inject(obj.Meta, obj.Spec, s, native, sidecar.Options{Mode: mode})
	if err != nil {
		t.Fatalf("Inject again: %v", err)
	}
	if !res.Mutation.Empty() || res.Skipped != sidecar.SkipAlreadyInjected {
		ops, _ := res.Mutation.JSONPatch(obj.Root)
		t.Errorf("Inject again is not empty: skipped %q, ops %s", res.Skipped, mustJSON(t, ops))
	}
	if want := `sidecar "proxy" is already injected (` + string(mode) + ` mode)`; res.Reason != want {
		t.Errorf("Inject again: reason %q, want %q", res.Reason, want)
	}
	for _, w := range res.Warnings {
		if w.Code != compat.CodeSpecNotApplied || !strings.HasPrefix(w.Message, "placement ") { // a placement by a missing name warns on every call
			t.Errorf("Inject again warns: %q", w)
		}
	}
}

// injectErr runs Inject on raw and returns its error.
func injectErr(t *testing.T, raw []byte, s sidecar.Spec, mode sidecar.Mode) error {
	t.Helper()
	obj := decode(t, raw)
	_, err := sidecar.Inject(obj.Meta, obj.Spec, s, native, sidecar.Options{Mode: mode})
	return err
}

// uninjectRaw runs Uninject on raw and returns the patched document.
func uninjectRaw(t *testing.T, raw []byte) []byte {
	t.Helper()
	obj := decode(t, raw)
	m, err := sidecar.Uninject(obj.Meta, obj.Spec, "proxy")
	if err != nil {
		t.Fatalf("Uninject: %v", err)
	}
	ops, err := m.JSONPatch(obj.Root)
	if err != nil {
		t.Fatal(err)
	}
	out := apply(t, raw, ops)
	checkUnknownKept(t, raw, out)
	return out
}

func findVolume(l []corev1.Volume, name string) *corev1.Volume {
	for i := range l {
		if l[i].Name == name {
			return &l[i]
		}
	}
	return nil
}

func findMount(l []corev1.VolumeMount, path string) *corev1.VolumeMount {
	for i := range l {
		if l[i].MountPath == path {
			return &l[i]
		}
	}
	return nil
}

func findEnv(l []corev1.EnvVar, name string) *corev1.EnvVar {
	for i := range l {
		if l[i].Name == name {
			return &l[i]
		}
	}
	return nil
}

// opsTouching returns the ops whose path starts with prefix.
func opsTouching(ops patch.Ops, prefix string) patch.Ops {
	var out patch.Ops
	for _, o := range ops {
		if strings.HasPrefix(o.Path, prefix) || strings.HasPrefix(o.From, prefix) {
			out = append(out, o)
		}
	}
	return out
}

// A volume of the Spec's that the Pod's author wrote identically is the
// author's: it is used, not recorded, and Uninject leaves it.
func TestAuthorsIdenticalVolume(t *testing.T) {
	raw := apply(t, pod(t, "no-init"), patch.Ops{op("add", "/spec/volumes/-", `{"name":"proxy-socket","emptyDir":{"medium":"Memory"},"x-author":1}`)})
	injected, ops, _ := injectRaw(t, raw, loadSpec(t, "full"), sidecar.Options{Mode: sidecar.Native}, native)
	if o := opsTouching(ops, "/spec/volumes"); len(o) > 0 {
		t.Errorf("the author's identical volume is edited: %s", mustJSON(t, o))
	}
	if rec := readRecord(t, injected); len(rec.Volumes) != 0 {
		t.Errorf("the record claims the author's volume: %v", rec.Volumes)
	}
	checkUnknownKept(t, raw, injected)
	converged(t, injected, loadSpec(t, "full"), sidecar.Native)
	back := decode(t, uninjectRaw(t, injected))
	if findVolume(back.Spec.Volumes, "proxy-socket") == nil {
		t.Errorf("Uninject removed the author's volume: %v", volumeNames(back.Spec.Volumes))
	}
}

// The Spec's volume, claimed by the record, is restored when it differs:
// silently when it is an older version of the Spec's (its digest is the
// record's), with a warning otherwise; in place, keeping unknown fields.
func TestClaimedVolumeRestored(t *testing.T) {
	raw, _ := injected(t, "no-init", sidecar.Native)
	raw = apply(t, raw, patch.Ops{op("add", "/spec/volumes/1/x-other", `"keep"`)})
	sized := fullWith(t, func(s *sidecar.Spec) {
		q := resource.MustParse("16Mi")
		s.Volumes[0].EmptyDir.SizeLimit = &q
	})
	for _, tc := range []struct {
		name   string
		tamper patch.Ops
		spec   sidecar.Spec
		warn   bool
		want   corev1.VolumeSource
	}{
		{"tampered", patch.Ops{op("replace", "/spec/volumes/1/emptyDir", `{}`)}, loadSpec(t, "full"), true,
			corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		{"made a hostPath", patch.Ops{op("remove", "/spec/volumes/1/emptyDir", ""), op("add", "/spec/volumes/1/hostPath", `{"path":"/"}`)}, loadSpec(t, "full"), true,
			corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		{"a new Spec", nil, sized, false, sized.Volumes[0].VolumeSource},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := raw
			if tc.tamper != nil {
				doc = apply(t, raw, tc.tamper)
			}
			fixed, ops, res := injectRaw(t, doc, tc.spec, sidecar.Options{Mode: sidecar.Native}, native)
			const warning = `spec.volumes[1]: volume "proxy-socket" differed from sidecar "proxy"'s spec and was restored to it`
			if got := hasWarning(res, warning); got != tc.warn {
				t.Errorf("warnings %q; want the restore warning: %v", res.Warnings, tc.warn)
			}
			for _, o := range ops {
				if o.Path == "/spec/volumes/1" {
					t.Errorf("the volume is replaced whole: %s", mustJSON(t, o))
				}
			}
			v := findVolume(decode(t, fixed).Spec.Volumes, "proxy-socket")
			if v == nil || !cmp.Equal(v.VolumeSource, tc.want) {
				t.Errorf("volume after Inject: %+v, want %+v", v, tc.want)
			}
			if !strings.Contains(string(fixed), `"x-other":"keep"`) {
				t.Error("the restore lost the volume's unknown field")
			}
			rec := readRecord(t, fixed)
			if rec.Volumes["proxy-socket"] == "" || rec.Volumes["proxy-socket"] == readRecord(t, raw).Volumes["proxy-socket"] && tc.spec.Volumes[0].EmptyDir.SizeLimit != nil {
				t.Errorf("record volumes %v", rec.Volumes)
			}
			converged(t, fixed, tc.spec, sidecar.Native)
		})
	}
}

// A volume the Spec dropped goes when the record verifies it and nothing
// mounts it; otherwise it stays, with a warning that says why.
func TestStaleVolume(t *testing.T) {
	raw, _ := injected(t, "several-init", sidecar.Native)
	// v2 keeps the sidecar's mount of another volume and drops
	// proxy-socket with everything that uses it.
	v2 := fullWith(t, func(s *sidecar.Spec) {
		s.Volumes = []corev1.Volume{{Name: "proxy-config", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		s.Container.VolumeMounts = []corev1.VolumeMount{{Name: "proxy-config", MountPath: "/etc/proxy"}}
		s.AppMounts = nil
	})
	for _, tc := range []struct {
		name   string
		tamper patch.Ops
		kept   bool
		warn   string
	}{
		{"verified and unused", nil, false, ""},
		{"still mounted by the author", patch.Ops{op("add", "/spec/containers/1/volumeMounts/-", `{"name":"proxy-socket","mountPath":"/mine"}`)}, true,
			`spec.volumes[1]: volume "proxy-socket" is left in place: spec.containers[1].volumeMounts[1] mounts it`},
		{"mounted by an init container", patch.Ops{op("add", "/spec/initContainers/1/volumeMounts", `[{"name":"proxy-socket","mountPath":"/mine"}]`)}, true,
			`spec.volumes[1]: volume "proxy-socket" is left in place: spec.initContainers[1].volumeMounts[0] mounts it`},
		{"changed by the author", patch.Ops{op("replace", "/spec/volumes/1/emptyDir", `{}`)}, true,
			`spec.volumes[1]: volume "proxy-socket" is left in place: its content differs from what the record of sidecar "proxy" says was injected`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := raw
			if tc.tamper != nil {
				doc = apply(t, raw, tc.tamper)
			}
			fixed, _, res := injectRaw(t, doc, v2, sidecar.Options{Mode: sidecar.Native}, native)
			after := decode(t, fixed)
			if got := findVolume(after.Spec.Volumes, "proxy-socket") != nil; got != tc.kept {
				t.Errorf("volume kept: %v, want %v (volumes %s)", got, tc.kept, volumeNames(after.Spec.Volumes))
			}
			if tc.warn != "" && !hasWarning(res, tc.warn) {
				t.Errorf("warnings %q lack %q", res.Warnings, tc.warn)
			}
			if tc.warn == "" && len(res.Warnings) > 0 {
				t.Errorf("warnings %q, want none", res.Warnings)
			}
			if findVolume(after.Spec.Volumes, "proxy-config") == nil || findVolume(after.Spec.Volumes, "data") == nil {
				t.Errorf("volumes %s", volumeNames(after.Spec.Volumes))
			}
			if _, ok := readRecord(t, fixed).Volumes["proxy-socket"]; ok {
				t.Error("the record still claims the dropped volume")
			}
			if errs := sidecar.ValidatePod(after.Spec); len(errs) > 0 {
				t.Errorf("invalid pod: %v", errs.ToAggregate())
			}
			converged(t, fixed, v2, sidecar.Native)
		})
	}
}

// What application containers got is brought up to a new Spec where the
// record verifies it, and left to the author (with a warning) where the
// author changed it.
func TestAppItemsUpdated(t *testing.T) {
	raw, _ := injected(t, "several-init", sidecar.Native)
	v2 := fullWith(t, func(s *sidecar.Spec) {
		s.AppMounts[0].ReadOnly = false
		s.AppMounts[0].SubPath = "sock"
		s.AppEnv[0].Value = "/var/run/proxy/v2.sock"
	})
	// Verified: both app containers are updated, in place, silently.
	fixed, ops, res := injectRaw(t, raw, v2, sidecar.Options{Mode: sidecar.Native}, native)
	if len(res.Warnings) > 0 {
		t.Errorf("warnings %q, want none", res.Warnings)
	}
	after := decode(t, fixed)
	for _, c := range after.Spec.Containers {
		if m := findMount(c.VolumeMounts, "/var/run/proxy"); m == nil || !cmp.Equal(*m, v2.AppMounts[0]) {
			t.Errorf("%s: mount %+v, want %+v", c.Name, m, v2.AppMounts[0])
		}
		if e := findEnv(c.Env, "PROXY_SOCKET"); e == nil || e.Value != "/var/run/proxy/v2.sock" {
			t.Errorf("%s: env %+v", c.Name, e)
		}
	}
	for _, o := range ops {
		if strings.HasSuffix(o.Path, "/-") || strings.HasSuffix(o.Path, "/volumeMounts/1") || strings.HasSuffix(o.Path, "/env/1") {
			t.Errorf("an update replaces or appends a whole element: %s", mustJSON(t, o))
		}
	}
	converged(t, fixed, v2, sidecar.Native)

	// The author changed app's mount and env: theirs now; worker's are
	// still the injection's and follow the Spec.
	mine := apply(t, raw, patch.Ops{
		op("replace", "/spec/containers/0/volumeMounts/1/mountPropagation", ""),
		op("replace", appEnvPath(t, raw, "PROXY_SOCKET")+"/value", `"/mine.sock"`),
	}[1:])
	mine = apply(t, mine, patch.Ops{op("add", "/spec/containers/0/volumeMounts/1/subPath", `"mine"`)})
	fixed, _, res = injectRaw(t, mine, v2, sidecar.Options{Mode: sidecar.Native}, native)
	for _, w := range []string{
		`spec.containers[0].volumeMounts[1]: container "app" mounts volume "proxy-socket" at /var/run/proxy itself; its mount is kept`,
		`spec.containers[0].env[1]: container "app" sets PROXY_SOCKET itself; its value is kept`,
	} {
		if !hasWarning(res, w) {
			t.Errorf("warnings %q lack %q", res.Warnings, w)
		}
	}
	after = decode(t, fixed)
	app, worker := after.Spec.Containers[0], after.Spec.Containers[1]
	if m := findMount(app.VolumeMounts, "/var/run/proxy"); m == nil || m.SubPath != "mine" || !m.ReadOnly {
		t.Errorf("app's own mount changed: %+v", m)
	}
	if e := findEnv(app.Env, "PROXY_SOCKET"); e == nil || e.Value != "/mine.sock" {
		t.Errorf("app's own env changed: %+v", e)
	}
	if m := findMount(worker.VolumeMounts, "/var/run/proxy"); m == nil || !cmp.Equal(*m, v2.AppMounts[0]) {
		t.Errorf("worker's mount %+v, want %+v", m, v2.AppMounts[0])
	}
	if e := findEnv(worker.Env, "PROXY_SOCKET"); e == nil || e.Value != "/var/run/proxy/v2.sock" {
		t.Errorf("worker's env %+v", e)
	}
	checkUnknownKept(t, mine, fixed)
}

// Mounts and env a new Spec dropped are removed where the record verifies
// them, from every application container, and kept where the author
// changed them.
func TestStaleAppItems(t *testing.T) {
	raw, _ := injected(t, "several-init", sidecar.Native)
	v2 := fullWith(t, func(s *sidecar.Spec) {
		s.AppMounts[0].MountPath = "/run/proxy"
		s.AppEnv = []corev1.EnvVar{{Name: "PROXY_ADDR", Value: "unix:///run/proxy/proxy.sock"}}
	})
	mine := apply(t, raw, patch.Ops{op("replace", appEnvPath(t, raw, "PROXY_SOCKET")+"/value", `"/mine.sock"`)})
	fixed, _, _ := injectRaw(t, mine, v2, sidecar.Options{Mode: sidecar.Native}, native)
	after := decode(t, fixed)
	for i, c := range after.Spec.Containers {
		if findMount(c.VolumeMounts, "/var/run/proxy") != nil || findMount(c.VolumeMounts, "/run/proxy") == nil || findMount(c.VolumeMounts, "/data") == nil {
			t.Errorf("%s: mounts %+v", c.Name, c.VolumeMounts)
		}
		if findEnv(c.Env, "PROXY_ADDR") == nil || findEnv(c.Env, "MODE") == nil {
			t.Errorf("%s: env %+v", c.Name, c.Env)
		}
		if got, want := findEnv(c.Env, "PROXY_SOCKET") != nil, i == 0; got != want {
			t.Errorf("%s: PROXY_SOCKET kept %v, want %v (only the author's)", c.Name, got, want)
		}
	}
	rec := readRecord(t, fixed)
	if _, ok := rec.AppEnv["PROXY_SOCKET"]; ok || len(rec.AppMounts) != 1 || rec.AppMounts["/run/proxy"] == "" {
		t.Errorf("record app items %v %v", rec.AppMounts, rec.AppEnv)
	}
	checkUnknownKept(t, mine, fixed)
	converged(t, fixed, v2, sidecar.Native)
}

// A record naming containers the plan no longer has: removed when the
// record verifies them (after a change from the universal pair to native),
// left with a warning when it does not.
func TestStaleContainers(t *testing.T) {
	u := sidecar.Options{Mode: sidecar.Universal, Universal: optioncases.Planner()}
	pair, _, _ := injectRaw(t, pod(t, "several-init"), withCommand(t), u, native)
	legacy := -1
	for i, c := range decode(t, pair).Spec.Containers {
		if c.Name == "proxy-legacy" {
			legacy = i
		}
	}
	if legacy < 0 {
		t.Fatalf("no legacy twin in %s", pair)
	}
	for _, tc := range []struct {
		name   string
		tamper patch.Ops
		kept   bool
	}{
		{"verified", nil, false},
		{"changed", patch.Ops{op("add", "/spec/containers/"+itoa(legacy)+"/workingDir", `"/tmp"`)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := pair
			if tc.tamper != nil {
				doc = apply(t, pair, tc.tamper)
			}
			fixed, _, res := injectRaw(t, doc, withCommand(t), sidecar.Options{Mode: sidecar.Native}, native)
			after := decode(t, fixed)
			twin := -1
			for i, c := range after.Spec.Containers {
				if c.Name == "proxy-legacy" {
					twin = i
				}
			}
			if got := twin >= 0; got != tc.kept {
				t.Fatalf("legacy twin kept: %v, want %v (containers %v)", got, tc.kept, names(after.Spec.Containers))
			}
			warn := `: container "proxy-legacy" is left in place: its content differs from what the record of sidecar "proxy" says was injected`
			if got := hasWarning(res, "spec.containers["+itoa(legacy)+"]"+warn); got != tc.kept {
				t.Errorf("warnings %q: the left-in-place warning %v, want %v", res.Warnings, got, tc.kept)
			}
			// The application containers keep the injection's mount and
			// env var. (A twin left in place is no longer the sidecar's:
			// it is treated as the author's.)
			for _, c := range after.Spec.Containers {
				if c.Name == "proxy-legacy" {
					continue
				}
				if findMount(c.VolumeMounts, "/var/run/proxy") == nil || findEnv(c.Env, "PROXY_SOCKET") == nil {
					t.Errorf("%s lost the injection's mount or env: %+v", c.Name, c)
				}
			}
			if got := findVolume(after.Spec.Volumes, "proxy-handshake") != nil; got != tc.kept {
				t.Errorf("handshake volume kept %v, want %v", got, tc.kept)
			}
			rec := readRecord(t, fixed)
			if rec.Mode != sidecar.Native || len(rec.Containers) != 0 || rec.InitContainers["proxy"] == "" {
				t.Errorf("record %+v", rec)
			}
			checkUnknownKept(t, doc, fixed)
			if errs := sidecar.ValidatePod(after.Spec); len(errs) > 0 {
				t.Errorf("invalid pod: %v", errs.ToAggregate())
			}
		})
	}
}

// A pod with two containers of one name is invalid, and may be hostile:
// whatever the injection needs to do to application containers (add,
// update or remove mounts and env, each addressed by the container's
// name), Inject refuses it with the API server's error, never a wrong
// patch; an injection that leaves them alone does not judge them.
func TestDuplicateAppNames(t *testing.T) {
	twice := func(t *testing.T, raw []byte) []byte {
		var doc map[string]interface{}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		spec := doc["spec"].(map[string]interface{})
		cs := spec["containers"].([]interface{})
		second := map[string]interface{}{}
		for k, v := range cs[0].(map[string]interface{}) {
			second[k] = v
		}
		second["image"] = "other:1"
		spec["containers"] = append(cs, second)
		b, _ := json.Marshal(doc)
		return b
	}
	raw, _ := injected(t, "no-init", sidecar.Native)
	noMounts := fullWith(t, func(s *sidecar.Spec) { s.AppMounts = nil })
	noEnv := fullWith(t, func(s *sidecar.Spec) { s.AppEnv = nil })
	neither := fullWith(t, func(s *sidecar.Spec) { s.AppMounts, s.AppEnv = nil, nil })
	mountsOnly, _, _ := injectRaw(t, pod(t, "no-init"), noEnv, sidecar.Options{Mode: sidecar.Native}, native)
	envOnly, _, _ := injectRaw(t, pod(t, "no-init"), noMounts, sidecar.Options{Mode: sidecar.Native}, native)
	const dup = `sidecar: inject: spec.containers[1].name: Duplicate value: "app"`
	for _, tc := range []struct {
		name string
		doc  []byte
		spec sidecar.Spec
		want string
	}{
		{"a mount to add", twice(t, pod(t, "no-init")), loadSpec(t, "full"), dup},
		{"an env var to add", twice(t, pod(t, "no-init")), noMounts, dup},
		{"a mount to remove", twice(t, raw), noMounts, dup},
		{"an env var to remove", twice(t, raw), noEnv, dup},
		{"a mount and an env var to update", twice(t, raw), fullWith(t, func(s *sidecar.Spec) {
			s.AppMounts[0].ReadOnly = false
			s.AppEnv[0].Value = "/v2.sock"
		}), dup},
		{"nothing to change", twice(t, raw), loadSpec(t, "full"), dup},
		{"only mounts to remove", twice(t, mountsOnly), neither, dup},
		{"only env to remove", twice(t, envOnly), neither, dup},
		{"no app items: app containers are left alone", twice(t, pod(t, "no-init")), neither, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := injectErr(t, tc.doc, tc.spec, sidecar.Native)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
				t.Errorf("Inject: %v, want %q", err, tc.want)
			}
		})
	}
	// Uninject refuses what it cannot remove from the second container.
	obj := decode(t, twice(t, raw))
	if _, err := sidecar.Uninject(obj.Meta, obj.Spec, "proxy"); err == nil || !strings.HasPrefix(err.Error(), "sidecar: uninject: patch: remove from volumeMounts: ") {
		t.Errorf("Uninject: %v", err)
	}
}

// A restore names every field that differed, whichever side has it.
func TestRestoreNamesTheFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper patch.Ops
		fields string
	}{
		{"a field removed", patch.Ops{op("remove", "/spec/initContainers/0/args", "")}, "(args)"},
		{"fields added and removed", patch.Ops{op("remove", "/spec/initContainers/0/args", ""), op("add", "/spec/initContainers/0/workingDir", `"/"`), op("add", "/spec/initContainers/0/tty", `true`)}, "(args, tty, workingDir)"},
		// Resources are not part of the digest (an older Spec may have set
		// others): restored silently.
		{"a resource the spec sets", patch.Ops{op("replace", "/spec/initContainers/0/resources/limits/memory", `"1Gi"`)}, ""},
		{"the pull policy the spec leaves unset", patch.Ops{op("add", "/spec/initContainers/0/imagePullPolicy", `"Never"`)}, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := injected(t, "no-init", sidecar.Native)
			forged := apply(t, raw, tc.tamper)
			obj := decode(t, forged)
			res, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "full"), native, sidecar.Options{Mode: sidecar.Native})
			if err != nil {
				t.Fatal(err)
			}
			want := `spec.initContainers[0]: container "proxy" differed from sidecar "proxy"'s spec ` + tc.fields + ` and was restored to it`
			switch tc.fields {
			case "-":
				if !res.Mutation.Empty() || len(res.Warnings) > 0 {
					t.Errorf("an imagePullPolicy the spec leaves unset is a difference: warnings %q", res.Warnings)
				}
				return
			case "":
				if len(res.Warnings) > 0 || res.Mutation.Empty() {
					t.Errorf("warnings %q, empty %v; want a silent restore", res.Warnings, res.Mutation.Empty())
				}
			default:
				if !hasWarning(res, want) {
					t.Errorf("warnings %q lack %q", res.Warnings, want)
				}
			}
			ops, _ := res.Mutation.JSONPatch(obj.Root)
			wantSidecar(t, apply(t, forged, ops), sidecar.Native)
		})
	}
}

// A stored Pod whose sidecar is exactly the Spec's is recognised even
// when the record's digest is not its own: no restore, no warning; only
// the record is brought up to date.
func TestAsSpecifiedDespiteRecord(t *testing.T) {
	raw, rec := injected(t, "several-init", sidecar.Native)
	stored := serverDefaults(t, raw, sidecar.Native)
	var r sidecar.Record
	if err := json.Unmarshal([]byte(rec), &r); err != nil {
		t.Fatal(err)
	}
	r.InitContainers["proxy"] = "0000000000000000"
	b, _ := json.Marshal(r)
	forged := apply(t, stored, patch.Ops{recordOp(t, string(b))})
	fixed, ops, res := injectRaw(t, forged, loadSpec(t, "full"), sidecar.Options{Mode: sidecar.Native}, native)
	if len(res.Warnings) > 0 {
		t.Errorf("warnings %q, want none", res.Warnings)
	}
	if len(ops) != 1 || ops[0].Path != "/metadata/annotations/sidecar.sidecarkit.io~1proxy" {
		t.Errorf("ops %s, want the record's update alone", mustJSON(t, ops))
	}
	if got := readRecord(t, fixed).InitContainers["proxy"]; got == "0000000000000000" || got == "" {
		t.Errorf("record digest %q", got)
	}
	converged(t, fixed, loadSpec(t, "full"), sidecar.Native)
}

// The record is rewritten when what it records changes, and only then: a
// record that lacks or adds an entry, or lists other resources, is
// brought up to date even when the pod needs nothing else.
func TestRecordRewritten(t *testing.T) {
	raw, rec := injected(t, "no-init", sidecar.Native)
	for _, tc := range []struct {
		name    string
		edit    func(r *sidecar.Record)
		rewrite bool
	}{
		{"reason only", func(r *sidecar.Record) { r.Reason = "all-native" }, false},
		{"an extra app env entry", func(r *sidecar.Record) { r.AppEnv["GONE"] = "0000000000000000" }, true},
		{"an app mount entry missing", func(r *sidecar.Record) { r.AppMounts = nil }, true},
		{"another spec hash", func(r *sidecar.Record) { r.Spec = "0" }, true},
		{"other resources", func(r *sidecar.Record) { r.Resources["proxy"] = []string{"limits/cpu"} }, true},
		{"no resources", func(r *sidecar.Record) { r.Resources = nil }, true},
		{"node requirement", func(r *sidecar.Record) { r.NodeRequirement = true }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r sidecar.Record
			if err := json.Unmarshal([]byte(rec), &r); err != nil {
				t.Fatal(err)
			}
			tc.edit(&r)
			b, _ := json.Marshal(r)
			forged := apply(t, raw, patch.Ops{recordOp(t, string(b))})
			fixed, ops, _ := injectRaw(t, forged, loadSpec(t, "full"), sidecar.Options{Mode: sidecar.Native}, native)
			if got := len(opsTouching(ops, "/metadata/annotations/sidecar.sidecarkit.io~1proxy")) > 0; got != tc.rewrite {
				t.Errorf("record rewritten: %v, want %v (ops %s)", got, tc.rewrite, mustJSON(t, ops))
			}
			if tc.rewrite {
				if got := readRecord(t, fixed); got.Spec != readRecord(t, raw).Spec || len(got.AppEnv) != 1 {
					t.Errorf("record %+v", got)
				}
			}
		})
	}
}

// Placement among the init containers, for each position.
func TestPlacement(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     sidecar.Placement
		mode  sidecar.Mode
		order []string
		warn  string
	}{
		{"first", sidecar.Placement{}, sidecar.Native, []string{"proxy", "setup", "migrate"}, ""},
		{"last", sidecar.Placement{Position: sidecar.Last}, sidecar.Native, []string{"setup", "migrate", "proxy"}, ""},
		{"before", sidecar.Placement{Position: sidecar.Before, Name: "migrate"}, sidecar.Native, []string{"setup", "proxy", "migrate"}, ""},
		{"after", sidecar.Placement{Position: sidecar.After, Name: "migrate"}, sidecar.Native, []string{"setup", "migrate", "proxy"}, ""},
		{"before a missing one", sidecar.Placement{Position: sidecar.Before, Name: "nope"}, sidecar.Native, []string{"proxy", "setup", "migrate"},
			`placement Before "nope": no such container in initContainers; placed first`},
		{"legacy, last", sidecar.Placement{Position: sidecar.Last}, sidecar.Legacy, []string{"app", "worker", "proxy"}, ""},
		{"legacy, before a regular one", sidecar.Placement{Position: sidecar.Before, Name: "worker"}, sidecar.Legacy, []string{"app", "proxy", "worker"}, ""},
		{"legacy, after a missing one", sidecar.Placement{Position: sidecar.After, Name: "nope"}, sidecar.Legacy, []string{"proxy", "app", "worker"},
			`placement After "nope": no such container in containers; placed first`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fullWith(t, func(s *sidecar.Spec) { s.Placement = tc.p })
			out, _, res := injectRaw(t, pod(t, "several-init"), s, sidecar.Options{Mode: tc.mode}, native)
			after := decode(t, out)
			l := after.Spec.InitContainers
			if tc.mode == sidecar.Legacy {
				l = after.Spec.Containers
			}
			if got := names(l); !cmp.Equal(got, tc.order) {
				t.Errorf("order %v, want %v", got, tc.order)
			}
			if tc.warn != "" && !hasWarning(res, tc.warn) || tc.warn == "" && len(res.Warnings) > 0 {
				t.Errorf("warnings %q, want %q", res.Warnings, tc.warn)
			}
			converged(t, out, s, tc.mode)
		})
	}
}

// A Job's pod warns of a legacy sidecar (which keeps it running), not of a
// native one nor of the universal pair (whose handshake ends it).
func TestJobWarning(t *testing.T) {
	const warn = "a legacy sidecar keeps the pod (and its Job) running"
	for _, tc := range []struct {
		pod  string
		o    sidecar.Options
		want bool
	}{
		{"job-never", sidecar.Options{Mode: sidecar.Legacy}, true},
		{"job-onfailure", sidecar.Options{Mode: sidecar.Legacy}, true},
		{"no-init", sidecar.Options{Mode: sidecar.Legacy}, false},
		{"job-never", sidecar.Options{Mode: sidecar.Native}, false},
		{"job-never", sidecar.Options{Mode: sidecar.Universal, Universal: optioncases.Planner()}, false},
	} {
		_, _, res := injectRaw(t, pod(t, tc.pod), withCommand(t), tc.o, native)
		if got := hasWarning(res, warn); got != tc.want {
			t.Errorf("%s %s: job warning %v, want %v (%q)", tc.pod, tc.o.Mode, got, tc.want, res.Warnings)
		}
	}
}

// The universal pair's own cost warning replaces compat's generic one.
func TestUniversalCostWarning(t *testing.T) {
	strips := compat.Capability{Kubelet: compat.KubeletStrips, APIServer: compat.APIServerStores}
	s := withCommand(t)
	obj := decode(t, pod(t, "no-init"))
	res, err := sidecar.Inject(obj.Meta, obj.Spec, s, strips, sidecar.Options{Universal: optioncases.Planner()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != sidecar.Universal {
		t.Fatalf("mode %s", res.Mode)
	}
	for _, w := range res.Warnings {
		if w == costWarning(t) {
			t.Errorf("Recommend's generic cost warning kept beside the planner's: %q", res.Warnings)
		}
	}
	if len(res.Warnings) == 0 {
		t.Error("no warning of the pair's cost")
	}
}

// A Result that injected nothing reports no resources.
func TestResourcesOfNothing(t *testing.T) {
	var r sidecar.Result
	if got := r.Resources(); got.Before.Requests != nil || got.After.Requests != nil || got.Before.Limits != nil {
		t.Errorf("Resources of a zero Result = %+v", got)
	}
}

// InjectObject names at most three unknown fields of a replaced sidecar.
func TestUnknownFieldsNamed(t *testing.T) {
	in, err := sidecar.NewInjector(loadSpec(t, "full"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := injected(t, "no-init", sidecar.Native)
	var ops patch.Ops
	for _, f := range []string{"fa", "fb", "fc", "fd"} {
		ops = append(ops, op("add", "/spec/initContainers/0/"+f, `1`))
	}
	for _, tc := range []struct {
		n    int
		want string
	}{
		{1, "(spec.initContainers[0].fa)"},
		{3, "(spec.initContainers[0].fa, spec.initContainers[0].fb, spec.initContainers[0].fc)"},
		{4, "(spec.initContainers[0].fa, spec.initContainers[0].fb, spec.initContainers[0].fc, ...)"},
	} {
		obj := decode(t, apply(t, raw, ops[:tc.n]))
		res, err := in.InjectObject(nil, obj, native, sidecar.Options{Mode: sidecar.Native})
		if err != nil {
			t.Fatal(err)
		}
		if !hasWarning(res, tc.want) {
			t.Errorf("%d fields: warnings %q lack %q", tc.n, res.Warnings, tc.want)
		}
	}
	if _, err := in.InjectObject(nil, nil, native, sidecar.Options{}); err == nil {
		t.Error("InjectObject(nil): no error")
	}
	if _, err := in.InjectObject(nil, &patch.Object{}, native, sidecar.Options{}); err == nil {
		t.Error("InjectObject without a spec: no error")
	}
}

// A plan with two volumes of one name (a Planner's mistake) is refused,
// naming the clash.
func TestPlanVolumeClash(t *testing.T) {
	v := corev1.Volume{Name: "proxy-handshake", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	p := planner{plan: sidecar.Plan{InitContainers: []corev1.Container{{Name: "proxy", Image: "p:1"}}, Volumes: []corev1.Volume{v, v}}}
	obj := decode(t, pod(t, "no-init"))
	_, err := sidecar.Inject(obj.Meta, obj.Spec, withCommand(t), native, sidecar.Options{Mode: sidecar.Universal, Universal: p})
	const want = `sidecar: inject: patch: add volume: spec.volumes[2].name: Duplicate value: "proxy-handshake": already used by spec.volumes[1]`
	if err == nil || err.Error() != want {
		t.Errorf("Inject: %v\nwant %s", err, want)
	}
}

// A forced universal pair keeps the capability's warnings beside the
// planner's.
func TestForcedUniversalWarnings(t *testing.T) {
	c := compat.Capability{Kubelet: compat.KubeletNative, APIServer: compat.APIServerUnknownField}
	obj := decode(t, pod(t, "no-init"))
	res, err := sidecar.Inject(obj.Meta, obj.Spec, withCommand(t), c, sidecar.Options{Mode: sidecar.Universal, Universal: optioncases.Planner()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) < 2 || res.Warnings[0].Code != compat.CodeAPIServerUnknownField || !strings.Contains(res.Warnings[0].Message, "does not know restartPolicy") {
		t.Errorf("warnings %q; want the API server's first, then the planner's", res.Warnings)
	}
}
