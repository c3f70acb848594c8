package sidecar_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/sidecarkit/sidecarkit/internal/optioncases"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// A volume of the Spec's that the Pod's author wrote as the API server
// stores it (with its defaults), or without a default the Spec sets, is
// the Spec's volume: the author's, used as it is and not recorded.
func TestAuthorsDefaultedVolume(t *testing.T) {
	mode := int32(0o644)
	bare := corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "proxy-config"}}}
	defaulted := *bare.DeepCopy()
	defaulted.ConfigMap.DefaultMode = &mode
	for _, tc := range []struct {
		name       string
		spec, pods corev1.VolumeSource
	}{
		{"the pod has the API server's default", bare, defaulted},
		{"the Spec sets the default", defaulted, bare},
		{"both alike", bare, bare},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fullWith(t, func(s *sidecar.Spec) { s.Volumes[0].VolumeSource = tc.spec })
			raw := apply(t, pod(t, "no-init"), patch.Ops{op("add", "/spec/volumes/-", string(mustJSON(t, corev1.Volume{Name: "proxy-socket", VolumeSource: tc.pods})))})
			injected, ops, _ := injectRaw(t, raw, s, sidecar.Options{Mode: sidecar.Native}, native)
			if o := opsTouching(ops, "/spec/volumes"); len(o) > 0 {
				t.Errorf("the author's volume is edited: %s", mustJSON(t, o))
			}
			if rec := readRecord(t, injected); len(rec.Volumes) != 0 {
				t.Errorf("the record claims the author's volume: %v", rec.Volumes)
			}
			converged(t, injected, s, sidecar.Native)
		})
	}
}

// A record rewritten for another change takes the reason of this
// injection; a change of reason alone leaves the record as it is.
func TestRecordReasonRewritten(t *testing.T) {
	raw, _ := injected(t, "no-init", sidecar.Native) // forced: reason "requested"
	if got := readRecord(t, raw).Reason; got != "requested" {
		t.Fatalf("first injection: reason %q, want %q", got, "requested")
	}
	// Auto chooses native too, for another reason.
	obj := decode(t, raw)
	res, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "full"), native, sidecar.Options{})
	if err != nil || !res.Mutation.Empty() || res.Mode != sidecar.Native {
		t.Fatalf("Auto on the injected pod: mode %s, err %v, empty %v; want native, nothing to do", res.Mode, err, res.Mutation.Empty())
	}
	auto := string(res.Code)
	if auto == "" || auto == "requested" {
		t.Fatalf("Auto's code %q", auto)
	}
	// A new application container: it gets the mounts and the env, and
	// the record, rewritten, says why the mode is native now.
	grown := apply(t, raw, patch.Ops{op("add", "/spec/containers/-", `{"name":"worker","image":"registry.example/worker:1"}`)})
	out, ops, _ := injectRaw(t, grown, loadSpec(t, "full"), sidecar.Options{}, native)
	if len(opsTouching(ops, "/spec/containers")) == 0 {
		t.Fatalf("the new container got nothing: ops %s", mustJSON(t, ops))
	}
	if got := readRecord(t, out).Reason; got != auto {
		t.Errorf("record reason %q, want %q (this injection's)", got, auto)
	}
	converged(t, out, loadSpec(t, "full"), sidecar.Native)
}

