package sidecar_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/sidecar"
)

// planner is a Planner that returns plan, or err.
type planner struct {
	plan sidecar.Plan
	err  error
}

func (p planner) Plan(sidecar.Spec, *corev1.PodSpec) (sidecar.Plan, error) { return p.plan, p.err }

// A Planner's error, and a plan whose containers are not named after the
// sidecar, are Inject's errors; a plan's mode is Universal whatever the
// planner says.
func TestPlannerResults(t *testing.T) {
	s := sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "p:1"}}
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "a"}}}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		p    planner
		want string
	}{
		{"an error", planner{err: boom}, "boom"},
		{"an init container of another name", planner{plan: sidecar.Plan{InitContainers: []corev1.Container{{Name: "proxy", Image: "p"}, {Name: "mesh", Image: "p"}}}},
			`sidecar: the universal plan's initContainers[1] is named "mesh"; the containers of sidecar "proxy" must be named "proxy" or "proxy-<suffix>"`},
		{"a container of another name", planner{plan: sidecar.Plan{Containers: []corev1.Container{{Name: "app", Image: "p"}}}},
			`sidecar: the universal plan's containers[0] is named "app"; the containers of sidecar "proxy" must be named "proxy" or "proxy-<suffix>"`},
		{"other names in both lists: the first init container's", planner{plan: sidecar.Plan{
			InitContainers: []corev1.Container{{Name: "proxy-a", Image: "p"}, {Name: "init1", Image: "p"}, {Name: "init2", Image: "p"}},
			Containers:     []corev1.Container{{Name: "app", Image: "p"}}}},
			`sidecar: the universal plan's initContainers[1] is named "init1"; the containers of sidecar "proxy" must be named "proxy" or "proxy-<suffix>"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sidecar.Inject(nil, spec, s, native, sidecar.Options{Mode: sidecar.Universal, Universal: tc.p})
			if err == nil || err.Error() != tc.want {
				t.Errorf("Inject: %v, want %q", err, tc.want)
			}
			if tc.p.err != nil && !errors.Is(err, boom) {
				t.Errorf("the planner's error is not wrapped: %v", err)
			}
		})
	}
	p := planner{plan: sidecar.Plan{Mode: sidecar.Native, InitContainers: []corev1.Container{{Name: "proxy", Image: "p"}}}}
	res, err := sidecar.Inject(nil, spec, s, native, sidecar.Options{Mode: sidecar.Universal, Universal: p})
	if err != nil || res.Mode != sidecar.Universal {
		t.Fatalf("Inject: %s, %v", res.Mode, err)
	}
	meta, _ := res.Mutation.Result()
	if rec, _, err := sidecar.ReadRecord(meta, "proxy"); err != nil || rec.Mode != sidecar.Universal {
		t.Errorf("record %+v, %v; want universal", rec, err)
	}
}

// LegacyPlacement keeps First, Last and a placement by a regular
// container's name (or a missing one's), and turns a placement by an init
// container's name into First.
func TestLegacyPlacement(t *testing.T) {
	pod := &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "setup"}, {Name: "istio-proxy"}},
		Containers:     []corev1.Container{{Name: "app"}, {Name: "worker"}},
	}
	for _, tc := range []struct {
		in, want sidecar.Placement
		pod      *corev1.PodSpec
	}{
		{sidecar.Placement{}, sidecar.Placement{}, pod},
		{sidecar.Placement{Position: sidecar.Last}, sidecar.Placement{Position: sidecar.Last}, pod},
		{sidecar.Placement{Position: sidecar.After, Name: "worker"}, sidecar.Placement{Position: sidecar.After, Name: "worker"}, pod},
		{sidecar.Placement{Position: sidecar.Before, Name: "app"}, sidecar.Placement{Position: sidecar.Before, Name: "app"}, pod},
		{sidecar.Placement{Position: sidecar.After, Name: "istio-proxy"}, sidecar.Placement{}, pod},
		{sidecar.Placement{Position: sidecar.Before, Name: "setup"}, sidecar.Placement{}, pod},
		{sidecar.Placement{Position: sidecar.After, Name: "nope"}, sidecar.Placement{Position: sidecar.After, Name: "nope"}, pod},
		{sidecar.Placement{Position: sidecar.After, Name: "istio-proxy"}, sidecar.Placement{Position: sidecar.After, Name: "istio-proxy"}, nil},
		// A name both lists use (a pod the API server would refuse): the
		// regular container's, so the placement is kept.
		{sidecar.Placement{Position: sidecar.Before, Name: "app"}, sidecar.Placement{Position: sidecar.Before, Name: "app"},
			&corev1.PodSpec{InitContainers: []corev1.Container{{Name: "app"}}, Containers: []corev1.Container{{Name: "app"}}}},
	} {
		if got := sidecar.LegacyPlacement(tc.in, tc.pod); got != tc.want {
			t.Errorf("LegacyPlacement(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// Spec.Container.RestartPolicy is ignored: the native modes inject an init
// container with restartPolicy Always, Legacy a regular container without
// one (which the API server would refuse on a regular container).
func TestSpecRestartPolicyIgnored(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	s := sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "p:1", RestartPolicy: &always}}
	for _, tc := range []struct {
		mode sidecar.Mode
		init bool
		want *corev1.ContainerRestartPolicy
	}{
		{sidecar.Legacy, false, nil},
		{sidecar.Native, true, &always},
		{sidecar.Pinned, true, &always},
	} {
		spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "a"}}}
		res, err := sidecar.Inject(nil, spec, s, native, sidecar.Options{Mode: tc.mode})
		if err != nil {
			t.Fatalf("%s: Inject: %v", tc.mode, err)
		}
		_, after := res.Mutation.Result()
		l := after.Containers
		if tc.init {
			l = after.InitContainers
		}
		var got *corev1.Container
		for i := range l {
			if l[i].Name == "proxy" {
				got = &l[i]
			}
		}
		if got == nil {
			t.Fatalf("%s: no container proxy in %v (init %v)", tc.mode, names(l), tc.init)
		}
		if !cmp.Equal(got.RestartPolicy, tc.want) {
			t.Errorf("%s: restartPolicy %v, want %v", tc.mode, got.RestartPolicy, tc.want)
		}
		if !cmp.Equal(s.Container.RestartPolicy, &always) {
			t.Errorf("%s: Inject changed the Spec's restartPolicy to %v", tc.mode, s.Container.RestartPolicy)
		}
	}
}
