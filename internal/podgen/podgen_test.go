package podgen_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/internal/podgen"
	"github.com/sidecarkit/sidecarkit/internal/schema"
)

func typed(kind string) interface{} {
	switch kind {
	case "Pod":
		return &corev1.Pod{}
	case "PodTemplate":
		return &corev1.PodTemplate{}
	case "ReplicationController":
		return &corev1.ReplicationController{}
	case "Deployment":
		return &appsv1.Deployment{}
	case "StatefulSet":
		return &appsv1.StatefulSet{}
	case "DaemonSet":
		return &appsv1.DaemonSet{}
	case "ReplicaSet":
		return &appsv1.ReplicaSet{}
	case "Job":
		return &batchv1.Job{}
	case "CronJob":
		return &batchv1.CronJob{}
	}
	return nil
}

func seed(i int) []byte { return []byte("seed-" + strconv.Itoa(i)) }

// TestGenerateMatchesSchema checks, for many inputs and every kind, that
// the document decodes into its typed object and that the unknown fields
// podgen reports are exactly those internal/schema finds.
func TestGenerateMatchesSchema(t *testing.T) {
	kinds := schema.Kinds()
	for i := 0; i < 400; i++ {
		kind := kinds[i%len(kinds)]
		doc, err := podgen.Generate(seed(i), podgen.Options{Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		if doc.Kind != kind {
			t.Fatalf("Kind = %q, want %q", doc.Kind, kind)
		}
		if err := json.Unmarshal(doc.JSON, typed(kind)); err != nil {
			t.Fatalf("seed %d (%s): does not decode: %v\n%s", i, kind, err, doc.JSON)
		}
		d := json.NewDecoder(bytes.NewReader(doc.JSON))
		d.UseNumber()
		var v interface{}
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		s, _ := schema.ForKind(kind)
		found := map[string]json.RawMessage{}
		for _, u := range s.Unknowns(v) {
			found[u.Path.String()] = u.Value
		}
		if diff := cmp.Diff(doc.Unknown, found); diff != "" {
			t.Fatalf("seed %d (%s): planted vs found unknown fields (-want +got):\n%s\n%s", i, kind, diff, doc.JSON)
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	for i := 0; i < 20; i++ {
		a, _ := podgen.Generate(seed(i), podgen.Options{AnyKind: true})
		b, _ := podgen.Generate(seed(i), podgen.Options{AnyKind: true})
		if !bytes.Equal(a.JSON, b.JSON) || a.Kind != b.Kind {
			t.Fatalf("seed %d: two runs differ", i)
		}
	}
	if _, err := podgen.Generate(nil, podgen.Options{Kind: "ConfigMap"}); err == nil {
		t.Error("Generate(ConfigMap) did not fail")
	}
	if d, err := podgen.Generate(nil, podgen.Options{}); err != nil || d.Kind != "Pod" || d.Spec != "/spec" || d.Meta != "/metadata" {
		t.Errorf("zero Options = %q %q %q, %v", d.Kind, d.Spec, d.Meta, err)
	}
}

// TestGenerateCoversEveryLevel checks that, over a few hundred inputs,
// unknown fields are planted at every level the verifier must protect and
// that lists come absent, null, empty and filled.
func TestGenerateCoversEveryLevel(t *testing.T) {
	levels := map[string]string{
		"top-level":           `^x`,
		"metadata":            `^metadata\.[^.\[]+$`,
		"owner reference":     `^metadata\.ownerReferences\[uid=`,
		"status":              `^status\.[^.\[]+$`,
		"status condition":    `^status\.conditions\[type=Ready\]\.`,
		"container status":    `^status\.containerStatuses\[0\]\.`,
		"spec":                `^spec\.[^.\[]+$`,
		"pod securityContext": `^spec\.securityContext\.`,
		"init container":      `^spec\.initContainers\[name=init-\d\]\.[^.\[]+$`,
		"container":           `^spec\.containers\[name=app-\d\]\.[^.\[]+$`,
		"ephemeral container": `^spec\.ephemeralContainers\[name=debug-\d\]\.[^.\[]+$`,
		"volume":              `^spec\.volumes\[name=vol-\d\]\.[^.\[]+$`,
		"volume source":       `^spec\.volumes\[name=vol-\d\]\.(emptyDir|configMap|secret|hostPath|projected)\.`,
		"volume items":        `\.configMap\.items\[0\]\.`,
		"projection":          `\.projected\.sources\[0\]\.`,
		"volumeMount":         `\.volumeMounts\[mountPath=/mnt/m\d\]\.`,
		"env":                 `\.env\[name=VAR_\d\]\.[^.\[]+$`,
		"env valueFrom":       `\.env\[name=VAR_\d\]\.valueFrom\.`,
		"envFrom":             `\.envFrom\[\d\]\.`,
		"port":                `\.ports\[containerPort=808\d\]\.`,
		"probe":               `\.(livenessProbe|readinessProbe|startupProbe)\.[^.\[]+$`,
		"probe action":        `\.(livenessProbe|readinessProbe|startupProbe)\.(exec|httpGet|tcpSocket)\.`,
		"sidecar probe":       `^spec\.initContainers\[name=init-\d\]\.startupProbe\.`,
		"lifecycle":           `\.lifecycle\.[^.\[]+$`,
		"lifecycle action":    `\.lifecycle\.(postStart|preStop)\.`,
		"resources":           `\.resources\.`,
		"securityContext":     `\.securityContext\.[^.\[]+$`,
		"capabilities":        `\.securityContext\.capabilities\.`,
		"affinity":            `^spec\.affinity\.[^.\[]+$`,
		"node selector term":  `\.nodeSelectorTerms\[\d\]\.[^.\[]+$`,
		"match expression":    `\.matchExpressions\[0\]\.`,
		"preferred term":      `\.preferredDuringSchedulingIgnoredDuringExecution\[0\]\.`,
		"pod affinity term":   `\.podAffinityTerm\.`,
		"toleration":          `^spec\.tolerations\[\d\]\.`,
		"escaped member name": `\["x-alpha/beta\d+"\]|\["x-tilde~field\d+"\]`,
		"template":            `^spec\.template\.[^.\[]+$`,
		"template metadata":   `^spec\.template\.metadata\.`,
		"workload spec":       `^spec\.[^.\[]+$`,
		"job template":        `^spec\.jobTemplate\.[^.\[]+$`,
		"cronjob pod spec":    `^spec\.jobTemplate\.spec\.template\.spec\.`,
		"pod template object": `^template\.spec\.`,
	}
	compiled := map[string]*regexp.Regexp{}
	for name, re := range levels {
		compiled[name] = regexp.MustCompile(re)
	}
	template := regexp.MustCompile(`^spec\.template\.spec\.`)
	seen := map[string]bool{}
	shapes := map[string]bool{}
	kinds := append([]string{"Pod", "Pod", "Pod"}, schema.Kinds()...)
	for i := 0; i < 600; i++ {
		kind := kinds[i%len(kinds)]
		doc, _ := podgen.Generate(seed(i), podgen.Options{Kind: kind})
		for p := range doc.Unknown {
			if kind != "Pod" && kind != "PodTemplate" && template.MatchString(p) {
				p = "spec." + p[len("spec.template.spec."):] // pod-level patterns apply to templates too
			}
			for name, re := range compiled {
				if re.MatchString(p) {
					seen[name] = true
				}
			}
		}
		for _, l := range []string{"initContainers", "volumes", "tolerations", "env"} {
			for _, shape := range []string{`"` + l + `":null`, `"` + l + `":[]`, `"` + l + `":[{`} {
				if bytes.Contains(doc.JSON, []byte(shape)) {
					shapes[shape] = true
				}
			}
			if !bytes.Contains(doc.JSON, []byte(`"`+l+`"`)) {
				shapes[l+" absent"] = true
			}
		}
	}
	for name := range levels {
		if !seen[name] {
			t.Errorf("no unknown field planted at level %q", name)
		}
	}
	if len(shapes) != 16 {
		t.Errorf("list shapes seen = %v, want absent, null, empty and filled for 4 lists", shapes)
	}
}
