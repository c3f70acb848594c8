package sidecar

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Recognition by content (content.go): a planned container, its stored
// form (what the API server and its plugins make of it) and the update
// target of an older or altered container, each written out by hand so
// that the tests do not lean on the code they check.

const tokenVolume = "kube-api-access-x7k2p"

// richWant is a planned container that sets something of every kind the
// API server defaults, leaving the defaults unset.
func richWant() corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	return corev1.Container{
		Name: "proxy", Image: "registry.example/proxy:2",
		Args:  []string{"--listen=:15001"},
		Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001}, {Name: "admin", ContainerPort: 15000, Protocol: corev1.ProtocolTCP}},
		Env: []corev1.EnvVar{
			{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "NS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}},
			{Name: "LEVEL", Value: "info"},
		},
		Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{"memory": resource.MustParse("128Mi")},
			Requests: corev1.ResourceList{"cpu": resource.MustParse("100m")},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "proxy-socket", MountPath: "/var/run/proxy"}},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt(15021)}},
			PeriodSeconds: 5},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 15020}}},
		StartupProbe:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(15001)}}, FailureThreshold: 30},
		Lifecycle: &corev1.Lifecycle{
			PostStart: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt(15000)}},
			PreStop:   &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt(15000), Scheme: corev1.URISchemeHTTPS}},
		},
		RestartPolicy: &always,
	}
}

// richStored is richWant as the API server stores it in a Pod: every
// default filled in, the ServiceAccount plugin's token mount, a CPU limit
// from LimitRanger (a resource the spec leaves unset) and the pull policy.
func richStored() corev1.Container {
	c := richWant()
	c.ImagePullPolicy = corev1.PullIfNotPresent
	c.TerminationMessagePath = "/dev/termination-log"
	c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	c.Ports[0].Protocol = corev1.ProtocolTCP
	c.Env[0].ValueFrom.FieldRef.APIVersion = "v1"
	c.Resources.Limits["cpu"] = resource.MustParse("500m")
	c.Resources.Requests["memory"] = resource.MustParse("128Mi")
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: tokenVolume, ReadOnly: true, MountPath: serviceAccountMountPath})
	c.LivenessProbe.TimeoutSeconds, c.LivenessProbe.SuccessThreshold, c.LivenessProbe.FailureThreshold = 1, 1, 3
	c.LivenessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Scheme = "/", corev1.URISchemeHTTP
	c.ReadinessProbe.TimeoutSeconds, c.ReadinessProbe.PeriodSeconds, c.ReadinessProbe.SuccessThreshold, c.ReadinessProbe.FailureThreshold = 1, 10, 1, 3
	c.ReadinessProbe.GRPC.Service = str("")
	c.StartupProbe.TimeoutSeconds, c.StartupProbe.PeriodSeconds, c.StartupProbe.SuccessThreshold = 1, 10, 1
	c.Lifecycle.PostStart.HTTPGet.Scheme = corev1.URISchemeHTTP
	c.Lifecycle.PreStop.HTTPGet.Path = "/"
	return c
}

func tokenFacts() podFacts {
	return podFacts{tokenVolumes: map[string]bool{tokenVolume: true}}
}

// TestStoredFormIsTheSpec: the stored form of a planned container is that
// container (same content, same digest), and updating it to the same spec
// keeps it exactly as stored.
func TestStoredFormIsTheSpec(t *testing.T) {
	want, stored := richWant(), richStored()
	f := tokenFacts()
	if !sameContainer(&stored, &want, &f, nil) {
		n, w := normalContainer(&stored, &want, &f, nil), normalContainer(&want, &want, &f, nil)
		t.Fatalf("the stored form is not recognised (-spec +stored):\n%s", cmp.Diff(w, n))
	}
	if containerDigest(&stored, &f) != containerDigest(&want, &f) {
		t.Error("the stored form has another digest")
	}
	if target := containerTarget(&stored, &want, &f, nil); !cmp.Equal(target, stored) {
		t.Errorf("the update target of the stored form strips or adds something (-stored +target):\n%s", cmp.Diff(stored, target))
	}
	// Without the token volume among the pod's, the mount is the
	// author's, a difference.
	var none podFacts
	if sameContainer(&stored, &want, &none, nil) || containerDigest(&stored, &none) == containerDigest(&want, &none) {
		t.Error("a mount at the token path of a volume that is not the plugin's is ignored")
	}
}

