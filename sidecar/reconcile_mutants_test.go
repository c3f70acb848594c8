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

// More of the reconciler's rules, each on a raw Pod: where a missing
// container of the plan goes, which of two elements of one name is the
// one compared, the order elements are added in, and the edge cases of
// warnings and validation.

// several is a Spec of two volumes, two app mounts and two app env vars.
func several() sidecar.Spec {
	return sidecar.Spec{
		Container: corev1.Container{Name: "proxy", Image: "p:1", VolumeMounts: []corev1.VolumeMount{{Name: "a", MountPath: "/a"}, {Name: "b", MountPath: "/b"}}},
		Volumes: []corev1.Volume{
			{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "b", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		},
		AppMounts: []corev1.VolumeMount{{Name: "a", MountPath: "/a"}, {Name: "b", MountPath: "/b", ReadOnly: true}},
		AppEnv:    []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
	}
}

// Elements are added in the Spec's order, after the Pod's own; stale ones
// are removed in the container's order.
func TestOrderOfElements(t *testing.T) {
	raw, _, _ := injectRaw(t, pod(t, "several-init"), several(), sidecar.Options{Mode: sidecar.Native}, native)
	after := decode(t, raw)
	if got := volumeNames(after.Spec.Volumes); got != "data,a,b" {
		t.Errorf("volumes %s, want data,a,b", got)
	}
	for _, c := range after.Spec.Containers {
		var mounts, env []string
		for _, m := range c.VolumeMounts {
			mounts = append(mounts, m.MountPath)
		}
		for _, e := range c.Env {
			env = append(env, e.Name)
		}
		if !cmp.Equal(mounts, []string{"/data", "/a", "/b"}) || !cmp.Equal(env, []string{"MODE", "A", "B"}) {
			t.Errorf("%s: mounts %v, env %v", c.Name, mounts, env)
		}
	}
	obj := decode(t, raw)
	m, err := sidecar.Uninject(obj.Meta, obj.Spec, "proxy")
	if err != nil {
		t.Fatal(err)
	}
	ops, _ := m.JSONPatch(obj.Root)
	var got []string
	for _, o := range ops {
		if strings.HasPrefix(o.Path, "/spec/containers/0/") {
			got = append(got, o.Op+" "+o.Path)
		}
	}
	want := []string{"remove /spec/containers/0/volumeMounts/1", "remove /spec/containers/0/volumeMounts/1", "remove /spec/containers/0/env/1", "remove /spec/containers/0/env/1"}
	if !cmp.Equal(got, want) {
		t.Errorf("Uninject ops on app: %v, want %v", got, want)
	}
	// Stale volumes the record does not verify are named in name order.
	tampered := apply(t, raw, patch.Ops{
		op("add", "/spec/volumes/2/emptyDir/sizeLimit", `"1Mi"`),
		op("add", "/spec/volumes/1/emptyDir/medium", `"Memory"`),
	})
	_, _, res := injectRaw(t, tampered, loadSpec(t, "plain"), sidecar.Options{Mode: sidecar.Native}, native)
	var left []string
	for _, w := range res.Warnings {
		if strings.Contains(text(w), "is left in place") {
			left = append(left, w.Path)
		}
	}
	if !cmp.Equal(left, []string{"spec.volumes[1]", "spec.volumes[2]"}) {
		t.Errorf("volumes left in place %v (warnings %q)", left, res.Warnings)
	}
}

// A container of the plan that is missing goes right after the plan's
// container before it, wherever the author moved that one; the plan's
// containers count for nothing in the placement.
func TestMissingContainerPlaced(t *testing.T) {
	c := func(name string) corev1.Container {
		return corev1.Container{Name: name, Image: "registry.example/" + name + ":1"}
	}
	plan := func(p sidecar.Placement) sidecar.Options {
		return sidecar.Options{Mode: sidecar.Universal, Universal: planner{plan: sidecar.Plan{
			InitContainers: []corev1.Container{c("proxy-a"), c("proxy-b"), c("proxy-c")}, Placement: p}}}
	}
	s := loadSpec(t, "plain")
	raw, _, _ := injectRaw(t, pod(t, "several-init"), s, plan(sidecar.Placement{}), native)
	if got := names(decode(t, raw).Spec.InitContainers); !cmp.Equal(got, []string{"proxy-a", "proxy-b", "proxy-c", "setup", "migrate"}) {
		t.Fatalf("init containers %v", got)
	}
	rm := func(i int) patch.Op { return op("remove", "/spec/initContainers/"+itoa(i), "") }
	for _, tc := range []struct {
		name   string
		edit   patch.Ops // on [proxy-a, proxy-b, proxy-c, setup, migrate]
		p      sidecar.Placement
		before []string
		want   []string
	}{
		{"the first and the last missing, the middle one moved after setup", patch.Ops{rm(2), rm(0),
			{Op: "move", From: "/spec/initContainers/0", Path: "/spec/initContainers/1"}},
			sidecar.Placement{}, []string{"setup", "proxy-b", "migrate"}, []string{"proxy-a", "setup", "proxy-b", "proxy-c", "migrate"}},
		{"the first kept, placed last", patch.Ops{rm(2), rm(1)},
			sidecar.Placement{Position: sidecar.Last}, []string{"proxy-a", "setup", "migrate"}, []string{"proxy-a", "proxy-b", "proxy-c", "setup", "migrate"}},
		{"the last kept, placed after setup", patch.Ops{rm(0), rm(0)},
			sidecar.Placement{Position: sidecar.After, Name: "setup"}, []string{"proxy-c", "setup", "migrate"}, []string{"proxy-c", "setup", "proxy-a", "proxy-b", "migrate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := apply(t, raw, tc.edit)
			if got := names(decode(t, doc).Spec.InitContainers); !cmp.Equal(got, tc.before) {
				t.Fatalf("before: %v, want %v", got, tc.before)
			}
			out, _, res := injectRaw(t, doc, s, plan(tc.p), native)
			if got := names(decode(t, out).Spec.InitContainers); !cmp.Equal(got, tc.want) {
				t.Errorf("init containers %v, want %v (warnings %q)", got, tc.want, res.Warnings)
			}
		})
	}
}

// Of two volumes of one name (an invalid pod), the first is the one
// compared, whether the Spec needs it or dropped it.
func TestFirstOfTwoVolumes(t *testing.T) {
	other := `{"name":"proxy-socket","emptyDir":{"medium":"Memory","sizeLimit":"1Mi"}}`
	// The Spec needs it: the first differs and no record claims it.
	doc := apply(t, pod(t, "no-init"), patch.Ops{op("add", "/spec/volumes/-", other), op("add", "/spec/volumes/-", `{"name":"proxy-socket","emptyDir":{"medium":"Memory"}}`)})
	if err := injectErr(t, doc, loadSpec(t, "full"), sidecar.Native); err == nil || !strings.Contains(err.Error(), `spec.volumes[1].name: Forbidden: the pod has a volume "proxy-socket" that differs`) {
		t.Errorf("Inject: %v", err)
	}
	// The Spec dropped it: the first is verified and goes, the author's
	// second stays.
	raw, _ := injected(t, "no-init", sidecar.Native)
	raw = apply(t, raw, patch.Ops{op("add", "/spec/volumes/-", other)})
	v2 := fullWith(t, func(s *sidecar.Spec) { s.Volumes, s.AppMounts, s.Container.VolumeMounts = nil, nil, nil })
	out, _, res := injectRaw(t, raw, v2, sidecar.Options{Mode: sidecar.Native}, native)
	vols := decode(t, out).Spec.Volumes
	if volumeNames(vols) != "data,proxy-socket" || vols[1].EmptyDir.SizeLimit == nil || hasWarning(res, "left in place") {
		t.Errorf("volumes %s %+v, warnings %q", volumeNames(vols), vols, res.Warnings)
	}
}

// A Result built by hand, without the injection's spec, reports no
// resources rather than failing.
func TestResourcesOfAHandMadeResult(t *testing.T) {
	r := sidecar.Result{Mutation: patch.New(nil, &corev1.PodSpec{})}
	if got := r.Resources(); got.Before.Requests != nil || got.After.Requests != nil {
		t.Errorf("Resources = %+v", got)
	}
}

// Auto's choice of the universal pair keeps compat's cost warning when
// the planner reports none of its own.
func TestCostWarningKept(t *testing.T) {
	strips := compat.Capability{Kubelet: compat.KubeletStrips, APIServer: compat.APIServerStores}
	p := planner{plan: sidecar.Plan{InitContainers: []corev1.Container{{Name: "proxy", Image: "p:1"}}, Containers: []corev1.Container{{Name: "proxy-legacy", Image: "p:1"}}}}
	obj := decode(t, pod(t, "no-init"))
	res, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "plain"), strips, sidecar.Options{Universal: p})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != sidecar.Universal || !hasWarning(res, costWarning(t).Message) {
		t.Errorf("mode %s, warnings %q; want Recommend's cost warning", res.Mode, res.Warnings)
	}
}