// A claimed sidecar that carries unknown fields and also differs from the
// Spec is replaced, with the one warning that says so: it is not also
// restored field by field.
func TestUnknownFieldsAndTampered(t *testing.T) {
	in, err := sidecar.NewInjector(loadSpec(t, "full"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Legacy} {
		raw, _ := injected(t, "several-init", mode)
		forged := apply(t, raw, patch.Ops{
			op("add", sidecarPath(mode)+"/fromTheFuture", `true`),
			op("replace", sidecarPath(mode)+"/image", `"registry.example/other:9"`),
			op("add", sidecarPath(mode)+"/terminationMessagePath", `"/dev/termination-log"`),
		})
		obj := decode(t, forged)
		res, err := in.InjectObject(context.Background(), obj, native, sidecar.Options{Mode: mode})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		want := "spec.initContainers[0]"
		if mode == sidecar.Legacy {
			want = "spec.containers[0]"
		}
		if len(res.Warnings) != 1 || !strings.HasPrefix(text(res.Warnings[0]), want+`: container "proxy" carried fields`) {
			t.Errorf("%s: warnings %q, want only %s's replacement", mode, res.Warnings, want)
		}
		ops, _ := res.Mutation.JSONPatch(obj.Root)
		wantSidecar(t, apply(t, forged, ops), mode)
	}
}

// Of two volumes of the Spec's name (a pod the API server would refuse),
// the first is the one the injection acts on, as for containers.
func TestDuplicateClaimedVolume(t *testing.T) {
	raw, _ := injected(t, "no-init", sidecar.Native)
	obj := decode(t, raw)
	first := -1
	for i, v := range obj.Spec.Volumes {
		if v.Name == "proxy-socket" {
			first = i
		}
	}
	if first < 0 {
		t.Fatalf("volumes %s", volumeNames(obj.Spec.Volumes))
	}
	tampered := `{"name":"proxy-socket","hostPath":{"path":"/"}}`
	forged := apply(t, raw, patch.Ops{
		op("replace", fmt.Sprintf("/spec/volumes/%d", first), tampered),
		op("add", "/spec/volumes/-", tampered),
	})
	out, _, res := injectRaw(t, forged, loadSpec(t, "full"), sidecar.Options{Mode: sidecar.Native}, native)
	if w := fmt.Sprintf("spec.volumes[%d]: volume %q differed", first, "proxy-socket"); !hasWarning(res, w) {
		t.Errorf("warnings %q, want %q", res.Warnings, w)
	}
	after := decode(t, out).Spec.Volumes
	if got, want := after[first].VolumeSource, loadSpec(t, "full").Volumes[0].VolumeSource; !cmp.Equal(got, want) {
		t.Errorf("spec.volumes[%d] %+v, want the Spec's %+v", first, got, want)
	}
	if last := after[len(after)-1]; last.HostPath == nil {
		t.Errorf("the second volume %+v was changed; want it left as it is", last)
	}
}

// An app mount and an app env var that are the first of their container's
// lists are brought up to a new Spec too.
func TestFirstAppItemsUpdated(t *testing.T) {
	bare := apply(t, pod(t, "no-init"), patch.Ops{op("add", "/spec/containers/-", `{"name":"bare","image":"registry.example/bare:1"}`)})
	raw, _, _ := injectRaw(t, bare, loadSpec(t, "full"), sidecar.Options{Mode: sidecar.Native}, native)
	v2 := fullWith(t, func(s *sidecar.Spec) {
		s.AppMounts[0].ReadOnly = false
		s.AppEnv[0].Value = "/var/run/proxy/v2.sock"
	})
	fixed, _, res := injectRaw(t, raw, v2, sidecar.Options{Mode: sidecar.Native}, native)
	if len(res.Warnings) > 0 {
		t.Errorf("warnings %q, want none", res.Warnings)
	}
	var c *corev1.Container
	cs := decode(t, fixed).Spec.Containers
	for i := range cs {
		if cs[i].Name == "bare" {
			c = &cs[i]
		}
	}
	if c == nil || len(c.VolumeMounts) != 1 || len(c.Env) != 1 {
		t.Fatalf("container bare: %+v", c)
	}
	if !cmp.Equal(c.VolumeMounts[0], v2.AppMounts[0]) {
		t.Errorf("mount %+v, want %+v", c.VolumeMounts[0], v2.AppMounts[0])
	}
	if !cmp.Equal(c.Env[0], v2.AppEnv[0]) {
		t.Errorf("env %+v, want %+v", c.Env[0], v2.AppEnv[0])
	}
	converged(t, fixed, v2, sidecar.Native)
}

// A mount the injection updates is validated as one it adds: a second
// mount at its path (an invalid pod) is reported at the second.
func TestUpdatedMountValidated(t *testing.T) {
	bare := apply(t, pod(t, "no-init"), patch.Ops{op("add", "/spec/containers/-", `{"name":"bare","image":"registry.example/bare:1"}`)})
	raw, _, _ := injectRaw(t, bare, loadSpec(t, "full"), sidecar.Options{Mode: sidecar.Native}, native)
	obj := decode(t, raw)
	i := len(obj.Spec.Containers) - 1
	if obj.Spec.Containers[i].Name != "bare" {
		t.Fatalf("containers %v", names(obj.Spec.Containers))
	}
	dup := apply(t, raw, patch.Ops{op("add", fmt.Sprintf("/spec/containers/%d/volumeMounts/-", i), `{"name":"data","mountPath":"/var/run/proxy"}`)})
	v2 := fullWith(t, func(s *sidecar.Spec) { s.AppMounts[0].ReadOnly = false })
	err := injectErr(t, dup, v2, sidecar.Native)
	want := fmt.Sprintf(`spec.containers[%d].volumeMounts[1].mountPath: Invalid value: "/var/run/proxy": must be unique`, i)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Inject: %v; want %q", err, want)
	}
}