// TestTemplateTargetAddsNoDefault: a container without defaults (a pod
// template) is updated to the new spec without gaining any default, and a
// container that has other values than the defaults does not keep them.
func TestTemplateTargetAddsNoDefault(t *testing.T) {
	want := richWant()
	f := tokenFacts()
	old := richWant()
	old.Image = "registry.example/proxy:1"
	old.Args = nil
	old.Env = old.Env[2:]
	old.LivenessProbe, old.Lifecycle = nil, nil
	if target := containerTarget(&old, &want, &f, nil); !cmp.Equal(target, want) {
		t.Errorf("target of a template container (-spec +target):\n%s", cmp.Diff(want, target))
	}
	// Values other than the defaults, where the spec sets none: the spec's
	// (unset) values win.
	odd := richStored()
	odd.TerminationMessagePath = "/tmp/msg"
	odd.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	odd.Ports[0].Protocol = corev1.ProtocolUDP
	odd.Ports[0].HostPort = 25001
	odd.Env[0].ValueFrom.FieldRef.APIVersion = "v2"
	odd.LivenessProbe.TimeoutSeconds, odd.LivenessProbe.SuccessThreshold, odd.LivenessProbe.FailureThreshold = 2, 2, 4
	odd.LivenessProbe.HTTPGet.Path, odd.LivenessProbe.HTTPGet.Scheme = "/other", corev1.URISchemeHTTPS
	odd.ReadinessProbe.TimeoutSeconds, odd.ReadinessProbe.PeriodSeconds = 3, 30
	odd.Lifecycle.PostStart.HTTPGet.Scheme = corev1.URISchemeHTTPS
	odd.Lifecycle.PreStop.HTTPGet.Path = "/other"
	wantT := richStored()
	wantT.TerminationMessagePath, wantT.TerminationMessagePolicy = "", ""
	wantT.Ports[0].Protocol = ""
	wantT.Env[0].ValueFrom.FieldRef.APIVersion = ""
	wantT.LivenessProbe.TimeoutSeconds, wantT.LivenessProbe.SuccessThreshold, wantT.LivenessProbe.FailureThreshold = 0, 0, 0
	wantT.LivenessProbe.HTTPGet.Path, wantT.LivenessProbe.HTTPGet.Scheme = "", ""
	wantT.ReadinessProbe.TimeoutSeconds, wantT.ReadinessProbe.PeriodSeconds = 0, 0
	wantT.Lifecycle.PostStart.HTTPGet.Scheme = ""
	wantT.Lifecycle.PreStop.HTTPGet.Path = ""
	if target := containerTarget(&odd, &want, &f, nil); !cmp.Equal(target, wantT) {
		t.Errorf("target of a container with values other than the defaults (-want +target):\n%s", cmp.Diff(wantT, target))
	}
	if sameContainer(&odd, &want, &f, nil) {
		t.Error("values other than the defaults are not a difference")
	}
}