// A plan's ContainerPlacement says nothing when it places no regular
// container; a plan's app mount of a volume that does not exist is
// refused by validation.
func TestPlanEdges(t *testing.T) {
	obj := decode(t, pod(t, "no-init"))
	p := planner{plan: sidecar.Plan{InitContainers: []corev1.Container{{Name: "proxy", Image: "p:1"}},
		ContainerPlacement: sidecar.Placement{Position: sidecar.Before, Name: "nope"}}}
	res, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "plain"), native, sidecar.Options{Mode: sidecar.Universal, Universal: p})
	if err != nil || len(res.Warnings) > 0 {
		t.Errorf("Inject: %v, warnings %q", err, res.Warnings)
	}
	p = planner{plan: sidecar.Plan{InitContainers: []corev1.Container{{Name: "proxy", Image: "p:1"}},
		AppMounts: []corev1.VolumeMount{{Name: "nope", MountPath: "/x"}}}}
	_, err = sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "plain"), native, sidecar.Options{Mode: sidecar.Universal, Universal: p})
	if err == nil || !strings.Contains(err.Error(), `spec.containers[0].volumeMounts[1].name: Not found: "nope"`) {
		t.Errorf("Inject: %v", err)
	}
}

// An already injected Job pod gives no Job warning again: it came with
// the injection.
func TestJobWarningOnce(t *testing.T) {
	raw, _, res := injectRaw(t, pod(t, "job-never"), loadSpec(t, "full"), sidecar.Options{Mode: sidecar.Legacy}, native)
	if !hasWarning(res, "keeps the pod (and its Job) running") {
		t.Fatalf("warnings %q", res.Warnings)
	}
	converged(t, raw, loadSpec(t, "full"), sidecar.Legacy)
}