// An application container that defines a variable of the Spec's appEnv
// twice is judged by the last definition, the one that takes effect: the
// author's value there is kept with a warning that names it; the Spec's
// value there needs nothing.
func TestAppEnvDefinedTwice(t *testing.T) {
	spec := loadSpec(t, "full").AppEnv[0] // PROXY_SOCKET
	mine := `{"name":"PROXY_SOCKET","value":"/mine.sock"}`
	for _, tc := range []struct {
		name  string
		env   []string // appended to app's env (MODE)
		warn  string
		edits bool
	}{
		{"the author's last", []string{string(mustJSON(t, spec)), mine},
			`spec.containers[0].env[2]: container "app" sets PROXY_SOCKET itself; its value is kept`, false},
		{"the Spec's last", []string{mine, string(mustJSON(t, spec))}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ops patch.Ops
			for _, e := range tc.env {
				ops = append(ops, op("add", "/spec/containers/0/env/-", e))
			}
			raw := apply(t, pod(t, "no-init"), ops)
			out, ops, res := injectRaw(t, raw, loadSpec(t, "full"), sidecar.Options{Mode: sidecar.Native}, native)
			var warned []string
			for _, w := range res.Warnings {
				if strings.Contains(text(w), "PROXY_SOCKET") {
					warned = append(warned, text(w))
				}
			}
			if tc.warn == "" && len(warned) > 0 || tc.warn != "" && (len(warned) != 1 || warned[0] != tc.warn) {
				t.Errorf("warnings %q, want %q", warned, tc.warn)
			}
			if o := opsTouching(ops, "/spec/containers/0/env"); len(o) > 0 {
				t.Errorf("app's env is edited: %s", mustJSON(t, o))
			}
			if tc.warn == "" { // the kept value warns on every call
				converged(t, out, loadSpec(t, "full"), sidecar.Native)
			}
		})
	}
}

// A sidecar name that breaks both rules of a label gets both errors, in
// the order validation.IsDNS1123Label gives them: the length, then the
// characters.
func TestSpecNameErrorsInOrder(t *testing.T) {
	s := sidecar.Spec{Container: corev1.Container{Name: strings.Repeat("P", 64), Image: "p:1"}}
	var agg utilerrors.Aggregate
	if err := s.Validate(); !errors.As(err, &agg) || len(agg.Errors()) != 2 {
		t.Fatalf("Validate: %v; want two errors", err)
	}
	for i, want := range []string{"must be no more than 63 characters", "a lowercase RFC 1123 label"} {
		if got := agg.Errors()[i].Error(); !strings.HasPrefix(got, "sidecar.container.name: Invalid value: ") || !strings.Contains(got, want) {
			t.Errorf("error %d: %q, want one on the name with %q", i, got, want)
		}
	}
}