// TestTargetPortsAndEnvMatchByIdentity: a port's defaults stay only when
// the pod's container has a port of the same number and name with them;
// an env var's apiVersion only when it has that var from a fieldRef with
// the default.
func TestTargetPortsAndEnvMatchByIdentity(t *testing.T) {
	want := corev1.Container{Name: "proxy", Image: "p:1",
		Ports: []corev1.ContainerPort{{Name: "a", ContainerPort: 80}, {Name: "b", ContainerPort: 81}, {Name: "c", ContainerPort: 82}},
		Env: []corev1.EnvVar{
			{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "B", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "C", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "D", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "E", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}},
		}}
	c := corev1.Container{Name: "proxy", Image: "p:1",
		// 80 under another name, 81 with the defaults, 82 with its number changed.
		Ports: []corev1.ContainerPort{{Name: "x", ContainerPort: 80, Protocol: "TCP", HostPort: 80}, {Name: "b", ContainerPort: 81, Protocol: "TCP", HostPort: 81}, {Name: "c", ContainerPort: 83, Protocol: "TCP", HostPort: 83}},
		Env: []corev1.EnvVar{
			{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
			{Name: "B", Value: "plain"},
			{Name: "C", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
		}}
	hostNet := podFacts{defaults: podDefaults{hostNetwork: true}}
	// Of two ports of one number and name, the first is the spec's.
	dup := corev1.Container{Name: "proxy", Image: "p:1", Ports: []corev1.ContainerPort{{ContainerPort: 53}}}
	dupPod := corev1.Container{Name: "proxy", Image: "p:1", Ports: []corev1.ContainerPort{{ContainerPort: 53, Protocol: "TCP"}, {ContainerPort: 53, Protocol: "UDP"}}}
	if got := containerTarget(&dupPod, &dup, &podFacts{}, nil).Ports; len(got) != 1 || got[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("target ports %+v, want port 53 with the first match's TCP", got)
	}
	got := containerTarget(&c, &want, &hostNet, nil)
	wantT := *want.DeepCopy()
	wantT.Ports[1].Protocol, wantT.Ports[1].HostPort = "TCP", 81
	wantT.Env[0].ValueFrom.FieldRef.APIVersion = "v1"
	if !cmp.Equal(got, wantT) {
		t.Errorf("target (-want +got):\n%s", cmp.Diff(wantT, got))
	}
}

// TestTargetPullPolicy: an imagePullPolicy the spec leaves unset is the
// API server's: kept while the image stays, re-derived for a new image,
// never added.
func TestTargetPullPolicy(t *testing.T) {
	var f podFacts
	for _, tc := range []struct {
		name             string
		spec, pod        corev1.PullPolicy
		specImg, podImg  string
		want             corev1.PullPolicy
		same, sameDigest bool
	}{
		{"the spec's", corev1.PullNever, corev1.PullAlways, "p:1", "p:1", corev1.PullNever, false, true},
		{"kept for the same image", "", corev1.PullAlways, "p:1", "p:1", corev1.PullAlways, true, true},
		{"derived for a new image", "", corev1.PullAlways, "p:2", "p:1", corev1.PullIfNotPresent, false, false},
		{"derived for a new latest image", "", corev1.PullIfNotPresent, "p", "p:1", corev1.PullAlways, false, false},
		{"never added", "", "", "p:2", "p:1", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := corev1.Container{Name: "proxy", Image: tc.specImg, ImagePullPolicy: tc.spec}
			c := corev1.Container{Name: "proxy", Image: tc.podImg, ImagePullPolicy: tc.pod}
			if got := containerTarget(&c, &want, &f, nil).ImagePullPolicy; got != tc.want {
				t.Errorf("target imagePullPolicy %q, want %q", got, tc.want)
			}
			if got := sameContainer(&c, &want, &f, nil); got != tc.same {
				t.Errorf("sameContainer = %v, want %v", got, tc.same)
			}
			if got := containerDigest(&c, &f) == containerDigest(&want, &f); got != tc.sameDigest {
				t.Errorf("equal digests = %v, want %v", got, tc.sameDigest)
			}
		})
	}
}

