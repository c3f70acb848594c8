package patch_test

import (
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sidecarkit/sidecarkit/internal/fuzzgen"
	"github.com/sidecarkit/sidecarkit/patch"
)

// TestDiffValueCases pins the exact patch Diff makes for a change of each
// kind of value it compares: string maps and resource lists (compared
// without reflection), quantities and int-or-strings (compared by their
// encoding), pointers that the API writes as null, lists of scalars, null
// versus empty lists, and keyed lists beyond the 16 elements the fast
// paths handle. Every case is also applied to the raw Pod, whose objects
// all carry a field unknown to the API types (checkRaw: the result decodes
// to after, no unknown field is lost, Verify finds nothing).
func TestDiffValueCases(t *testing.T) {
	app := func(mod func(c *corev1.Container)) corev1.PodSpec {
		c := corev1.Container{Name: "app", Image: "app"}
		mod(&c)
		return corev1.PodSpec{Containers: []corev1.Container{c}}
	}
	withNodeSelector := func(m map[string]string) corev1.PodSpec {
		s := app(func(*corev1.Container) {})
		s.NodeSelector = m
		return s
	}
	requests := func(l corev1.ResourceList) corev1.PodSpec {
		return app(func(c *corev1.Container) { c.Resources.Requests = l })
	}
	httpProbe := func(port intstr.IntOrString) corev1.PodSpec {
		return app(func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: port}}}
		})
	}
	grpcProbe := func(service *string) corev1.PodSpec {
		// GRPCAction.Service has no omitempty: nil is written as null.
		return app(func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000, Service: service}}}
		})
	}
	str := func(s string) *string { return &s }
	emptyDir := func(size string) corev1.PodSpec {
		s := app(func(*corev1.Container) {})
		q := resource.MustParse(size)
		s.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &q}}}}
		return s
	}
	args := func(a ...string) corev1.PodSpec { return app(func(c *corev1.Container) { c.Args = a }) }
	manyEnv := func(n int, changed int) corev1.PodSpec {
		return app(func(c *corev1.Container) {
			for i := 0; i < n; i++ {
				v := "v"
				if i == changed {
					v = "changed"
				}
				c.Env = append(c.Env, corev1.EnvVar{Name: "E" + strconv.Itoa(i), Value: v})
			}
		})
	}
	named := func(names ...string) []corev1.Container {
		out := []corev1.Container{}
		for _, n := range names {
			out = append(out, corev1.Container{Name: n, Image: "img"})
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		before, after corev1.PodSpec
		ops           string
	}{
		{"nodeSelector: a value changed under the same key",
			withNodeSelector(map[string]string{"disk": "ssd", "zone": "a"}), withNodeSelector(map[string]string{"disk": "hdd", "zone": "a"}),
			`[{"op":"add","path":"/spec/nodeSelector/disk","value":"hdd"}]`},
		{"nodeSelector: the only value changed",
			withNodeSelector(map[string]string{"disk": "ssd"}), withNodeSelector(map[string]string{"disk": "hdd"}),
			`[{"op":"add","path":"/spec/nodeSelector/disk","value":"hdd"}]`},
		{"nodeSelector: a key added, the others kept",
			withNodeSelector(map[string]string{"disk": "ssd"}), withNodeSelector(map[string]string{"disk": "ssd", "zone": "a"}),
			`[{"op":"add","path":"/spec/nodeSelector/zone","value":"a"}]`},
		{"nodeSelector: an empty value moved to another key",
			withNodeSelector(map[string]string{"a": ""}), withNodeSelector(map[string]string{"b": ""}),
			`[{"op":"remove","path":"/spec/nodeSelector/a"},{"op":"add","path":"/spec/nodeSelector/b","value":""}]`},
		{"nodeSelector: a key that needs escaping removed",
			withNodeSelector(map[string]string{"zone/x~y": "a", "disk": "ssd"}), withNodeSelector(map[string]string{"disk": "ssd"}),
			`[{"op":"remove","path":"/spec/nodeSelector/zone~1x~0y"}]`},
		{"nodeSelector: two keys removed, in key order",
			withNodeSelector(map[string]string{"a": "1", "b": "2", "c": "3"}), withNodeSelector(map[string]string{"b": "2"}),
			`[{"op":"remove","path":"/spec/nodeSelector/a"},{"op":"remove","path":"/spec/nodeSelector/c"}]`},
		{"nodeSelector: equal maps, nothing",
			withNodeSelector(map[string]string{"disk": "ssd", "zone": "a"}), withNodeSelector(map[string]string{"zone": "a", "disk": "ssd"}),
			`[]`},
		{"requests: a quantity changed under the same resource",
			requests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}), requests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}),
			`[{"op":"add","path":"/spec/containers/0/resources/requests/cpu","value":"200m"}]`},
		{"requests: one of two quantities changed",
			requests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}),
			requests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}),
			`[{"op":"add","path":"/spec/containers/0/resources/requests/memory","value":"128Mi"}]`},
		{"requests: a zero quantity moved to another resource",
			requests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0")}), requests(corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("0")}),
			`[{"op":"remove","path":"/spec/containers/0/resources/requests/cpu"},{"op":"add","path":"/spec/containers/0/resources/requests/memory","value":"0"}]`},
		{"requests: equal quantities, nothing",
			requests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}), requests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}),
			`[]`},
		{"a quantity behind a pointer changed",
			emptyDir("1Gi"), emptyDir("2Gi"),
			`[{"op":"add","path":"/spec/volumes/0/emptyDir/sizeLimit","value":"2Gi"}]`},
		{"an int-or-string port: another number",
			httpProbe(intstr.FromInt(8080)), httpProbe(intstr.FromInt(8081)),
			`[{"op":"add","path":"/spec/containers/0/readinessProbe/httpGet/port","value":8081}]`},
		{"an int-or-string port: a number becomes a name",
			httpProbe(intstr.FromInt(8080)), httpProbe(intstr.FromString("http")),
			`[{"op":"add","path":"/spec/containers/0/readinessProbe/httpGet/port","value":"http"}]`},
		{"an int-or-string port: another name",
			httpProbe(intstr.FromString("http")), httpProbe(intstr.FromString("web")),
			`[{"op":"add","path":"/spec/containers/0/readinessProbe/httpGet/port","value":"web"}]`},
		{"an int-or-string port: unchanged, nothing",
			httpProbe(intstr.FromInt(8080)), httpProbe(intstr.FromInt(8080)),
			`[]`},
		{"an int-or-string port: the same name, nothing",
			httpProbe(intstr.FromString("http")), httpProbe(intstr.FromString("http")),
			`[]`},
		{"a timestamp that encodes alike (same second), nothing",
			claimTemplateAt(time.Unix(1700000000, 500)), claimTemplateAt(time.Unix(1700000000, 0)),
			`[]`},
		{"a timestamp a second later",
			claimTemplateAt(time.Unix(1700000000, 0)), claimTemplateAt(time.Unix(1700000001, 0)),
			`[{"op":"add","path":"/spec/volumes/0/ephemeral/volumeClaimTemplate/metadata/creationTimestamp","value":"2023-11-14T22:13:21Z"}]`},
		{"a pointer written as null gets a value",
			grpcProbe(nil), grpcProbe(str("health")),
			`[{"op":"add","path":"/spec/containers/0/livenessProbe/grpc/service","value":"health"}]`},
		{"a pointer's value changed",
			grpcProbe(str("a")), grpcProbe(str("b")),
			`[{"op":"add","path":"/spec/containers/0/livenessProbe/grpc/service","value":"b"}]`},
		{"a pointer back to null",
			grpcProbe(str("a")), grpcProbe(nil),
			`[{"op":"add","path":"/spec/containers/0/livenessProbe/grpc/service","value":null}]`},
		{"a list of scalars of the same length: replaced whole, once",
			args("a", "b"), args("a", "c"),
			`[{"op":"add","path":"/spec/containers/0/args","value":["a","c"]}]`},
		{"a list of scalars lengthened: replaced whole, once",
			args("a"), args("a", "b"),
			`[{"op":"add","path":"/spec/containers/0/args","value":["a","b"]}]`},
		{"containers: null becomes []",
			corev1.PodSpec{}, corev1.PodSpec{Containers: []corev1.Container{}},
			`[{"op":"add","path":"/spec/containers","value":[]}]`},
		{"containers: null becomes a list, added whole",
			corev1.PodSpec{}, corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
			`[{"op":"add","path":"/spec/containers","value":[{"name":"app"}]}]`},
		{"an init container of a Pod with 40 containers becomes a regular one: moved",
			corev1.PodSpec{InitContainers: named("i0"), Containers: named(numbered("c", 40)...)},
			corev1.PodSpec{Containers: named(append(numbered("c", 40), "i0")...)},
			`[{"op":"move","from":"/spec/initContainers/0","path":"/spec/containers/40"}]`},
		{"a regular container of a Pod with 40 containers becomes an init container: moved",
			corev1.PodSpec{Containers: named(numbered("c", 40)...)},
			corev1.PodSpec{InitContainers: named("c3"), Containers: named(append(numbered("c", 3), numbered("c", 40)[4:]...)...)},
			`[{"op":"add","path":"/spec/initContainers","value":[]},{"op":"move","from":"/spec/containers/3","path":"/spec/initContainers/0"}]`},
		{"an omitempty bool set to false: removed",
			app(func(c *corev1.Container) { c.Stdin = true }), app(func(*corev1.Container) {}),
			`[{"op":"remove","path":"/spec/containers/0/stdin"}]`},
		{"an omitempty bool set to true: added",
			app(func(*corev1.Container) {}), app(func(c *corev1.Container) { c.TTY = true }),
			`[{"op":"add","path":"/spec/containers/0/tty","value":true}]`},
		{"an omitempty integer set to 0: removed",
			app(func(c *corev1.Container) {
				c.ReadinessProbe = &corev1.Probe{PeriodSeconds: 10, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			}),
			app(func(c *corev1.Container) {
				c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			}),
			`[{"op":"remove","path":"/spec/containers/0/readinessProbe/periodSeconds"}]`},
		{"an omitempty pointer set to nil: removed",
			app(func(c *corev1.Container) { c.SecurityContext = &corev1.SecurityContext{RunAsNonRoot: ptrBool(true)} }),
			app(func(*corev1.Container) {}),
			`[{"op":"remove","path":"/spec/containers/0/securityContext"}]`},
		{"an ephemeral container's field (an inline embedded struct)",
			corev1.PodSpec{Containers: named("app"), EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "a"}, TargetContainerName: "app"}}},
			corev1.PodSpec{Containers: named("app"), EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "b"}, TargetContainerName: "app"}}},
			`[{"op":"add","path":"/spec/ephemeralContainers/0/image","value":"b"}]`},
		{"ephemeral containers reordered: keyed by the embedded name",
			corev1.PodSpec{Containers: named("app"), EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "d1"}}, {EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "d2"}}}},
			corev1.PodSpec{Containers: named("app"), EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "d2"}}, {EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "d1"}}}},
			`[{"op":"move","from":"/spec/ephemeralContainers/0","path":"/spec/ephemeralContainers/1"}]`},
		{"an embedded struct with a JSON name is a member (volumeClaimTemplate metadata)",
			claimTemplate(map[string]string{"a": "1"}), claimTemplate(map[string]string{"a": "2"}),
			`[{"op":"add","path":"/spec/volumes/0/ephemeral/volumeClaimTemplate/metadata/labels/a","value":"2"}]`},
		{"env of 20, one value changed: one op (keyed, same keys)",
			manyEnv(20, -1), manyEnv(20, 7),
			`[{"op":"add","path":"/spec/containers/0/env/7/value","value":"changed"}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := fuzzgen.PlantUnknown(&tc.before, &metav1.ObjectMeta{Name: "p"})
			ops := podDiff(t, &tc.before, &tc.after)
			if got := string(mustMarshal(t, ops)); got != tc.ops {
				t.Errorf("ops:\n got %s\nwant %s", got, tc.ops)
			}
			checkRaw(t, raw, ops, &tc.after, nil)
		})
	}
}

// podDiff returns the ops of Diff(before, after) for a Pod.
func podDiff(t *testing.T, before, after *corev1.PodSpec) patch.Ops {
	t.Helper()
	m, err := patch.Diff(before, after)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := m.JSONPatch(patch.PodRoot)
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// numbered returns prefix0 … prefix(n-1).
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// TestDiffRawCases covers lists whose elements Diff must not match by key
// (an empty or repeated merge key: they are compared by index, so each
// raw element keeps its unknown field where it is) and a container that
// after holds in both lists (it stays where it is and a copy is added: only
// a container found in the other list alone moves). checkRaw's identity
// check names elements by key, so it cannot judge these: the expected
// document is built here, from the raw one.
func TestDiffRawCases(t *testing.T) {
	// env17 is E0 … E16 then E0 again: 18 elements, one key repeated,
	// beyond the 16 that the quadratic duplicate check handles.
	env17 := func() []corev1.EnvVar {
		var out []corev1.EnvVar
		for _, n := range append(numbered("E", 17), "E0") {
			out = append(out, corev1.EnvVar{Name: n, Value: "v"})
		}
		return out
	}
	rawEnv := func(env []corev1.EnvVar) string {
		s := `{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"app","env":[`
		for i, e := range env {
			if i > 0 {
				s += ","
			}
			s += `{"name":` + strconv.Quote(e.Name) + `,"value":` + strconv.Quote(e.Value) + `,"x":` + strconv.Itoa(i) + `}`
		}
		return s + `]}]}}`
	}
	dupBefore := env17()
	dupAfter := env17()[1:] // E1 … E16, E0: the first element removed
	// By index: element i keeps its unknown field and takes the name of
	// dupAfter[i]; the last one goes.
	dupWant := `{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"app","env":[`
	for i, e := range dupAfter {
		if i > 0 {
			dupWant += ","
		}
		dupWant += `{"name":` + strconv.Quote(e.Name) + `,"value":"v","x":` + strconv.Itoa(i) + `}`
	}
	dupWant += `]}]}}`

	for _, tc := range []struct {
		name          string
		before, after corev1.PodSpec
		raw, want     string
	}{
		{"env of 18 with a repeated name: compared by index",
			corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: dupBefore}}},
			corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: dupAfter}}},
			rawEnv(dupBefore), dupWant},
		{"env with an empty name, swapped: compared by index",
			corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: []corev1.EnvVar{{Name: "", Value: "e"}, {Name: "A", Value: "a"}}}}},
			corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: []corev1.EnvVar{{Name: "A", Value: "a"}, {Name: "", Value: "e"}}}}},
			`{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"app","env":[{"name":"","value":"e","x":0},{"name":"A","value":"a","x":1}]}]}}`,
			`{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"app","env":[{"name":"A","value":"a","x":0},{"name":"","value":"e","x":1}]}]}}`},
		{"an init container copied into containers: it stays, the copy is added",
			corev1.PodSpec{InitContainers: []corev1.Container{{Name: "a", Image: "a"}}, Containers: []corev1.Container{{Name: "app", Image: "app"}}},
			corev1.PodSpec{InitContainers: []corev1.Container{{Name: "a", Image: "a"}}, Containers: []corev1.Container{{Name: "app", Image: "app"}, {Name: "a", Image: "a"}}},
			`{"apiVersion":"v1","kind":"Pod","spec":{"initContainers":[{"name":"a","image":"a","x":1}],"containers":[{"name":"app","image":"app","x":2}]}}`,
			`{"apiVersion":"v1","kind":"Pod","spec":{"initContainers":[{"name":"a","image":"a","x":1}],"containers":[{"name":"app","image":"app","x":2},{"name":"a","image":"a"}]}}`},
		{"a container copied into initContainers while its namesake leaves them: nothing moves",
			corev1.PodSpec{InitContainers: []corev1.Container{{Name: "a", Image: "init"}}, Containers: []corev1.Container{{Name: "a", Image: "app"}}},
			corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "app"}}},
			`{"apiVersion":"v1","kind":"Pod","spec":{"initContainers":[{"name":"a","image":"init","x":1}],"containers":[{"name":"a","image":"app","x":2}]}}`,
			`{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"a","image":"app","x":2}]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := podDiff(t, &tc.before, &tc.after)
			out, err := applyRaw([]byte(tc.raw), mustMarshal(t, ops))
			if err != nil {
				t.Fatalf("apply %s: %v", mustMarshal(t, ops), err)
			}
			if d := jsonDiff(t, []byte(tc.want), out); d != "" {
				t.Errorf("document (-want +got):\n%s\nops: %s", d, mustMarshal(t, ops))
			}
		})
	}
}

// claimTemplateAt is claimTemplate with the claim template's metadata
// created at t (metav1.Time encodes whole seconds, in UTC).
func claimTemplateAt(t time.Time) corev1.PodSpec {
	s := claimTemplate(map[string]string{"a": "1"})
	s.Volumes[0].Ephemeral.VolumeClaimTemplate.CreationTimestamp = metav1.NewTime(t)
	return s
}

// claimTemplate is a Pod with an ephemeral volume whose claim template
// (PersistentVolumeClaimTemplate embeds ObjectMeta as "metadata") has
// labels.
func claimTemplate(labels map[string]string) corev1.PodSpec {
	return corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app"}},
		Volumes: []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
			VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}},
			},
		}}}},
	}
}