// PodResources, rule by rule, as k8s.io/component-helpers/resource
// PodRequests and PodLimits compute them (the oracle module checks random
// pods against that code; these are the edges).
func TestPodResourcesRules(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	list := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	ctr := func(name string, req, lim corev1.ResourceList, sidecar bool) corev1.Container {
		c := corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
		if sidecar {
			c.RestartPolicy = &always
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		spec     corev1.PodSpec
		podLevel *corev1.ResourceRequirements
		req, lim map[string]string // resource → the quantity's text
	}{
		{"pod-level limits alone replace the containers' limits",
			corev1.PodSpec{Containers: []corev1.Container{ctr("app", list("cpu", "500m"), list("cpu", "1"), false)}},
			&corev1.ResourceRequirements{Limits: list("cpu", "2")},
			map[string]string{"cpu": "500m"}, map[string]string{"cpu": "2"}},
		{"the overhead is added to requests and to non-zero limits only",
			corev1.PodSpec{Containers: []corev1.Container{ctr("app", list("memory", "64Mi"), list("memory", "0", "cpu", "1"), false)}, Overhead: list("memory", "16Mi", "cpu", "100m")},
			nil,
			map[string]string{"memory": "80Mi", "cpu": "100m"}, map[string]string{"memory": "0", "cpu": "1100m"}},
		{"each sidecar's share is the sum of the sidecars started so far",
			// Negative amounts (which the API server refuses) make the
			// running sum exceed the pod's total.
			corev1.PodSpec{
				InitContainers: []corev1.Container{ctr("s1", list("cpu", "1"), nil, true), ctr("s2", list("cpu", "1"), nil, true)},
				Containers:     []corev1.Container{ctr("app", list("cpu", "-5"), nil, false)},
			},
			nil,
			map[string]string{"cpu": "2"}, map[string]string{}},
		{"a sum has the format of the first container's amount",
			corev1.PodSpec{Containers: []corev1.Container{ctr("app", list("memory", "1Gi"), nil, false), ctr("worker", list("memory", "1024"), nil, false)}},
			nil,
			map[string]string{"memory": "1048577Ki"}, map[string]string{}},
		{"of two equal amounts, the aggregate's is kept",
			corev1.PodSpec{
				InitContainers: []corev1.Container{ctr("setup", list("memory", "1Gi"), nil, false)},
				Containers:     []corev1.Container{ctr("app", list("memory", "1073741824"), nil, false)},
			},
			nil,
			map[string]string{"memory": "1073741824"}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sidecar.PodResources(&tc.spec, tc.podLevel)
			for what, c := range map[string]struct {
				got  corev1.ResourceList
				want map[string]string
			}{"requests": {got.Requests, tc.req}, "limits": {got.Limits, tc.lim}} {
				texts := map[string]string{}
				for k, q := range c.got {
					texts[string(k)] = q.String()
				}
				if !cmp.Equal(texts, c.want) {
					t.Errorf("%s %v, want %v", what, texts, c.want)
				}
			}
		})
	}
}

// Uninject checks the containers a record claims in the pod's order, the
// init containers first, and refuses at the first that differs.
func TestUninjectFirstDiffering(t *testing.T) {
	raw, _, _ := injectRaw(t, pod(t, "several-init"), withCommand(t), sidecar.Options{Mode: sidecar.Universal, Universal: optioncases.Planner()}, native)
	obj := decode(t, raw)
	at := func(l []corev1.Container, name string) int {
		for i := range l {
			if l[i].Name == name {
				return i
			}
		}
		t.Fatalf("no container %q in %v", name, names(l))
		return -1
	}
	ni, nr := at(obj.Spec.InitContainers, "proxy"), at(obj.Spec.Containers, "proxy-legacy")
	both := apply(t, raw, patch.Ops{
		op("replace", fmt.Sprintf("/spec/initContainers/%d/image", ni), `"mine"`),
		op("replace", fmt.Sprintf("/spec/containers/%d/image", nr), `"mine"`),
	})
	// A forged record that claims two init containers, neither as the pod
	// holds it.
	forged := `{"v":2,"mode":"native","initContainers":{"proxy":"0123456789abcdef","proxy-b":"0123456789abcdef"}}`
	two := apply(t, pod(t, "several-init"), patch.Ops{
		op("add", "/spec/initContainers/1", `{"name":"proxy-b","image":"b"}`),
		op("add", "/spec/initContainers/3", `{"name":"proxy","image":"p"}`),
		op("add", "/metadata/annotations/sidecar.sidecarkit.io~1proxy", string(mustJSON(t, forged))),
	})
	for _, tc := range []struct {
		name string
		doc  []byte
		want string
	}{
		{"an init container and a regular one", both, fmt.Sprintf("spec.initContainers[%d]: container %q differs", ni, "proxy")},
		{"two init containers", two, `spec.initContainers[1]: container "proxy-b" differs`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := decode(t, tc.doc)
			_, err := sidecar.Uninject(o.Meta, o.Spec, "proxy")
			if err == nil || !strings.HasPrefix(err.Error(), "sidecar: uninject: "+tc.want) {
				t.Errorf("Uninject: %v, want %q", err, tc.want)
			}
		})
	}
}

