package sidecar_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// migrateRaw runs Migrate on raw and returns the patched document.
func migrateRaw(t *testing.T, raw []byte, name string, to sidecar.Mode, p sidecar.Placement) ([]byte, patch.Ops) {
	t.Helper()
	obj := decode(t, raw)
	m, err := sidecar.Migrate(obj.Meta, obj.Spec, name, to, p)
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	ops, err := m.JSONPatch(obj.Root)
	if err != nil {
		t.Fatal(err)
	}
	out := raw
	if len(ops) > 0 {
		out = apply(t, raw, ops)
	}
	checkUnknownKept(t, raw, out)
	return out, ops
}

func readRecord(t *testing.T, raw []byte) sidecar.Record {
	t.Helper()
	obj := decode(t, raw)
	r, has, err := sidecar.ReadRecord(obj.Meta, "proxy")
	if err != nil || !has {
		t.Fatalf("ReadRecord: %v, %v", has, err)
	}
	return r
}

// A migrated sidecar stays verified: its record follows it to its new
// list with the digest of its new form, so that Uninject removes it and
// Inject in the new mode updates it silently; a sidecar the record did not
// verify stays unverified.
func TestMigrateRecordFollows(t *testing.T) {
	for _, tc := range []struct {
		from, to  sidecar.Mode
		list      string
		tampered  bool
		placement sidecar.Placement
		order     []string // the new list's names after the move
	}{
		{sidecar.Native, sidecar.Legacy, "containers", false, sidecar.Placement{}, []string{"proxy", "app", "worker"}},
		{sidecar.Legacy, sidecar.Native, "initContainers", false, sidecar.Placement{}, []string{"proxy", "setup", "migrate"}},
		{sidecar.Pinned, sidecar.Legacy, "containers", false, sidecar.Placement{Position: sidecar.Before, Name: "worker"}, []string{"app", "proxy", "worker"}},
		{sidecar.Legacy, sidecar.Native, "initContainers", false, sidecar.Placement{Position: sidecar.After, Name: "setup"}, []string{"setup", "proxy", "migrate"}},
		{sidecar.Native, sidecar.Legacy, "containers", true, sidecar.Placement{Position: sidecar.Last}, []string{"app", "worker", "proxy"}},
		{sidecar.Legacy, sidecar.Native, "initContainers", true, sidecar.Placement{}, []string{"proxy", "setup", "migrate"}},
	} {
		name := string(tc.from) + "-to-" + string(tc.to)
		if tc.tampered {
			name += "/tampered"
		}
		t.Run(name, func(t *testing.T) {
			raw, _, _ := injectRaw(t, pod(t, "several-init"), loadSpec(t, "full"), sidecar.Options{Mode: tc.from}, capabilities["native"])
			before := readRecord(t, raw)
			if tc.tampered {
				raw = apply(t, raw, patch.Ops{op("add", sidecarPath(tc.from)+"/command", `["/bin/sh"]`)})
			}
			moved, _ := migrateRaw(t, raw, "proxy", tc.to, tc.placement)
			rec := readRecord(t, moved)
			if rec.Mode != tc.to || rec.Reason != "requested" || rec.Spec != "" {
				t.Errorf("record mode %q, reason %q, spec %q; want %q, %q, none", rec.Mode, rec.Reason, rec.Spec, tc.to, "requested")
			}
			newList, oldList := rec.Containers, rec.InitContainers
			if tc.to == sidecar.Native {
				newList, oldList = rec.InitContainers, rec.Containers
			}
			if _, ok := oldList["proxy"]; ok || len(newList) != 1 || newList["proxy"] == "" {
				t.Errorf("record lists: initContainers %v, containers %v", rec.InitContainers, rec.Containers)
			}
			if !cmp.Equal(rec.Volumes, before.Volumes) || !cmp.Equal(rec.AppEnv, before.AppEnv) || rec.NodeRequirement != before.NodeRequirement {
				t.Errorf("the rest of the record changed: %+v, was %+v", rec, before)
			}
			after := decode(t, moved)
			l := after.Spec.Containers
			if tc.to == sidecar.Native {
				l = after.Spec.InitContainers
			}
			if got := names(l); !cmp.Equal(got, tc.order) {
				t.Errorf("%s = %v, want %v", tc.list, got, tc.order)
			}
			_, err := sidecar.Uninject(after.Meta, after.Spec, "proxy")
			if tc.tampered {
				if err == nil || !strings.Contains(err.Error(), "refusing to remove it") {
					t.Errorf("Uninject of a migrated sidecar the record did not verify: %v", err)
				}
			} else if err != nil {
				t.Errorf("Uninject of a migrated sidecar: %v", err)
			}
			// Inject in the new mode: a verified sidecar is updated silently
			// (its spec hash is gone), an unverified one is restored.
			_, _, res := injectRaw(t, moved, loadSpec(t, "full"), sidecar.Options{Mode: tc.to}, capabilities["native"])
			if got := hasWarning(res, "and was restored"); got != tc.tampered {
				t.Errorf("Inject after Migrate: warnings %q (tampered: %v)", res.Warnings, tc.tampered)
			}
		})
	}
}

