package sidecar_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/internal/optioncases"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

const defaultKey = "kubectl.kubernetes.io/default-container"

// defaultPod is a Pod with two application containers, an unknown field in
// its metadata and, when ann is not nil, the default-container annotation
// set to *ann.
func defaultPod(t *testing.T, ann *string) []byte {
	t.Helper()
	meta := map[string]any{"name": "web", "x-future": 1}
	if ann != nil {
		meta["annotations"] = map[string]string{defaultKey: *ann, "other": "kept"}
	}
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta,
		"spec": map[string]any{"containers": []map[string]any{{"name": "app", "image": "app"}, {"name": "worker", "image": "w"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// annotations returns the default-container annotation of a raw Pod (and
// whether it has one) and its record's defaultContainer.
func annotations(t *testing.T, raw []byte) (string, bool, string) {
	t.Helper()
	obj := decode(t, raw)
	v, ok := obj.Meta.Annotations[defaultKey]
	rec, has, err := sidecar.ReadRecord(obj.Meta, "proxy")
	if err != nil {
		t.Fatal(err)
	}
	if !has {
		return v, ok, "<no record>"
	}
	return v, ok, rec.DefaultContainer
}

func strp(s string) *string { return &s }

// A sidecar first among the regular containers names the first application
// container as kubectl's default, unless the Pod names one; the record
// keeps what was set, a second injection changes nothing, and Uninject
// removes only a value still the recorded one.
func TestDefaultContainer(t *testing.T) {
	native := compat.Capability{APIServer: compat.APIServerStores, Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported}
	first := loadSpec(t, "plain") // placement First
	last := first
	last.Placement = sidecar.Placement{Position: sidecar.Last}
	for _, tc := range []struct {
		name      string
		ann       *string
		spec      sidecar.Spec
		mode      sidecar.Mode
		want      string // the annotation after injection; "" for none
		wantHas   bool
		recorded  string
		universal bool
	}{
		{name: "legacy first, no annotation", spec: first, mode: sidecar.Legacy, want: "app", wantHas: true, recorded: "app"},
		{name: "legacy first, empty annotation", ann: strp(""), spec: first, mode: sidecar.Legacy, want: "app", wantHas: true, recorded: "app"},
		{name: "legacy first, the Pod names its own", ann: strp("worker"), spec: first, mode: sidecar.Legacy, want: "worker", wantHas: true},
		{name: "legacy first, the Pod names the sidecar", ann: strp("proxy"), spec: first, mode: sidecar.Legacy, want: "proxy", wantHas: true},
		{name: "legacy last", spec: last, mode: sidecar.Legacy},
		{name: "native", spec: first, mode: sidecar.Native},
		{name: "pinned", spec: first, mode: sidecar.Pinned},
		{name: "universal: the legacy twin first", spec: withCommand(t), mode: sidecar.Universal, universal: true, want: "app", wantHas: true, recorded: "app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := sidecar.Options{Mode: tc.mode}
			if tc.universal {
				o.Universal = optioncases.Planner()
			}
			raw := defaultPod(t, tc.ann)
			injected, _, _ := injectRaw(t, raw, tc.spec, o, native)
			got, has, rec := annotations(t, injected)
			if got != tc.want || has != (tc.wantHas || tc.ann != nil) || rec != tc.recorded {
				t.Fatalf("annotation %q (present %v), recorded %q; want %q (present %v), %q", got, has, rec, tc.want, tc.wantHas || tc.ann != nil, tc.recorded)
			}
			if _, ops, res := injectRaw(t, injected, tc.spec, o, native); len(ops) != 0 || res.Skipped != sidecar.SkipAlreadyInjected {
				t.Errorf("a second injection: %d ops, skipped %q; want none, AlreadyInjected", len(ops), res.Skipped)
			}
			// An empty value, which names nothing, is not restored.
			un := uninjectRaw(t, injected)
			gotU, hasU, _ := annotations(t, un)
			if (tc.ann == nil || *tc.ann == "") && hasU || tc.ann != nil && *tc.ann != "" && (!hasU || gotU != *tc.ann) {
				t.Errorf("after Uninject: annotation %q (present %v); want the Pod's own (%v)", gotU, hasU, tc.ann)
			}
		})
	}
}

// A value someone changed after the injection is theirs: neither a mode
// change nor Uninject removes it. A value still the recorded one goes when
// the sidecar stops being first.
func TestDefaultContainerLifecycle(t *testing.T) {
	native := compat.Capability{APIServer: compat.APIServerStores, Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported}
	s := loadSpec(t, "plain")
	legacy, _, _ := injectRaw(t, defaultPod(t, nil), s, sidecar.Options{Mode: sidecar.Legacy}, native)

	toNative, _, _ := injectRaw(t, legacy, s, sidecar.Options{Mode: sidecar.Native}, native)
	if got, has, rec := annotations(t, toNative); has || rec != "" {
		t.Errorf("legacy → native by Inject: annotation %q (present %v), recorded %q; want none", got, has, rec)
	}
	back, _, _ := injectRaw(t, toNative, s, sidecar.Options{Mode: sidecar.Legacy}, native)
	if got, _, rec := annotations(t, back); got != "app" || rec != "app" {
		t.Errorf("native → legacy by Inject: annotation %q, recorded %q; want app", got, rec)
	}

	changed := setAnnotation(t, legacy, defaultKey, "worker")
	kept, _, _ := injectRaw(t, changed, s, sidecar.Options{Mode: sidecar.Native}, native)
	if got, _, rec := annotations(t, kept); got != "worker" || rec != "" {
		t.Errorf("a changed value, legacy → native: annotation %q, recorded %q; want worker kept, none recorded", got, rec)
	}
	if got, _, _ := annotations(t, uninjectRaw(t, changed)); got != "worker" {
		t.Errorf("a changed value after Uninject: %q, want worker", got)
	}

	obj := decode(t, legacy)
	m, err := sidecar.Migrate(obj.Meta, obj.Spec, "proxy", sidecar.Native, sidecar.Placement{})
	if err != nil {
		t.Fatal(err)
	}
	migrated := applyMutation(t, legacy, m, obj)
	if got, has, rec := annotations(t, migrated); has || rec != "" {
		t.Errorf("Migrate to native: annotation %q (present %v), recorded %q; want none", got, has, rec)
	}
	obj = decode(t, migrated)
	m, err = sidecar.Migrate(obj.Meta, obj.Spec, "proxy", sidecar.Legacy, sidecar.Placement{Position: sidecar.First})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, rec := annotations(t, applyMutation(t, migrated, m, obj)); got != "app" || rec != "app" {
		t.Errorf("Migrate to legacy, first: annotation %q, recorded %q; want app", got, rec)
	}
}

// setAnnotation returns raw with the annotation key set to v.
func setAnnotation(t *testing.T, raw []byte, key, v string) []byte {
	t.Helper()
	ops := patch.Ops{{Op: "replace", Path: "/metadata/annotations/" + strings.ReplaceAll(key, "/", "~1"), Value: mustJSON(t, v)}}
	return apply(t, raw, ops)
}

// applyMutation applies m, rendered for obj, to raw, and checks the patch
// keeps every field it does not mean to change.
func applyMutation(t *testing.T, raw []byte, m *patch.Mutation, obj *patch.Object) []byte {
	t.Helper()
	ops, err := m.JSONPatch(obj.Root)
	if err != nil {
		t.Fatal(err)
	}
	if err := patchtest.Verify(raw, ops); err != nil {
		t.Errorf("Verify: %v", err)
	}
	return apply(t, raw, ops)
}

// The recorded value follows the first application container: when the
// Pod's first application container changes (its author put another one
// first), a re-injection moves the annotation it set to the new one; a
// Pod without regular containers gets no annotation (there is nothing for
// kubectl to default to).
func TestDefaultContainerFollowsFirstApp(t *testing.T) {
	native := compat.Capability{APIServer: compat.APIServerStores, Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported}
	s := loadSpec(t, "plain") // placement First
	legacy, _, _ := injectRaw(t, defaultPod(t, nil), s, sidecar.Options{Mode: sidecar.Legacy}, native)
	if got, _, rec := annotations(t, legacy); got != "app" || rec != "app" {
		t.Fatalf("legacy first: annotation %q, recorded %q; want app", got, rec)
	}
	// The author removes container app: worker is now the first
	// application container.
	obj := decode(t, legacy)
	at := -1
	for i, c := range obj.Spec.Containers {
		if c.Name == "app" {
			at = i
		}
	}
	if at < 0 {
		t.Fatalf("no container app in %s", legacy)
	}
	moved := apply(t, legacy, patch.Ops{{Op: "remove", Path: "/spec/containers/" + strconv.Itoa(at)}})
	again, _, _ := injectRaw(t, moved, s, sidecar.Options{Mode: sidecar.Legacy}, native)
	if got, _, rec := annotations(t, again); got != "worker" || rec != "worker" {
		t.Errorf("first application container gone: annotation %q, recorded %q; want worker", got, rec)
	}

	for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Pinned} {
		empty := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[]}}`)
		injected, _, _ := injectRaw(t, empty, s, sidecar.Options{Mode: mode}, native)
		if got, has, _ := annotations(t, injected); has {
			t.Errorf("%s, no regular container: annotation %q set", mode, got)
		}
	}
}