// TestResourcesOwnership: the resources the spec sets, or the record says
// an earlier spec set, are the library's; the others (LimitRanger, an
// autoscaler, the author) are ignored in comparisons and kept in updates.
func TestResourcesOwnership(t *testing.T) {
	var f podFacts
	want := corev1.Container{Name: "proxy", Image: "p:1", Resources: corev1.ResourceRequirements{
		Limits: corev1.ResourceList{"memory": resource.MustParse("128Mi")}}}
	pod := corev1.Container{Name: "proxy", Image: "p:1", Resources: corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{"memory": resource.MustParse("128Mi"), "cpu": resource.MustParse("1"), "ephemeral-storage": resource.MustParse("1Gi")},
		Requests: corev1.ResourceList{"memory": resource.MustParse("128Mi"), "cpu": resource.MustParse("200m"), "ephemeral-storage": resource.MustParse("1Gi")}}}
	if !sameContainer(&pod, &want, &f, nil) {
		t.Error("resources the spec leaves unset are a difference")
	}
	for _, tc := range []struct {
		name       string
		owned      map[string]bool
		same       bool
		limits     []corev1.ResourceName
		requests   []corev1.ResourceName
		wantLimits int
	}{
		{"none owned", nil, true, []corev1.ResourceName{"cpu", "ephemeral-storage", "memory"}, []corev1.ResourceName{"cpu", "ephemeral-storage", "memory"}, 3},
		{"cpu limit owned", map[string]bool{"limits/cpu": true}, false, []corev1.ResourceName{"ephemeral-storage", "memory"}, []corev1.ResourceName{"cpu", "ephemeral-storage", "memory"}, 2},
		{"cpu request owned", map[string]bool{"requests/cpu": true}, false, []corev1.ResourceName{"cpu", "ephemeral-storage", "memory"}, []corev1.ResourceName{"ephemeral-storage", "memory"}, 3},
		{"storage owned", map[string]bool{"limits/ephemeral-storage": true, "requests/ephemeral-storage": true}, false, []corev1.ResourceName{"cpu", "memory"}, []corev1.ResourceName{"cpu", "memory"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameContainer(&pod, &want, &f, tc.owned); got != tc.same {
				t.Errorf("sameContainer = %v, want %v", got, tc.same)
			}
			target := containerTarget(&pod, &want, &f, tc.owned)
			if got := resourceNames(target.Resources.Limits); !cmp.Equal(got, tc.limits) {
				t.Errorf("target limits %v, want %v", got, tc.limits)
			}
			if got := resourceNames(target.Resources.Requests); !cmp.Equal(got, tc.requests) {
				t.Errorf("target requests %v, want %v", got, tc.requests)
			}
			// What is kept is a copy of the pod's value.
			if q := target.Resources.Limits["cpu"]; !q.IsZero() && !q.Equal(resource.MustParse("1")) {
				t.Errorf("kept cpu limit %v", q.String())
			}
			if containerDigest(&pod, &f) != containerDigest(&want, &f) {
				t.Error("resources change the digest")
			}
			// So does a resize policy, which goes with the resources.
			resize := *pod.DeepCopy()
			resize.ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: "cpu", RestartPolicy: corev1.NotRequired}}
			if containerDigest(&resize, &f) != containerDigest(&want, &f) {
				t.Error("a resize policy changes the digest")
			}
		})
	}
	// A spec without resources keeps all of the pod's (copies).
	bare := corev1.Container{Name: "proxy", Image: "p:1"}
	kept := containerTarget(&pod, &bare, &f, nil)
	if !cmp.Equal(kept.Resources, pod.Resources) {
		t.Errorf("target of a spec without resources: %v, want the pod's %v", kept.Resources, pod.Resources)
	}
	q := kept.Resources.Limits["cpu"]
	q.Add(resource.MustParse("1"))
	kept.Resources.Limits["cpu"], kept.Resources.Requests["cpu"] = q, q
	if l, r := pod.Resources.Limits["cpu"], pod.Resources.Requests["cpu"]; !l.Equal(resource.MustParse("1")) || !r.Equal(resource.MustParse("200m")) {
		t.Errorf("the target shares the pod's quantities: %v %v", l.String(), r.String())
	}
	// A template: no requests derived from limits, none added.
	tmpl := corev1.Container{Name: "proxy", Image: "p:0"}
	target := containerTarget(&tmpl, &want, &f, nil)
	if target.Resources.Requests != nil || len(target.Resources.Limits) != 1 {
		t.Errorf("target of a template gains resources: %v", target.Resources)
	}
	// A request the spec sets itself stays, whatever the pod has.
	want.Resources.Requests = corev1.ResourceList{"memory": resource.MustParse("64Mi")}
	target = containerTarget(&tmpl, &want, &f, nil)
	if q := target.Resources.Requests["memory"]; !q.Equal(resource.MustParse("64Mi")) || len(target.Resources.Requests) != 1 {
		t.Errorf("target requests %v, want the spec's memory request alone", target.Resources.Requests)
	}
}