// The record changes only when it records another mode than the target,
// and not for the universal pair (whose record is the planner's).
func TestMigrateLeavesOtherRecords(t *testing.T) {
	raw := pod(t, "legacy-sidecar")
	for _, tc := range []struct {
		name, record string
	}{
		{"unreadable", `{"v":1}`},
		{"universal", `{"v":2,"mode":"universal","containers":{"old-proxy":"1"}}`},
		{"another sidecar", ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := raw
			if tc.record != "" {
				v, _ := json.Marshal(tc.record)
				doc = apply(t, raw, patch.Ops{op("add", "/metadata/annotations/sidecar.sidecarkit.io~1old-proxy", string(v))})
			}
			_, ops := migrateRaw(t, doc, "old-proxy", sidecar.Native, sidecar.Placement{})
			for _, o := range ops {
				if strings.HasPrefix(o.Path, "/metadata") {
					t.Errorf("Migrate touches the metadata: %s %s", o.Op, o.Path)
				}
			}
			if len(ops) != 3 {
				t.Errorf("ops %s, want the move and restartPolicy", mustJSON(t, ops))
			}
		})
	}
}

// Each form Migrate can find the container in, for each target.
func TestMigrateForms(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	base := func() *corev1.PodSpec {
		return &corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "setup", Image: "s"}, {Name: "init-proxy", Image: "p"}},
			Containers:     []corev1.Container{{Name: "app", Image: "a"}, {Name: "old-proxy", Image: "p"}},
		}
	}
	for _, tc := range []struct {
		name, container string
		to              sidecar.Mode
		edit            func(s *corev1.PodSpec)
		ops, err        string
	}{
		{"an init container to native", "init-proxy", sidecar.Native, nil,
			`[{"op":"add","path":"/spec/initContainers/1/restartPolicy","value":"Always"}]`, ""},
		{"a native sidecar to native", "init-proxy", sidecar.Native, func(s *corev1.PodSpec) { s.InitContainers[1].RestartPolicy = &always }, `[]`, ""},
		{"a regular container to legacy", "old-proxy", sidecar.Legacy, nil, `[]`, ""},
		{"a native sidecar to legacy", "init-proxy", sidecar.Legacy, func(s *corev1.PodSpec) { s.InitContainers[1].RestartPolicy = &always },
			`[{"op":"remove","path":"/spec/initContainers/1/restartPolicy"},{"op":"move","from":"/spec/initContainers/1","path":"/spec/containers/0"}]`, ""},
		{"a regular container to native", "old-proxy", sidecar.Native, nil,
			`[{"op":"move","from":"/spec/containers/1","path":"/spec/initContainers/0"},{"op":"add","path":"/spec/initContainers/0/restartPolicy","value":"Always"}]`, ""},
		{"to pinned", "old-proxy", sidecar.Pinned, nil, "", `sidecar: migrate: mode "pinned": want "native" or "legacy"`},
		{"to auto", "old-proxy", sidecar.Auto, nil, "", `sidecar: migrate: mode "auto": want "native" or "legacy"`},
		{"missing", "nope", sidecar.Native, nil, "", `sidecar: migrate: no container named "nope" in spec.initContainers or spec.containers`},
		{"a name in both lists", "app", sidecar.Native, func(s *corev1.PodSpec) {
			s.InitContainers = append(s.InitContainers, corev1.Container{Name: "app", Image: "a"})
		},
			"", `sidecar: migrate "app" would make an invalid pod: spec.initContainers[3].name: Duplicate value: "app"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := base()
			if tc.edit != nil {
				tc.edit(spec)
			}
			m, err := sidecar.Migrate(nil, spec, tc.container, tc.to, sidecar.Placement{})
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Errorf("Migrate: %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ops, err := m.JSONPatch(patch.PodRoot)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(mustJSON(t, ops)); got != tc.ops && !(tc.ops == "[]" && len(ops) == 0) {
				t.Errorf("ops %s, want %s", got, tc.ops)
			}
		})
	}
	if _, err := sidecar.Migrate(nil, nil, "x", sidecar.Native, sidecar.Placement{}); err == nil || err.Error() != "sidecar: migrate: nil pod spec" {
		t.Errorf("Migrate(nil spec): %v", err)
	}
}
