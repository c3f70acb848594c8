package sidecar_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// The order of what Inject reports and does is the plan's: its lists, in
// order (init containers, then regular ones), then the Pod's. A plan of
// three containers, two of them init containers.

func threePlan() sidecar.Options {
	c := func(name string) corev1.Container {
		return corev1.Container{Name: name, Image: "registry.example/" + name + ":1"}
	}
	return sidecar.Options{Mode: sidecar.Universal, Universal: planner{plan: sidecar.Plan{
		InitContainers: []corev1.Container{c("proxy-install"), c("proxy")},
		Containers:     []corev1.Container{c("proxy-legacy")},
	}}}
}

func TestOrderOfRefusals(t *testing.T) {
	raw := apply(t, pod(t, "several-init"), patch.Ops{
		op("add", "/spec/initContainers/0", `{"name":"proxy","image":"mine"}`),
		op("add", "/spec/initContainers/-", `{"name":"proxy-install","image":"mine"}`),
		op("add", "/spec/containers/-", `{"name":"proxy-legacy","image":"mine"}`),
		op("add", "/spec/ephemeralContainers", `[{"name":"debug","image":"d"},{"name":"proxy-legacy","image":"d"},{"name":"proxy-install","image":"d"}]`),
	})
	obj := decode(t, raw)
	_, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "plain"), native, threePlan())
	const refusal = ` is a container sidecarkit did not inject (no sidecar.sidecarkit.io/proxy annotation claims it); refusing to overwrite it`
	want := `sidecar: inject: [` +
		`spec.initContainers[3].name: Forbidden: "proxy-install"` + refusal + `, ` +
		`spec.initContainers[0].name: Forbidden: "proxy"` + refusal + `, ` +
		`spec.containers[2].name: Forbidden: "proxy-legacy"` + refusal + `, ` +
		`spec.ephemeralContainers[1].name: Duplicate value: "proxy-legacy", ` +
		`spec.ephemeralContainers[2].name: Duplicate value: "proxy-install"]`
	if err == nil || err.Error() != want {
		t.Errorf("Inject: %v\nwant %s", err, want)
	}
}

func TestOrderOfPlacementAndReplacement(t *testing.T) {
	in, err := sidecar.NewInjector(loadSpec(t, "plain"))
	if err != nil {
		t.Fatal(err)
	}
	o := threePlan()
	raw, _, _ := injectRaw(t, pod(t, "several-init"), loadSpec(t, "plain"), o, native)
	after := decode(t, raw)
	if got := names(after.Spec.InitContainers); !cmp.Equal(got, []string{"proxy-install", "proxy", "setup", "migrate"}) {
		t.Errorf("init containers %v", got)
	}
	if got := names(after.Spec.Containers); !cmp.Equal(got, []string{"proxy-legacy", "app", "worker"}) {
		t.Errorf("containers %v", got)
	}
	// Each of the three carries an unknown field: replaced, in the plan's
	// order, each where it was.
	forged := apply(t, raw, patch.Ops{
		op("add", "/spec/initContainers/0/x-a", "1"),
		op("add", "/spec/initContainers/1/x-b", "1"),
		op("add", "/spec/containers/0/x-c", "1"),
	})
	obj := decode(t, forged)
	res, err := in.InjectObject(context.Background(), obj, native, o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range res.Warnings {
		if w.Code == compat.CodeRestored && strings.Contains(w.Message, "was replaced") {
			got = append(got, w.Path)
		}
	}
	if want := []string{"spec.initContainers[0]", "spec.initContainers[1]", "spec.containers[0]"}; !cmp.Equal(got, want) {
		t.Errorf("replacements %v, want %v (warnings %q)", got, want, res.Warnings)
	}
	ops, _ := res.Mutation.JSONPatch(obj.Root)
	fixed := decode(t, apply(t, forged, ops))
	if !cmp.Equal(names(fixed.Spec.InitContainers), names(after.Spec.InitContainers)) || !cmp.Equal(names(fixed.Spec.Containers), names(after.Spec.Containers)) {
		t.Errorf("after the replacement: %v %v", names(fixed.Spec.InitContainers), names(fixed.Spec.Containers))
	}
	if strings.Contains(string(mustJSON(t, ops)), `"x-`) {
		t.Errorf("an unknown field survives: %s", mustJSON(t, ops))
	}

	// Native now: the two containers native mode does not have go, when
	// verified; when not, each is left with a warning, init containers
	// first.
	tampered := apply(t, raw, patch.Ops{
		op("add", "/spec/initContainers/0/workingDir", `"/a"`),
		op("add", "/spec/containers/0/workingDir", `"/b"`),
	})
	_, _, res = injectRaw(t, tampered, loadSpec(t, "plain"), sidecar.Options{Mode: sidecar.Native}, native)
	got = nil
	for _, w := range res.Warnings {
		if w.Code == compat.CodeSpecNotApplied && strings.Contains(w.Message, "is left in place") {
			got = append(got, w.Path)
		}
	}
	if want := []string{"spec.initContainers[0]", "spec.containers[0]"}; !cmp.Equal(got, want) {
		t.Errorf("left in place %v, want %v (warnings %q)", got, want, res.Warnings)
	}
	out, _, _ := injectRaw(t, raw, loadSpec(t, "plain"), sidecar.Options{Mode: sidecar.Native}, native)
	if n := decode(t, out); !cmp.Equal(names(n.Spec.InitContainers), []string{"proxy", "setup", "migrate"}) || !cmp.Equal(names(n.Spec.Containers), []string{"app", "worker"}) {
		t.Errorf("native after the three: %v %v", names(n.Spec.InitContainers), names(n.Spec.Containers))
	}
}