func resourceNames(l corev1.ResourceList) []corev1.ResourceName {
	var out []corev1.ResourceName
	for _, k := range []corev1.ResourceName{"cpu", "ephemeral-storage", "memory"} {
		if _, ok := l[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// TestTokenMount: only the ServiceAccount plugin's exact mount is ignored
// and kept; any variation of it is the author's, a difference.
func TestTokenMount(t *testing.T) {
	want := corev1.Container{Name: "proxy", Image: "p:1", VolumeMounts: []corev1.VolumeMount{{Name: "sock", MountPath: "/sock"}}}
	token := corev1.VolumeMount{Name: tokenVolume, ReadOnly: true, MountPath: serviceAccountMountPath}
	bidi := corev1.MountPropagationBidirectional
	f := tokenFacts()
	for _, tc := range []struct {
		name  string
		mount func(m *corev1.VolumeMount)
		same  bool
	}{
		{"the plugin's", func(*corev1.VolumeMount) {}, true},
		{"writable", func(m *corev1.VolumeMount) { m.ReadOnly = false }, false},
		{"another path", func(m *corev1.VolumeMount) { m.MountPath = "/var/run/secrets/other" }, false},
		{"another volume", func(m *corev1.VolumeMount) { m.Name = "kube-api-access-other" }, false},
		{"a subPath", func(m *corev1.VolumeMount) { m.SubPath = "token" }, false},
		{"a subPathExpr", func(m *corev1.VolumeMount) { m.SubPathExpr = "$(POD)" }, false},
		{"a propagation", func(m *corev1.VolumeMount) { m.MountPropagation = &bidi }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := token
			tc.mount(&m)
			c := *want.DeepCopy()
			c.VolumeMounts = append(c.VolumeMounts, m)
			if got := f.isTokenMount(&m); got != tc.same {
				t.Errorf("isTokenMount = %v, want %v", got, tc.same)
			}
			if got := sameContainer(&c, &want, &f, nil); got != tc.same {
				t.Errorf("sameContainer = %v, want %v", got, tc.same)
			}
			if got := containerDigest(&c, &f) == containerDigest(&want, &f); got != tc.same {
				t.Errorf("equal digests = %v, want %v", got, tc.same)
			}
			// The target keeps the plugin's mount, and nothing else of c.
			target := containerTarget(&c, &want, &f, nil)
			wantMounts := want.VolumeMounts
			if tc.same {
				wantMounts = c.VolumeMounts
			}
			if !cmp.Equal(target.VolumeMounts, wantMounts) {
				t.Errorf("target mounts %+v, want %+v", target.VolumeMounts, wantMounts)
			}
		})
	}
	// Two token-like mounts (a hostile pod): the target keeps both, in
	// the pod's order.
	two := tokenFacts()
	two.tokenVolumes["kube-api-access-b"] = true
	c2 := *want.DeepCopy()
	second := token
	second.Name = "kube-api-access-b"
	c2.VolumeMounts = append(c2.VolumeMounts, second, token)
	if target := containerTarget(&c2, &want, &two, nil); !cmp.Equal(target.VolumeMounts, c2.VolumeMounts) {
		t.Errorf("target mounts %+v, want %+v", target.VolumeMounts, c2.VolumeMounts)
	}
	// The token mount alone, on a spec without mounts.
	bare := corev1.Container{Name: "proxy", Image: "p:1"}
	c := *bare.DeepCopy()
	c.VolumeMounts = []corev1.VolumeMount{token}
	if !sameContainer(&c, &bare, &f, nil) || containerDigest(&c, &f) != containerDigest(&bare, &f) {
		t.Error("the token mount alone is a difference")
	}
	// A spec that mounts the token path itself: the plugin adds nothing,
	// and a token-like mount there is a difference.
	own := corev1.Container{Name: "proxy", Image: "p:1", VolumeMounts: []corev1.VolumeMount{{Name: "my-token", ReadOnly: true, MountPath: serviceAccountMountPath}}}
	c = *own.DeepCopy()
	c.VolumeMounts[0].Name = tokenVolume
	if sameContainer(&c, &own, &f, nil) {
		t.Error("a spec's own mount at the token path is replaced by the plugin's unnoticed")
	}
	if target := containerTarget(&c, &own, &f, nil); !cmp.Equal(target.VolumeMounts, own.VolumeMounts) {
		t.Errorf("target mounts %+v, want the spec's", target.VolumeMounts)
	}
}

// TestFactsOf: the plugin's token volumes are the projected volumes of its
// name prefix; hostNetwork comes from the pod.
func TestFactsOf(t *testing.T) {
	spec := corev1.PodSpec{HostNetwork: true, Volumes: []corev1.Volume{
		{Name: "kube-api-access-a", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}},
		{Name: "kube-api-access-b", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}},
		{Name: "kube-api-access-c", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}},
	}}
	f := factsOf(&spec)
	if !f.defaults.hostNetwork {
		t.Error("hostNetwork lost")
	}
	if want := map[string]bool{"kube-api-access-a": true, "kube-api-access-c": true}; !cmp.Equal(f.tokenVolumes, want) {
		t.Errorf("tokenVolumes %v, want %v", f.tokenVolumes, want)
	}
	if f := factsOf(&corev1.PodSpec{}); f.tokenVolumes != nil || f.defaults.hostNetwork {
		t.Errorf("facts of an empty pod: %+v", f)
	}
}

// TestDifferingFields names the fields in which two containers differ,
// whichever side has them.
func TestDifferingFields(t *testing.T) {
	a := corev1.Container{Name: "proxy", Image: "p:1", Command: []string{"x"}}
	b := corev1.Container{Name: "proxy", Image: "p:2", Args: []string{"y"}}
	if got := differingFields(&a, &b); !cmp.Equal(got, []string{"args", "command", "image"}) {
		t.Errorf("differingFields = %q", got)
	}
	if got := differingFields(&a, &a); got != nil {
		t.Errorf("differingFields of equal containers = %q", got)
	}
	if got := differingFields([]int{1}, &a); got != nil {
		t.Errorf("differingFields of a non-object = %q", got)
	}
}