// Uninject edits the application containers in the pod's order.
func TestUninjectAppOrder(t *testing.T) {
	raw, _ := injected(t, "several-init", sidecar.Native)
	obj := decode(t, raw)
	m, err := sidecar.Uninject(obj.Meta, obj.Spec, "proxy")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := m.JSONPatch(obj.Root)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, o := range ops {
		if p := strings.SplitN(o.Path, "/", 5); len(p) == 5 && p[2] == "containers" && (len(order) == 0 || order[len(order)-1] != p[3]) {
			order = append(order, p[3])
		}
	}
	if want := []string{"0", "1"}; !cmp.Equal(order, want) {
		t.Errorf("containers edited in the order %v, want %v: %s", order, want, mustJSON(t, ops))
	}
}

// Of two volumes of the sidecar's name (an invalid pod), Uninject verifies
// the first, removes it, and leaves the author's second.
func TestUninjectFirstOfTwoVolumes(t *testing.T) {
	raw, _ := injected(t, "no-init", sidecar.Native)
	raw = apply(t, raw, patch.Ops{op("add", "/spec/volumes/-", `{"name":"proxy-socket","emptyDir":{"medium":"Memory","sizeLimit":"1Mi"}}`)})
	vols := decode(t, uninjectRaw(t, raw)).Spec.Volumes
	if volumeNames(vols) != "data,proxy-socket" || vols[1].EmptyDir == nil || vols[1].EmptyDir.SizeLimit == nil {
		t.Errorf("volumes %s %+v; want data and the author's proxy-socket", volumeNames(vols), vols)
	}
}

