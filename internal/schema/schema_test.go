package schema_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/internal/schema"
)

func decode(t *testing.T, s string) interface{} {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v interface{}
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

func TestLookupMergeKey(t *testing.T) {
	pod, ok := schema.ForKind("Pod")
	if !ok {
		t.Fatal("ForKind(Pod) not found")
	}
	cron, _ := schema.ForKind("CronJob")
	tests := []struct {
		name string
		root *schema.Type
		path []string
		want string
		kind schema.Kind
	}{
		{"containers", pod, []string{"spec", "containers"}, "name", schema.List},
		{"initContainers", pod, []string{"spec", "initContainers"}, "name", schema.List},
		{"ephemeralContainers", pod, []string{"spec", "ephemeralContainers"}, "name", schema.List},
		{"volumes", pod, []string{"spec", "volumes"}, "name", schema.List},
		{"env", pod, []string{"spec", "containers", "env"}, "name", schema.List},
		{"volumeMounts", pod, []string{"spec", "initContainers", "volumeMounts"}, "mountPath", schema.List},
		{"ports", pod, []string{"spec", "containers", "ports"}, "containerPort", schema.List},
		{"ephemeral env via inline common", pod, []string{"spec", "ephemeralContainers", "env"}, "name", schema.List},
		{"tolerations are not keyed", pod, []string{"spec", "tolerations"}, "", schema.List},
		{"envFrom is not keyed", pod, []string{"spec", "containers", "envFrom"}, "", schema.List},
		{"status conditions", pod, []string{"status", "conditions"}, "type", schema.List},
		{"cronjob template", cron, []string{"spec", "jobTemplate", "spec", "template", "spec", "containers"}, "name", schema.List},
		{"quantity is a leaf", pod, []string{"spec", "containers", "resources", "limits", "cpu"}, "", schema.Leaf},
		{"labels are a map", pod, []string{"metadata", "labels"}, "", schema.Map},
		{"inline TypeMeta", pod, []string{"kind"}, "", schema.Leaf},
		{"inline VolumeSource", pod, []string{"spec", "volumes", "emptyDir"}, "", schema.Struct},
		{"intstr is a leaf", pod, []string{"spec", "containers", "livenessProbe", "httpGet", "port"}, "", schema.Leaf},
		{"time is a leaf", pod, []string{"metadata", "creationTimestamp"}, "", schema.Leaf},
		{"managedFields fieldsV1 is a leaf", pod, []string{"metadata", "managedFields", "fieldsV1"}, "", schema.Leaf},
		{"unknown member", pod, []string{"spec", "x-unknown"}, "", schema.Unknown},
		{"case-sensitive", pod, []string{"spec", "Containers"}, "", schema.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.root.Lookup(tt.path...)
			if got.Kind() != tt.kind {
				t.Errorf("Lookup(%q).Kind() = %v, want %v", tt.path, got.Kind(), tt.kind)
			}
			if got.MergeKey() != tt.want {
				t.Errorf("Lookup(%q).MergeKey() = %q, want %q", tt.path, got.MergeKey(), tt.want)
			}
		})
	}
}

func TestForKindUnknown(t *testing.T) {
	if _, ok := schema.ForKind("ConfigMap"); ok {
		t.Error("ForKind(ConfigMap) reported ok")
	}
	for _, k := range schema.Kinds() {
		if s, ok := schema.ForKind(k); !ok || s.Kind() != schema.Struct {
			t.Errorf("ForKind(%q) = %v, %v", k, s, ok)
		}
	}
}

func TestNilType(t *testing.T) {
	var nt *schema.Type
	if nt.Kind() != schema.Unknown || nt.Field("a") != nil || nt.Elem() != nil || nt.MergeKey() != "" || nt.Lookup("a") != nil || nt.Unknowns(map[string]interface{}{"a": 1}) != nil || nt.Fields() != nil {
		t.Error("nil *Type is not a safe Unknown")
	}
	if schema.Of(nil) != nil {
		t.Error("Of(nil) != nil")
	}
}

