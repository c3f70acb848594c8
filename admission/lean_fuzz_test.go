package admission_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// leanModes are the modes FuzzLeanReview forces (Auto with a Capability
// hook that judges the Pod by its SchedulingSpec).
var leanModes = []sidecar.Mode{sidecar.Auto, sidecar.Native, sidecar.Legacy, sidecar.Pinned}

// FuzzLeanReview is the differential test of the lean decode: a Webhook
// without hooks decodes Pods leanly (internal/leanpod), and its answer
// must be the typed path's (patch.DecodeAs) byte for byte, with the same
// Outcome, on random Pods with unknown fields (patchtest.Generate) edited
// the ways that matter to the injection (a container under the sidecar's
// name, a record annotation, clashing mounts, ports and env, restart
// policies, null and empty lists), and on arbitrary objects the typed
// path accepts. Where the typed path refuses an arbitrary object whose
// JSON is malformed inside a part the lean decode skips, the lean decode
// may answer instead (the documented difference, see decodeLean); any
// other difference fails.
func FuzzLeanReview(f *testing.F) {
	f.Add([]byte("pod"), uint32(0), []byte(nil))
	f.Add([]byte("another pod"), uint32(1|1<<10), []byte(nil))
	f.Add([]byte{0xa5, 0x3c, 0x00, 0xff, 0x10}, uint32(2|4|1<<10|1<<13), []byte(nil))
	f.Add([]byte("x"), uint32(8|16|32|2<<10), []byte(nil))
	f.Add([]byte("y"), uint32(64|128|3<<10|1<<12), []byte(nil))
	f.Add([]byte("w"), uint32(16|32|1<<10|2<<12), []byte(nil))
	f.Add([]byte("v"), uint32(1|16|2<<10|1<<12), []byte(nil))
	f.Add([]byte("u"), uint32(1<<14|1<<10), []byte(nil))
	f.Add([]byte("t"), uint32(1<<15|2<<10), []byte(nil))
	f.Add([]byte("s"), uint32(1<<16|1<<17|1<<10), []byte(nil))
	f.Add([]byte("r"), uint32(1<<16|2<<10|1<<12), []byte(nil))
	f.Add([]byte("z"), uint32(256|512), []byte(nil))
	f.Add([]byte("pod"), uint32(1<<18), []byte(nil))
	f.Add([]byte("another pod"), uint32(1|1<<10|1<<18), []byte(nil))
	f.Add([]byte(nil), uint32(1<<18), []byte(`{"spec":{"containers":[null,{"name":"a","image":1}]}}`))
	f.Add([]byte(nil), uint32(0), []byte(podJSON))
	f.Add([]byte(nil), uint32(1<<10), []byte(`{"kind":"Pod","spec":{"containers":[{"name":"a","name":"proxy"}]}}`))
	f.Add([]byte(nil), uint32(0), []byte(`{"spec":{"containers":[null,{"name":"a","image":1}]}}`))
	f.Add([]byte(nil), uint32(0), []byte(`{"spec":{"containers":[{"name":"a","ports":[{"containerPort":"x"}]}]}}`))
	f.Add([]byte(nil), uint32(0), []byte(`{"spec":{"containers":[{"name":"a\u0041","volumeMounts":null}],"containers":[]}}`))
	// The Spec with app mounts and env, with mounts only, with neither:
	// the lean decode reads what each needs.
	hooks := webhookPairs(f, freshSpecs(f)[:3])
	name := testSpec(f).Container.Name
	f.Fuzz(func(t *testing.T, data []byte, knobs uint32, object []byte) {
		obj := fuzzObject(t, data, knobs, object, name)
		pair := hooks[int(knobs>>12&3)%len(hooks)][int(knobs>>10)%4]
		// The object spliced in as it is: review re-encodes it. The
		// operation before the object, as the API server writes it (the
		// lean decode reads the object while the review is read), or, with
		// knob 1<<18, after it (it decodes the object after the review).
		op, opAfter := `"operation":"CREATE",`, ``
		if knobs&(1<<18) != 0 {
			op, opAfter = ``, `,"operation":"CREATE"`
		}
		body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"0f6d7a44","kind":{"group":"","version":"v1","kind":"Pod"},` +
			`"resource":{"group":"","version":"v1","resource":"pods"},` + op + `"namespace":"shop","object":` + string(obj) + opAfter + `}}`)
		got, want := answerOf(pair[0], body), answerOf(pair[1], body)
		if want.err != nil && got.err == nil && len(object) > 0 && malformedSkipped(obj) {
			return
		}
		sameAnswer(t, "lean", "typed", got, want, obj)
	})
}

// webhookPairs returns, for each Spec and each of leanModes, a Webhook
// without hooks but a Capability hook for Auto (placementCapability),
// allowing on error in every other mode, with its typed copy
// (admission.Typed).
func webhookPairs(f *testing.F, specs []sidecar.Spec) [][4][2]*admission.Webhook {
	hooks := make([][4][2]*admission.Webhook, len(specs))
	for s, spec := range specs {
		for m, mode := range leanModes {
			c := admission.Config{Spec: spec, Options: sidecar.Options{Mode: mode}, AllowOnError: m%2 == 1}
			if mode == sidecar.Auto {
				c.Capability = placementCapability
			}
			w := newWebhook(f, c)
			typed, lean := admission.Typed(w)
			if !lean {
				f.Fatal("a Webhook without a Decide hook or universal planner does not decode leanly")
			}
			hooks[s][m] = [2]*admission.Webhook{w, typed}
		}
	}
	return hooks
}

// answer is what Webhook.Review returns.
type answer struct {
	body []byte
	out  admission.Outcome
	err  error
}

// answerOf returns w's answer to the review body.
func answerOf(w *admission.Webhook, body []byte) answer {
	b, out, err := w.Review(context.Background(), body)
	return answer{b, out, err}
}

// sameAnswer fails t unless got and want (the answers of the paths named
// a and b to a review of obj) are the same: the error, the response
// bytes, the Outcome and its error.
func sameAnswer(t *testing.T, a, b string, got, want answer, obj []byte) {
	t.Helper()
	if fmt.Sprint(got.err) != fmt.Sprint(want.err) {
		t.Fatalf("%s error %v, %s %v\nobject %s", a, got.err, b, want.err, obj)
	}
	if !bytes.Equal(got.body, want.body) {
		t.Fatalf("%s response\n%s\n%s\n%s\nobject %s", a, got.body, b, want.body, obj)
	}
	if fmt.Sprint(got.out.Err) != fmt.Sprint(want.out.Err) {
		t.Fatalf("%s outcome error %v, %s %v", a, got.out.Err, b, want.out.Err)
	}
	got.out.Err, want.out.Err = nil, nil
	if !reflect.DeepEqual(got.out, want.out) {
		t.Fatalf("%s outcome %+v, %s %+v", a, got.out, b, want.out)
	}
}

// fuzzObject returns object, or when it is empty the Pod that
// patchtest.Generate makes of data, edited by knobs (editPod) for the
// sidecar name.
func fuzzObject(t *testing.T, data []byte, knobs uint32, object []byte, name string) []byte {
	t.Helper()
	if len(object) > 0 {
		return object
	}
	pod, err := patchtest.Generate(data, "Pod")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := editPod(pod, knobs, name)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// malformedSkipped reports whether obj is malformed JSON, or valid JSON
// whose type errors all lie in what the lean decode skips: it decodes into
// the least the lean decode always decodes (patch/lean.go: of the
// metadata the name, namespace, resourceVersion and annotations; of the
// spec the fields podSpecFields names, resources, the volumes' names, the
// init containers' names, restart policies, ports, lifecycles and probes,
// and the containers' names, restart policies, ports and envFrom). Where
// the lean decode reads more (a container or volume of the sidecar's, the
// mounts and env of an app mount or env), a type error makes it give way
// to the typed decode, so the two agree there.
func malformedSkipped(obj []byte) bool {
	var v interface{}
	if utiljson.Unmarshal(obj, &v) != nil {
		return true
	}
	type port struct {
		Name          string `json:"name"`
		HostPort      int32  `json:"hostPort"`
		ContainerPort int32  `json:"containerPort"`
		Protocol      string `json:"protocol"`
		HostIP        string `json:"hostIP"`
	}
	var shape struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   *struct {
			Name            string            `json:"name"`
			Namespace       string            `json:"namespace"`
			ResourceVersion string            `json:"resourceVersion"`
			Annotations     map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec *struct {
			corev1.PodSpec                              // every pod-level field; the lists below shadow its own
			Resources      *corev1.ResourceRequirements `json:"resources"`
			Volumes        []struct {
				Name string `json:"name"`
			} `json:"volumes"`
			InitContainers []struct {
				Name           string                         `json:"name"`
				RestartPolicy  *corev1.ContainerRestartPolicy `json:"restartPolicy"`
				Ports          []port                         `json:"ports"`
				Lifecycle      *corev1.Lifecycle              `json:"lifecycle"`
				LivenessProbe  *corev1.Probe                  `json:"livenessProbe"`
				ReadinessProbe *corev1.Probe                  `json:"readinessProbe"`
				StartupProbe   *corev1.Probe                  `json:"startupProbe"`
			} `json:"initContainers"`
			Containers []struct {
				Name          string                         `json:"name"`
				RestartPolicy *corev1.ContainerRestartPolicy `json:"restartPolicy"`
				Ports         []port                         `json:"ports"`
				EnvFrom       []corev1.EnvFromSource         `json:"envFrom"`
			} `json:"containers"`
		} `json:"spec"`
	}
	return utiljson.Unmarshal(obj, &shape) == nil
}

// placementCapability is a Capability hook whose answer depends on all
// of what a placement reads of SchedulingSpec (compat.Cluster.For), and
// fails if the spec carries containers or volumes (Request.SchedulingSpec
// has none).
func placementCapability(_ context.Context, r *admission.Request) (compat.Capability, error) {
	s := r.SchedulingSpec
	switch {
	case s == nil || len(s.InitContainers)+len(s.Containers)+len(s.EphemeralContainers)+len(s.Volumes) > 0:
		return compat.Capability{}, fmt.Errorf("scheduling spec %+v", s)
	case s.NodeName != "":
		return compat.Capability{Kubelet: compat.KubeletRejects, APIServer: compat.APIServerStores}, nil
	case len(s.NodeSelector) > 0 || len(s.Tolerations) > 0:
		return compat.Capability{Kubelet: compat.KubeletStrips, APIServer: compat.APIServerStores}, nil
	case s.Affinity != nil:
		return compat.Capability{}, nil
	}
	return nativeCap, nil
}

// editPod makes the edits knobs selects to the generated Pod pod. Bits:
// 1 the first container takes the sidecar's name; 2 a record annotation of
// the sidecar; 4 restartPolicy Always on the first container, bogus on
// the last; 8 two containers clash on a hostPort; 16 the first container
// mounts something at the sidecar's app mount path; 32 the first
// container sets the sidecar's app env; 64 no containers (null); 128
// hostNetwork; 256 an empty container list; 512 a null container; 1<<14
// a probe on an init container (forbidden without restartPolicy Always),
// and another init container of restartPolicy Always with one; 1<<15 an
// init container under the sidecar's name; 1<<16 a volume under the name
// of the Spec's volume; 1<<17 a ServiceAccount token volume mounted at the
// token path by the first container.
func editPod(pod []byte, knobs uint32, name string) ([]byte, error) {
	if knobs&0x3c3ff == 0 {
		return pod, nil
	}
	var doc map[string]interface{}
	if err := utiljson.Unmarshal(pod, &doc); err != nil {
		return nil, err
	}
	meta, _ := doc["metadata"].(map[string]interface{})
	spec, _ := doc["spec"].(map[string]interface{})
	if meta == nil || spec == nil {
		return nil, fmt.Errorf("generated pod without metadata or spec: %s", pod)
	}
	cs, _ := spec["containers"].([]interface{})
	c := func(i int) map[string]interface{} {
		if len(cs) == 0 {
			return map[string]interface{}{}
		}
		m, _ := cs[(i%len(cs)+len(cs))%len(cs)].(map[string]interface{})
		if m == nil {
			m = map[string]interface{}{}
		}
		return m
	}
	add := func(m map[string]interface{}, list string, v interface{}) {
		l, _ := m[list].([]interface{})
		m[list] = append(l, v)
	}
	if knobs&1 != 0 {
		c(0)["name"] = name
	}
	if knobs&2 != 0 {
		ann, _ := meta["annotations"].(map[string]interface{})
		if ann == nil {
			ann = map[string]interface{}{}
			meta["annotations"] = ann
		}
		ann[sidecar.Annotation(name)] = `{"v":2,"mode":"native","initContainers":{"` + name + `":"x"}}`
	}
	if knobs&4 != 0 {
		c(0)["restartPolicy"] = "Always"
		c(-1)["restartPolicy"] = "Sometimes"
	}
	if knobs&8 != 0 {
		add(c(0), "ports", map[string]interface{}{"containerPort": 8080, "hostPort": 80})
		add(c(1), "ports", map[string]interface{}{"containerPort": 8081, "hostPort": 80})
	}
	if knobs&16 != 0 {
		add(c(0), "volumeMounts", map[string]interface{}{"name": "other", "mountPath": "/var/run/proxy"})
	}
	if knobs&32 != 0 {
		add(c(0), "env", map[string]interface{}{"name": "PROXY_SOCKET", "value": "mine"})
	}
	ics, _ := spec["initContainers"].([]interface{})
	if knobs&(1<<14) != 0 {
		probe := map[string]interface{}{"exec": map[string]interface{}{"command": []interface{}{"true"}}}
		if len(ics) > 0 {
			if ic, _ := ics[0].(map[string]interface{}); ic != nil {
				ic["livenessProbe"] = probe
			}
		}
		ics = append(ics, map[string]interface{}{"name": "native-one", "image": "x", "restartPolicy": "Always", "startupProbe": probe})
		spec["initContainers"] = ics
	}
	if knobs&(1<<15) != 0 {
		spec["initContainers"] = append(ics, map[string]interface{}{"name": name, "image": "x"})
	}
	vols, _ := spec["volumes"].([]interface{})
	if knobs&(1<<16) != 0 {
		vols = append(vols, map[string]interface{}{"name": "proxy-socket", "emptyDir": map[string]interface{}{"medium": "Memory"}})
		spec["volumes"] = vols
	}
	if knobs&(1<<17) != 0 {
		spec["volumes"] = append(vols, map[string]interface{}{"name": "kube-api-access-x1y2z", "projected": map[string]interface{}{
			"sources": []interface{}{map[string]interface{}{"serviceAccountToken": map[string]interface{}{"path": "token", "expirationSeconds": 3607}}}}})
		add(c(0), "volumeMounts", map[string]interface{}{"name": "kube-api-access-x1y2z", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true})
	}
	if knobs&128 != 0 {
		spec["hostNetwork"] = true
	}
	if knobs&512 != 0 {
		spec["containers"] = append(cs, nil)
	}
	if knobs&256 != 0 {
		spec["containers"] = []interface{}{}
	}
	if knobs&64 != 0 {
		spec["containers"] = nil
	}
	return utiljson.Marshal(doc)
}