// Uninject goes through the volumes a record claims in name order: of two
// that an author's container still mounts, it names the first.
func TestUninjectVolumesInNameOrder(t *testing.T) {
	raw, _, _ := injectRaw(t, pod(t, "no-init"), withCommand(t), sidecar.Options{Mode: sidecar.Universal, Universal: optioncases.Planner()}, native)
	obj := decode(t, raw)
	if v := volumeNames(obj.Spec.Volumes); v != "data,proxy-socket,proxy-handshake" {
		t.Fatalf("volumes %s", v)
	}
	app := -1
	for i := range obj.Spec.Containers {
		if obj.Spec.Containers[i].Name == "app" {
			app = i
		}
	}
	mounted := apply(t, raw, patch.Ops{
		op("add", fmt.Sprintf("/spec/containers/%d/volumeMounts/-", app), `{"name":"proxy-socket","mountPath":"/s"}`),
		op("add", fmt.Sprintf("/spec/containers/%d/volumeMounts/-", app), `{"name":"proxy-handshake","mountPath":"/h"}`),
	})
	o := decode(t, mounted)
	_, err := sidecar.Uninject(o.Meta, o.Spec, "proxy")
	if want := `still mounts volume "proxy-handshake"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Uninject: %v, want %q", err, want)
	}
}

// Uninject without a record refuses a container of the sidecar's name in
// either list, wherever it is.
func TestUninjectUnrecordedContainer(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want string
	}{
		{"first regular container", corev1.PodSpec{Containers: []corev1.Container{{Name: "proxy"}, {Name: "app"}}}, "spec.containers[0]"},
		{"second regular container", corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: "proxy"}}}, "spec.containers[1]"},
		{"first init container", corev1.PodSpec{InitContainers: []corev1.Container{{Name: "proxy"}}, Containers: []corev1.Container{{Name: "app"}}}, "spec.initContainers[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sidecar.Uninject(nil, &tc.spec, "proxy")
			want := "sidecar: uninject: " + tc.want + `: container "proxy" was not injected by sidecarkit (no sidecar.sidecarkit.io/proxy annotation)`
			if err == nil || err.Error() != want {
				t.Errorf("Uninject: %v, want %s", err, want)
			}
		})
	}
	if m, err := sidecar.Uninject(nil, &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}, "proxy"); err != nil || !m.Empty() {
		t.Errorf("Uninject of a pod without the sidecar: %v, empty %v", err, m != nil && m.Empty())
	}
}

// What an application container had before the injection is not the
// injection's to judge: a mount of a volume the pod lacks does not fail
// Inject, whether or not the container gets a mount from the Spec.
func TestAuthorsInvalidMountNotJudged(t *testing.T) {
	raw := apply(t, pod(t, "no-init"), patch.Ops{op("add", "/spec/containers/0/volumeMounts/-", `{"name":"missing","mountPath":"/m"}`)})
	for _, s := range []sidecar.Spec{loadSpec(t, "plain"), fullWith(t, func(s *sidecar.Spec) { s.AppMounts = nil }), loadSpec(t, "full")} {
		if err := injectErr(t, raw, s, sidecar.Native); err != nil {
			t.Errorf("Inject: %v", err)
		}
	}
}

// ValidatePod reports each rule a name breaks, in the order
// k8s.io/apimachinery's validation gives them.
func TestValidatePodMessagesInOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    corev1.Container
		path string
		want []string
	}{
		{"container name", corev1.Container{Name: strings.Repeat("P", 64)}, "spec.containers[0].name",
			[]string{"must be no more than 63 characters", "a lowercase RFC 1123 label"}},
		{"port name", corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "-0123456789abcdef", ContainerPort: 80}}}, "spec.containers[0].ports[0].name",
			[]string{"must be no more than 15 characters", "must not begin or end with a hyphen"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := sidecar.ValidatePod(&corev1.PodSpec{Containers: []corev1.Container{tc.c}})
			if len(errs) != len(tc.want) {
				t.Fatalf("ValidatePod: %v; want %d errors", errs.ToAggregate(), len(tc.want))
			}
			for i, w := range tc.want {
				if errs[i].Field != tc.path || !strings.Contains(errs[i].Detail, w) {
					t.Errorf("error %d: %v; want one at %s with %q", i, errs[i], tc.path, w)
				}
			}
		})
	}
}

// A legacy sidecar's hostPort that two application containers also use
// clashes with both: each later use is reported against the first.
func TestHostPortClashesWithEveryLaterUse(t *testing.T) {
	s := fullWith(t, func(s *sidecar.Spec) {
		s.Container.Ports = []corev1.ContainerPort{{ContainerPort: 15001, HostPort: 15001}}
	})
	port := `[{"containerPort":15001,"hostPort":15001}]`
	raw := apply(t, pod(t, "several-init"), patch.Ops{
		op("add", "/spec/containers/0/ports", port),
		op("add", "/spec/containers/1/ports", port),
	})
	err := injectErr(t, raw, s, sidecar.Legacy)
	for _, want := range []string{
		`spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//15001"`,
		`spec.containers[2].ports[0].hostPort: Duplicate value: "TCP//15001"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Inject: %v\nwant %s", err, want)
		}
	}
}

// The record of the universal pair, built for each pod, identifies the
// Spec injected as the other modes' records do: the same Spec, the same
// hash; another Spec, another.
func TestUniversalRecordSpec(t *testing.T) {
	o := sidecar.Options{Mode: sidecar.Universal, Universal: optioncases.Planner()}
	v2 := withCommand(t)
	v2.Container.Image = "registry.example/proxy:3"
	var specs []string
	for _, s := range []sidecar.Spec{withCommand(t), withCommand(t), v2} {
		out, _, _ := injectRaw(t, pod(t, "no-init"), s, o, native)
		specs = append(specs, readRecord(t, out).Spec)
	}
	if specs[0] == "" || specs[0] != specs[1] || specs[2] == "" || specs[2] == specs[0] {
		t.Errorf("record spec hashes %q; want one for the first two Specs (the same) and another for the third", specs)
	}
}

// InjectObject on a pod injected as specified, whose sidecar carries no
// field the API types do not know, changes nothing and warns of nothing.
func TestInjectObjectAgainIsEmpty(t *testing.T) {
	in, err := sidecar.NewInjector(loadSpec(t, "full"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Legacy} {
		raw, _ := injected(t, "several-init", mode)
		res, err := in.InjectObject(context.Background(), decode(t, raw), native, sidecar.Options{Mode: mode})
		if err != nil || !res.Mutation.Empty() || len(res.Warnings) > 0 || res.Skipped != sidecar.SkipAlreadyInjected {
			t.Errorf("%s: InjectObject again: %v, empty %v, skipped %q, warnings %q", mode, err, res.Mutation.Empty(), res.Skipped, res.Warnings)
		}
	}
}

// A volume a new Spec dropped, which the pod's author removed already, is
// forgotten without a word: there is nothing to remove or to leave.
func TestDroppedVolumeAlreadyGone(t *testing.T) {
	raw, _ := injected(t, "no-init", sidecar.Native)
	obj := decode(t, raw)
	at := -1
	for i := range obj.Spec.Volumes {
		if obj.Spec.Volumes[i].Name == "proxy-socket" {
			at = i
		}
	}
	if at < 0 || len(obj.Spec.Volumes) < 2 {
		t.Fatalf("volumes %s", volumeNames(obj.Spec.Volumes))
	}
	gone := apply(t, raw, patch.Ops{op("remove", fmt.Sprintf("/spec/volumes/%d", at), "")})
	v2 := fullWith(t, func(s *sidecar.Spec) { s.Volumes, s.AppMounts, s.Container.VolumeMounts = nil, nil, nil })
	out, ops, res := injectRaw(t, gone, v2, sidecar.Options{Mode: sidecar.Native}, native)
	if len(res.Warnings) > 0 {
		t.Errorf("warnings %q, want none", res.Warnings)
	}
	if o := opsTouching(ops, "/spec/volumes"); len(o) > 0 {
		t.Errorf("volume ops %s, want none", mustJSON(t, o))
	}
	if rec := readRecord(t, out); len(rec.Volumes) != 0 {
		t.Errorf("the record still claims volumes %v", rec.Volumes)
	}
	converged(t, out, v2, sidecar.Native)
}

// A second container of a name the injection acts on is refused in either
// list, whether the name is only the plan's (no record claims it) or only
// the record's (the plan dropped it), and whether or not application
// containers get anything.
func TestDuplicateOfOneKindOfName(t *testing.T) {
	const proxy, old = `{"name":"proxy","image":"p"}`, `{"name":"proxy-old","image":"o"}`
	raw, _ := injected(t, "no-init", sidecar.Native)
	var r sidecar.Record
	if err := json.Unmarshal([]byte(decode(t, raw).Meta.Annotations[sidecar.Annotation("proxy")]), &r); err != nil {
		t.Fatal(err)
	}
	r.InitContainers["proxy-old"] = "0123456789abcdef"
	r.AppMounts, r.AppEnv = nil, nil
	claimsOld := apply(t, raw, patch.Ops{recordOp(t, string(mustJSON(t, r)))})
	plain := loadSpec(t, "plain")
	for _, tc := range []struct {
		name string
		doc  []byte
		spec sidecar.Spec
		want string
	}{
		{"the plan's, twice among init containers", apply(t, pod(t, "no-init"), patch.Ops{op("add", "/spec/initContainers", "["+proxy+","+proxy+"]")}),
			loadSpec(t, "full"), `spec.initContainers[1].name: Duplicate value: "proxy"`},
		{"the plan's, twice among regular containers, no app items", apply(t, pod(t, "no-init"), patch.Ops{op("add", "/spec/containers/-", proxy), op("add", "/spec/containers/-", proxy)}),
			plain, `spec.containers[2].name: Duplicate value: "proxy"`},
		{"the record's, twice among init containers", apply(t, claimsOld, patch.Ops{op("add", "/spec/initContainers/-", old), op("add", "/spec/initContainers/-", old)}),
			plain, `spec.initContainers[2].name: Duplicate value: "proxy-old"`},
		{"the record's, twice among regular containers, no app items", apply(t, claimsOld, patch.Ops{op("add", "/spec/containers/-", old), op("add", "/spec/containers/-", old)}),
			plain, `spec.containers[2].name: Duplicate value: "proxy-old"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := injectErr(t, tc.doc, tc.spec, sidecar.Native); err == nil || err.Error() != "sidecar: inject: "+tc.want {
				t.Errorf("Inject: %v, want %s", err, tc.want)
			}
		})
	}
}

// Uninject refuses what it cannot remove from a second application
// container of one name (an invalid pod): here an env var, the only
// thing the injection gave application containers.
func TestUninjectEnvOfDuplicateApp(t *testing.T) {
	envOnly := fullWith(t, func(s *sidecar.Spec) { s.AppMounts = nil })
	raw, _, _ := injectRaw(t, pod(t, "no-init"), envOnly, sidecar.Options{Mode: sidecar.Native}, native)
	app := decode(t, raw).Spec.Containers[0]
	app.Image = "other:1"
	obj := decode(t, apply(t, raw, patch.Ops{op("add", "/spec/containers/-", string(mustJSON(t, app)))}))
	const want = "sidecar: uninject: patch: remove from env: "
	if _, err := sidecar.Uninject(obj.Meta, obj.Spec, "proxy"); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Uninject: %v, want %q...", err, want)
	}
}