func TestPathString(t *testing.T) {
	tests := []struct {
		name string
		path schema.Path
		want string
	}{
		{"root", nil, ""},
		{"members", schema.Path{schema.MemberSegment("spec"), schema.MemberSegment("x-unknown")}, "spec.x-unknown"},
		{"keyed", schema.Path{schema.MemberSegment("spec"), schema.MemberSegment("containers"), schema.KeySegment("name", "app", false), schema.MemberSegment("volumeMounts"), schema.KeySegment("mountPath", "/x", false), schema.MemberSegment("x-unknown")},
			"spec.containers[name=app].volumeMounts[mountPath=/x].x-unknown"},
		{"number key", schema.Path{schema.MemberSegment("ports"), schema.KeySegment("containerPort", "8080", true)}, "ports[containerPort=8080]"},
		{"string key that looks like a number", schema.Path{schema.MemberSegment("c"), schema.KeySegment("name", "8080", false)}, `c[name="8080"]`},
		{"key with brackets", schema.Path{schema.MemberSegment("c"), schema.KeySegment("name", "a]b", false)}, `c[name="a]b"]`},
		{"empty key", schema.Path{schema.MemberSegment("c"), schema.KeySegment("name", "", false)}, `c[name=""]`},
		{"index", schema.Path{schema.MemberSegment("tolerations"), schema.IndexSegment(2)}, "tolerations[2]"},
		{"annotation key", schema.Path{schema.MemberSegment("metadata"), schema.MemberSegment("annotations"), schema.MemberSegment("example.com/a~b")}, `metadata.annotations["example.com/a~b"]`},
		{"quoted first", schema.Path{schema.MemberSegment("a.b")}, `["a.b"]`},
		{"empty member", schema.Path{schema.MemberSegment("")}, `[""]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.path.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPathPrefix(t *testing.T) {
	a := schema.Path{schema.MemberSegment("spec"), schema.MemberSegment("containers")}
	b := a.Child(schema.KeySegment("name", "app", false))
	if !b.HasPrefix(a) || a.HasPrefix(b) || !a.HasPrefix(a) || !a.HasPrefix(nil) || b.Equal(a) || !b.Equal(b.Child(schema.IndexSegment(0))[:3]) {
		t.Error("HasPrefix/Equal wrong")
	}
	c := a.Child(schema.IndexSegment(1))
	if c[2] == b[2] || len(a) != 2 {
		t.Error("Child shares or mutates memory")
	}
}

func TestElementSegments(t *testing.T) {
	pod, _ := schema.ForKind("Pod")
	containers := pod.Lookup("spec", "containers")
	tolerations := pod.Lookup("spec", "tolerations")
	tests := []struct {
		name string
		typ  *schema.Type
		keys []interface{} // nil entry: key missing
		want string
	}{
		{"unique names", containers, []interface{}{"a", "b"}, "[name=a] [name=b]"},
		{"duplicate falls back to index", containers, []interface{}{"a", "a", "b"}, "[0] [1] [name=b]"},
		{"missing key", containers, []interface{}{nil, "b"}, "[0] [name=b]"},
		{"non-scalar key", containers, []interface{}{true, map[string]interface{}{}}, "[0] [1]"},
		{"numbers", pod.Lookup("spec", "containers", "ports"), []interface{}{json.Number("80"), float64(443)}, "[containerPort=80] [containerPort=443]"},
		{"string and number differ", pod.Lookup("spec", "containers", "ports"), []interface{}{json.Number("80"), "80"}, `[containerPort=80] [containerPort="80"]`},
		{"unkeyed list", tolerations, []interface{}{"a", "b"}, "[0] [1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs := tt.typ.ElementSegments(len(tt.keys), func(i int) (interface{}, bool) {
				return tt.keys[i], tt.keys[i] != nil
			})
			got := ""
			for i, s := range segs {
				if i > 0 {
					got += " "
				}
				got += s.String()
			}
			if got != tt.want {
				t.Errorf("segments = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnknowns(t *testing.T) {
	doc := decode(t, `{
	  "apiVersion": "v1", "kind": "Pod", "x-top": {"b": 2, "a": 1},
	  "metadata": {"name": "p", "annotations": {"example.com/a~b": "v"}, "labels": {"x-not-unknown": "v"}, "x-meta": true},
	  "spec": {
	    "x-spec": null,
	    "initContainers": [{"name": "init", "restartPolicy": "Always", "x-init": 1}],
	    "containers": [
	      {"name": "app", "image": "nginx", "x-app": [1, 2],
	       "resources": {"limits": {"cpu": "1"}, "x-res": "r"},
	       "ports": [{"containerPort": 8080, "x-port": 1}],
	       "volumeMounts": [{"name": "v", "mountPath": "/x", "x-unknown": "m"}],
	       "livenessProbe": {"httpGet": {"port": 8080, "x-get": 1}, "x-probe": 1},
	       "env": [{"name": "A", "value": "1", "x-env": 1}, {"name": "A", "x-dup": 1}]},
	      {"image": "noname", "x-noname": 1}
	    ],
	    "tolerations": [{"key": "k", "x-tol": 1}],
	    "volumes": [{"name": "v", "emptyDir": {"x-src": 1}, "x-vol": 1}],
	    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "In", "x-expr": 1}], "x-term": 1}]}}}
	  },
	  "status": {"phase": "Pending", "x-status": 1, "containerStatuses": [{"name": "app", "x-cs": 1}]}
	}`)
	pod, _ := schema.ForKind("Pod")
	got := map[string]string{}
	for _, u := range pod.Unknowns(doc) {
		got[u.Path.String()] = string(u.Value)
	}
	want := map[string]string{
		"x-top":                                     `{"a":1,"b":2}`,
		"metadata.x-meta":                           `true`,
		"spec.x-spec":                               `null`,
		"spec.initContainers[name=init].x-init":     `1`,
		"spec.containers[name=app].x-app":           `[1,2]`,
		"spec.containers[name=app].resources.x-res": `"r"`,
		"spec.containers[name=app].ports[containerPort=8080].x-port":     `1`,
		"spec.containers[name=app].volumeMounts[mountPath=/x].x-unknown": `"m"`,
		"spec.containers[name=app].livenessProbe.httpGet.x-get":          `1`,
		"spec.containers[name=app].livenessProbe.x-probe":                `1`,
		"spec.containers[name=app].env[0].x-env":                         `1`,
		"spec.containers[name=app].env[1].x-dup":                         `1`,
		"spec.containers[1].x-noname":                                    `1`,
		"spec.tolerations[0].x-tol":                                      `1`,
		"spec.volumes[name=v].emptyDir.x-src":                            `1`,
		"spec.volumes[name=v].x-vol":                                     `1`,
		"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].x-expr": `1`,
		"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].x-term":                     `1`,
		"status.x-status":                  `1`,
		"status.containerStatuses[0].x-cs": `1`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Unknowns mismatch (-want +got):\n%s", diff)
	}
}

func TestUnknownsMismatchedShapes(t *testing.T) {
	pod, _ := schema.ForKind("Pod")
	doc := decode(t, `{"spec": {"containers": "oops", "securityContext": [1], "volumes": {"x": 1}}, "metadata": 7}`)
	if got := pod.Unknowns(doc); len(got) != 0 {
		t.Errorf("Unknowns = %v, want none for values of the wrong shape", got)
	}
}

// TestUnknownsTypedRoundTrip checks that a typed object marshalled by
// encoding/json has no unknown fields: every member the types write, the
// schema knows.
func TestUnknownsTypedRoundTrip(t *testing.T) {
	pod := corev1.Pod{Spec: corev1.PodSpec{
		InitContainers:      []corev1.Container{{Name: "s", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways), SecurityContext: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}}}},
		Containers:          []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{ContainerPort: 80}}, Env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "x"}}}}}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg"}, TargetContainerName: "app"}},
		Volumes:             []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{Items: []corev1.KeyToPath{{Key: "k", Path: "p"}}}}}}}}},
	}}
	b, err := json.Marshal(&pod)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := schema.ForKind("Pod")
	if got := s.Unknowns(decode(t, string(b))); len(got) != 0 {
		t.Errorf("typed Pod has unknown fields: %v", got)
	}
}

// BenchmarkForKindPod times the lookup of the Pod graph once it is built
// (the first call, before the timer, builds it and must find it).
func BenchmarkForKindPod(b *testing.B) {
	if s, ok := schema.ForKind("Pod"); !ok || s == nil {
		b.Fatalf("ForKind(Pod) = %v, %v", s, ok)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		schema.ForKind("Pod")
	}
}