// TestEqualJSON: values that encode alike are equal even where
// reflect.DeepEqual tells them apart (nil and empty, quantities of one
// value in other forms); others are not.
func TestEqualJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b interface{}
		want bool
	}{
		{"nil and empty", &corev1.VolumeMount{Name: "a", MountPath: "/a"}, &corev1.VolumeMount{Name: "a", MountPath: "/a"}, true},
		{"differ", &corev1.VolumeMount{Name: "a", MountPath: "/a"}, &corev1.VolumeMount{Name: "a", MountPath: "/b"}, false},
		{"empty args", &corev1.Container{Name: "a", Args: []string{}}, &corev1.Container{Name: "a"}, true},
		{"quantities", &corev1.ResourceList{"cpu": resource.MustParse("1000m")}, &corev1.ResourceList{"cpu": *resource.NewMilliQuantity(1000, resource.DecimalSI)}, true},
		{"other quantities", &corev1.ResourceList{"cpu": resource.MustParse("1")}, &corev1.ResourceList{"cpu": resource.MustParse("2")}, false},
	} {
		if got := equalJSON(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: equalJSON = %v, want %v", tc.name, got, tc.want)
		}
	}
	// A mount differs from the planned one by any field.
	m := corev1.VolumeMount{Name: "a", MountPath: "/a"}
	ro := m
	ro.ReadOnly = true
	if sameMount(&ro, &m) || !sameMount(&m, &m) {
		t.Error("sameMount")
	}
}

// TestSameEnv: a plain value must match exactly, a fieldRef modulo its
// default apiVersion.
func TestSameEnv(t *testing.T) {
	ref := func(name, apiVersion, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: apiVersion, FieldPath: path}}}
	}
	for _, tc := range []struct {
		name    string
		e, want corev1.EnvVar
		same    bool
	}{
		{"same value", corev1.EnvVar{Name: "A", Value: "x"}, corev1.EnvVar{Name: "A", Value: "x"}, true},
		{"other value", corev1.EnvVar{Name: "A", Value: "y"}, corev1.EnvVar{Name: "A", Value: "x"}, false},
		{"other name", corev1.EnvVar{Name: "B", Value: "x"}, corev1.EnvVar{Name: "A", Value: "x"}, false},
		{"value for a fieldRef", corev1.EnvVar{Name: "A", Value: "x"}, ref("A", "", "metadata.name"), false},
		{"fieldRef for a value", ref("A", "v1", "metadata.name"), corev1.EnvVar{Name: "A", Value: "x"}, false},
		{"fieldRef for an empty value", ref("A", "v1", "metadata.name"), corev1.EnvVar{Name: "A"}, false},
		{"empty value for a fieldRef", corev1.EnvVar{Name: "A"}, ref("A", "", "metadata.name"), false},
		{"defaulted fieldRef", ref("A", "v1", "metadata.name"), ref("A", "", "metadata.name"), true},
		{"other fieldRef", ref("A", "v1", "metadata.uid"), ref("A", "", "metadata.name"), false},
	} {
		if got := sameEnv(&tc.e, &tc.want); got != tc.same {
			t.Errorf("%s: sameEnv = %v, want %v", tc.name, got, tc.same)
		}
		if got := envDigest(&tc.e) == envDigest(&tc.want); got != tc.same {
			t.Errorf("%s: equal digests = %v, want %v", tc.name, got, tc.same)
		}
	}
}

// TestResourceKeys lists what a spec sets, with the requests derived from
// its limits, sorted.
func TestResourceKeys(t *testing.T) {
	c := corev1.Container{Resources: corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{"memory": resource.MustParse("128Mi"), "cpu": resource.MustParse("1")},
		Requests: corev1.ResourceList{"cpu": resource.MustParse("100m"), "ephemeral-storage": resource.MustParse("1Gi")}}}
	want := []string{"limits/cpu", "limits/memory", "requests/cpu", "requests/ephemeral-storage", "requests/memory"}
	if got := resourceKeys(&c); !cmp.Equal(got, want) {
		t.Errorf("resourceKeys = %q, want %q", got, want)
	}
	if got := resourceKeys(&corev1.Container{}); got != nil {
		t.Errorf("resourceKeys of no resources = %q", got)
	}
	if len(c.Resources.Requests) != 2 {
		t.Error("resourceKeys changed its argument")
	}
}