// A stored sidecar (with the API server's defaults) that carries an
// unknown field is replaced by the Spec's container exactly, without the
// defaults the old one had.
func TestUnknownFieldOnAStoredSidecar(t *testing.T) {
	in, err := sidecar.NewInjector(loadSpec(t, "full"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := injected(t, "no-init", sidecar.Native)
	stored := apply(t, raw, patch.Ops{
		op("add", "/spec/initContainers/0/terminationMessagePath", `"/dev/termination-log"`),
		op("add", "/spec/initContainers/0/terminationMessagePolicy", `"File"`),
		op("add", "/spec/initContainers/0/x-unknown", `1`),
	})
	obj := decode(t, stored)
	res, err := in.InjectObject(context.Background(), obj, native, sidecar.Options{Mode: sidecar.Native})
	if err != nil {
		t.Fatal(err)
	}
	ops, _ := res.Mutation.JSONPatch(obj.Root)
	fixed := apply(t, stored, ops)
	if strings.Contains(string(fixed), "termination") || strings.Contains(string(fixed), "x-unknown") {
		t.Errorf("the replaced sidecar keeps the old one's fields: %s", mustJSON(t, ops))
	}
	wantSidecar(t, fixed, sidecar.Native)
}

// Inject does not walk the application containers when the Spec gives
// them nothing and the record names nothing they got.
func TestNoAppItemsNoWalk(t *testing.T) {
	in, err := sidecar.NewInjector(sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "p:1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := &countingCtx{Context: context.Background()}
	if _, err := in.Inject(ctx, nil, wide(2500), native, sidecar.Options{Mode: sidecar.Native}); err != nil {
		t.Fatal(err)
	}
	if ctx.looks != 2 {
		t.Errorf("%d looks at the context, want 2 (no walk of the application containers)", ctx.looks)
	}
}

// A legacy sidecar whose new Spec no longer mounts a volume does not keep
// that volume: what mounts it is judged with the sidecar as planned.
func TestStaleVolumeOfALegacySidecar(t *testing.T) {
	raw, _ := injected(t, "several-init", sidecar.Legacy)
	v2 := fullWith(t, func(s *sidecar.Spec) {
		s.Volumes = []corev1.Volume{{Name: "proxy-config", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		s.Container.VolumeMounts = []corev1.VolumeMount{{Name: "proxy-config", MountPath: "/etc/proxy"}}
		s.AppMounts = nil
	})
	out, _, res := injectRaw(t, raw, v2, sidecar.Options{Mode: sidecar.Legacy}, native)
	after := decode(t, out)
	if findVolume(after.Spec.Volumes, "proxy-socket") != nil || len(res.Warnings) > 0 {
		t.Errorf("volumes %s, warnings %q; want proxy-socket gone", volumeNames(after.Spec.Volumes), res.Warnings)
	}
	converged(t, out, v2, sidecar.Legacy)
}

// InjectObject reports resources with the object's pod-level resources,
// unless Options.PodResources says otherwise.
func TestInjectObjectPodResources(t *testing.T) {
	in, err := sidecar.NewInjector(loadSpec(t, "full"))
	if err != nil {
		t.Fatal(err)
	}
	obj := decode(t, pod(t, "pod-level-resources"))
	if obj.PodResources == nil {
		t.Fatal("the test pod has no pod-level resources")
	}
	o := sidecar.Options{Mode: sidecar.Native}
	got, err := in.InjectObject(context.Background(), obj, native, o)
	if err != nil {
		t.Fatal(err)
	}
	o.PodResources = obj.PodResources
	want, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "full"), native, o)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := mustJSON(t, got.Resources()), mustJSON(t, want.Resources()); string(g) != string(w) {
		t.Errorf("InjectObject resources %s, want %s", g, w)
	}
	// Options.PodResources set (here: none at pod level) wins.
	o.PodResources = &corev1.ResourceRequirements{}
	got, err = in.InjectObject(context.Background(), obj, native, o)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "full"), native, sidecar.Options{Mode: sidecar.Native})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := mustJSON(t, got.Resources()), mustJSON(t, plain.Resources()); string(g) != string(w) || string(g) == string(mustJSON(t, want.Resources())) {
		t.Errorf("InjectObject with Options.PodResources: %s, want %s", g, w)
	}
}
