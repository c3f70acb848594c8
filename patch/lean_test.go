package patch_test

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/internal/jsonscan"
	"github.com/sidecarkit/sidecarkit/internal/leanpod"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

// leanView is what decodeLean promises to decode of the Object DecodeAs
// gives for the same document with reads r: the metadata's name,
// namespace, resourceVersion and annotations; every pod-level field; of a
// volume not named in r, its name and, for a projected one, an empty
// ProjectedVolumeSource; of a container not named in r, the members of leanContainerFields
// (an init container's with its lifecycle and probes, a regular one's
// with its envFrom, and its mounts and env only when r names some mount
// paths or env names: in full those r names, of the others the name and
// mount path). Everything else of a container r names is decoded in full.
func leanView(o *patch.Object, r *leanpod.Reads) *patch.Object {
	v := *o
	if o.Meta != nil {
		v.Meta = &metav1.ObjectMeta{Name: o.Meta.Name, Namespace: o.Meta.Namespace,
			ResourceVersion: o.Meta.ResourceVersion, Annotations: o.Meta.Annotations}
	}
	s := o.Spec
	spec := s.DeepCopy()
	spec.Volumes = nil
	if s.Volumes != nil {
		spec.Volumes = make([]corev1.Volume, len(s.Volumes))
		for i, vol := range s.Volumes {
			switch {
			case r.VolumeNames[vol.Name]:
				spec.Volumes[i] = vol
			case vol.Projected != nil:
				spec.Volumes[i] = corev1.Volume{Name: vol.Name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}}
			default:
				spec.Volumes[i] = corev1.Volume{Name: vol.Name}
			}
		}
	}
	lean := func(l []corev1.Container, init bool) []corev1.Container {
		if l == nil {
			return nil
		}
		out := make([]corev1.Container, len(l))
		for i, c := range l {
			if r.Containers[c.Name] {
				out[i] = c
				continue
			}
			v := corev1.Container{Name: c.Name, RestartPolicy: c.RestartPolicy, Ports: c.Ports}
			if init {
				v.Lifecycle, v.LivenessProbe, v.ReadinessProbe, v.StartupProbe = c.Lifecycle, c.LivenessProbe, c.ReadinessProbe, c.StartupProbe
				out[i] = v
				continue
			}
			v.EnvFrom = c.EnvFrom
			if len(r.MountPaths) > 0 && c.VolumeMounts != nil {
				v.VolumeMounts = make([]corev1.VolumeMount, len(c.VolumeMounts))
				for j, m := range c.VolumeMounts {
					if r.MountPaths[m.MountPath] {
						v.VolumeMounts[j] = m
					} else {
						v.VolumeMounts[j] = corev1.VolumeMount{Name: m.Name, MountPath: m.MountPath}
					}
				}
			}
			if len(r.EnvNames) > 0 && c.Env != nil {
				v.Env = make([]corev1.EnvVar, len(c.Env))
				for j, e := range c.Env {
					if r.EnvNames[e.Name] {
						v.Env[j] = e
					} else {
						v.Env[j] = corev1.EnvVar{Name: e.Name}
					}
				}
			}
			out[i] = v
		}
		return out
	}
	spec.Containers, spec.InitContainers = lean(s.Containers, false), lean(s.InitContainers, true)
	v.Spec = spec
	return &v
}

// leanReads picks reads for the Pod o from the bits of knobs: every
// other container (either parity), mount path, env name and volume name,
// or none of a kind.
func leanReads(o *patch.Object, knobs uint8) *leanpod.Reads {
	r := &leanpod.Reads{Containers: map[string]bool{}, MountPaths: map[string]bool{}, EnvNames: map[string]bool{}, VolumeNames: map[string]bool{}}
	n := 0
	pick := func(bit uint8) bool {
		n++
		return knobs&bit != 0 && n%2 == int(knobs>>7)
	}
	for _, l := range [][]corev1.Container{o.Spec.InitContainers, o.Spec.Containers} {
		for _, c := range l {
			if pick(1) {
				r.Containers[c.Name] = true
			}
			for _, m := range c.VolumeMounts {
				if pick(2) {
					r.MountPaths[m.MountPath] = true
				}
			}
			for _, e := range c.Env {
				if pick(4) {
					r.EnvNames[e.Name] = true
				}
			}
		}
	}
	for _, v := range o.Spec.Volumes {
		if pick(8) {
			r.VolumeNames[v.Name] = true
		}
	}
	if knobs&16 != 0 {
		r.MountPaths["/no/such/path"] = true
	}
	if knobs&32 != 0 {
		r.EnvNames["NO_SUCH_VAR"] = true
	}
	return r
}

// checkLean decodes raw leanly with reads r and fully with DecodeAs, and
// checks that the lean Object is the full one's lean view. It reports
// whether the lean decode took the document.
func checkLean(t *testing.T, raw []byte, r *leanpod.Reads) bool {
	t.Helper()
	o, ok := leanpod.Decode(raw, r)
	lean, _ := o.(*patch.Object)
	full, err := patch.DecodeAs(raw, "Pod")
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("the lean decode took a document DecodeAs refuses (%v): %s", err, raw)
	}
	want := leanView(full, r)
	if !reflect.DeepEqual(lean, want) {
		t.Fatalf("the lean decode differs from DecodeAs's lean view (-lean +view):\n%s\ndocument: %s",
			cmp.Diff(lean, want, cmp.AllowUnexported(patch.Object{})), raw)
	}
	return true
}

// FuzzDecodeLean is the lean decode's differential test within package
// patch (admission's FuzzLeanReview compares whole answers): on random
// Pods with unknown fields at every level (patchtest.Generate) and any
// reads, decodeLean must take the document and give exactly what DecodeAs
// decodes of the parts it promises (leanView).
func FuzzDecodeLean(f *testing.F) {
	for i, s := range []string{"pod", "another pod", "\xa5\x3c\x00\xff\x10", "x", "y", "w", "lean", "mounts and env", "volumes", "init"} {
		f.Add([]byte(s), uint8(i*37))
		f.Add([]byte(s), uint8(0xff-i))
	}
	f.Fuzz(func(t *testing.T, data []byte, knobs uint8) {
		raw, err := patchtest.Generate(data, "Pod")
		if err != nil {
			t.Fatal(err)
		}
		full, err := patch.DecodeAs(raw, "Pod")
		if err != nil {
			t.Fatal(err)
		}
		if !checkLean(t, raw, leanReads(full, knobs)) {
			t.Fatalf("the lean decode refused a generated Pod: %s", raw)
		}
	})
}

// TestDecodeLeanCases covers what generated Pods do not: documents the
// lean decode must leave to DecodeAs (repeated members, another kind, no
// spec, malformed values), and the shapes it decodes itself (null and
// empty lists, escaped strings, ports and annotations that need the full
// decoder, null list elements).
func TestDecodeLeanCases(t *testing.T) {
	reads := &leanpod.Reads{Containers: map[string]bool{"proxy": true}, MountPaths: map[string]bool{"/data": true},
		EnvNames: map[string]bool{"MODE": true}, VolumeNames: map[string]bool{"data": true}}
	none := &leanpod.Reads{}
	tests := []struct {
		name  string
		doc   string
		reads *leanpod.Reads
		take  bool // decodeLean decodes it (else DecodeAs must)
	}{
		{"minimal", `{"spec":{"containers":[{"name":"app"}]}}`, reads, true},
		{"white-space-around", " \n{\"spec\":{\"containers\":[{\"name\":\"app\"}]}} \t", reads, true},
		{"kind-pod", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","resourceVersion":"7","labels":{"a":"b"},"annotations":{"x":"y","e":"\u00e9"}},"spec":{"containers":[{"name":"app"}]}}`, reads, true},
		{"annotations-escaped-key", `{"metadata":{"annotations":{"a\"b":"c","d":"\n"}},"spec":{"containers":[]}}`, reads, true},
		{"annotations-null", `{"metadata":{"annotations":null},"spec":{"containers":[]}}`, reads, true},
		{"metadata-null", `{"metadata":null,"spec":{"containers":[]}}`, reads, true},
		{"lists-null-and-empty", `{"spec":{"containers":null,"initContainers":[],"volumes":null}}`, reads, true},
		{"volumes-empty", `{"spec":{"volumes":[],"containers":[{"name":"a"}]}}`, reads, true},
		{"volumes", `{"spec":{"volumes":[{"name":"data","emptyDir":{}},{"name":"other","hostPath":{"path":"/x"}},{"name":"tok","projected":{"sources":[]}},null,{"emptyDir":{}}],"containers":[{"name":"a"}]}}`, reads, true},
		{"volume-repeated-name", `{"spec":{"volumes":[{"name":"a","name":"data"}],"containers":[]}}`, reads, false},
		{"volume-projected-null", `{"spec":{"volumes":[{"name":"kube-api-access-1","projected":null}],"containers":[]}}`, reads, true},
		{"volume-projected-content", `{"spec":{"volumes":[{"name":"kube-api-access-1","projected":{"sources":[{"serviceAccountToken":{"path":"token","expirationSeconds":3607}}],"defaultMode":420}}],"containers":[]}}`, reads, true},
		{"volume-projected-repeated", `{"spec":{"volumes":[{"name":"tok","projected":{},"projected":null}],"containers":[]}}`, reads, false},
		{"volume-projected-mistyped", `{"spec":{"volumes":[{"name":"tok","projected":"x"}],"containers":[]}}`, reads, false},
		{"containers", `{"spec":{"containers":[null,{"name":"app","image":"i","restartPolicy":"Always","ports":[{"name":"http","containerPort":8080,"hostPort":80,"protocol":"TCP","hostIP":"1.2.3.4"}],"envFrom":[{"configMapRef":{"name":"c"}}],"volumeMounts":[{"name":"data","mountPath":"/data","readOnly":true},{"name":"o","mountPath":"/o","readOnly":true,"subPath":"s"}],"env":[{"name":"MODE","value":"x"},{"name":"OTHER","value":"y"}]},{"name":"proxy","image":"p","args":["a"]}]}}`, reads, true},
		{"mounts-env-unread", `{"spec":{"containers":[{"name":"app","volumeMounts":[{"name":"data","mountPath":"/data"}],"env":[{"name":"MODE","value":"x"}]}]}}`, none, true},
		{"mounts-env-null-and-empty", `{"spec":{"containers":[{"name":"app","volumeMounts":null,"env":[]},{"name":"b","volumeMounts":[],"env":null}]}}`, reads, true},
		{"mount-repeated-path", `{"spec":{"containers":[{"name":"app","volumeMounts":[{"name":"o","mountPath":"/o","mountPath":"/data"}]}]}}`, reads, false},
		{"ports-need-the-decoder", `{"spec":{"containers":[{"name":"app","ports":[{"containerPort":8080,"name":"h\u0074tp"}]}]}}`, reads, true},
		{"ports-repeated-member", `{"spec":{"containers":[{"name":"app","ports":[{"containerPort":1,"containerPort":2}]}]}}`, reads, true},
		{"ports-null-and-empty", `{"spec":{"containers":[{"name":"app","ports":null},{"name":"b","ports":[]}]}}`, reads, true},
		{"mount-without-path", `{"spec":{"containers":[{"name":"a","volumeMounts":[{"name":"data"},{"mountPath":"/o"}]}]}}`, reads, true},
		{"port-host-ip-without-name", `{"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"hostIP":"1.2.3.4"}]}]}}`, reads, true},
		{"port-unknown-member-without-name", `{"spec":{"containers":[{"name":"a","ports":[{"protocol":"UDP","containerPort":80,"x-future":"v"}]}]}}`, reads, true},
		{"port-null-number", `{"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"hostPort":null}]}]}}`, reads, true},
		{"port-bad", `{"spec":{"containers":[{"name":"app","ports":[{"containerPort":"x"}]}]}}`, reads, false},
		{"port-too-large", `{"spec":{"containers":[{"name":"app","ports":[{"containerPort":4294967296}]}]}}`, reads, false},
		{"init-containers", `{"spec":{"initContainers":[{"name":"i","restartPolicy":"Always","lifecycle":{"preStop":{"exec":{"command":["x"]}}},"livenessProbe":{"periodSeconds":1},"readinessProbe":{"periodSeconds":2},"startupProbe":{"periodSeconds":3},"env":[{"name":"MODE","value":"x"}],"volumeMounts":[{"name":"data","mountPath":"/data"}],"envFrom":[{"prefix":"p"}]},{"name":"proxy","image":"p"}],"containers":[]}}`, reads, true},
		{"data after the document", `{"spec":{"containers":[]}} x`, reads, false},
		{"pod-fields", `{"spec":{"affinity":{"nodeAffinity":{}},"nodeSelector":{"a":"b"},"hostNetwork":true,"restartPolicy":"Never","ephemeralContainers":[{"name":"e","image":"i"}],"overhead":{"cpu":"1"},"resources":{"limits":{"cpu":"2"}},"tolerations":[{"key":"k"}],"dnsPolicy":"None","containers":[]}}`, reads, true},
		{"escaped-container-name", `{"spec":{"containers":[{"name":"pro\u0078y","image":"full"}]}}`, reads, true},
		{"repeated-spec", `{"spec":{"containers":[]},"spec":{"containers":[]}}`, reads, false},
		{"repeated-metadata", `{"metadata":{},"metadata":{},"spec":{}}`, reads, false},
		{"repeated-kind", `{"kind":"Pod","kind":"Pod","spec":{}}`, reads, false},
		{"repeated-apiversion", `{"apiVersion":"v1","apiVersion":"v1","spec":{}}`, reads, false},
		{"repeated-containers", `{"spec":{"containers":[],"containers":[]}}`, reads, false},
		{"repeated-init-containers", `{"spec":{"initContainers":[],"initContainers":[]}}`, reads, false},
		{"repeated-volumes", `{"spec":{"volumes":[],"volumes":[]}}`, reads, false},
		{"repeated-resources", `{"spec":{"resources":{},"resources":{}}}`, reads, false},
		{"repeated-pod-field", `{"spec":{"hostNetwork":true,"hostNetwork":false}}`, reads, false},
		{"repeated-container-member", `{"spec":{"containers":[{"name":"a","name":"b"}]}}`, reads, false},
		{"repeated-meta-member", `{"metadata":{"name":"a","name":"b"},"spec":{}}`, reads, false},
		{"repeated-annotations", `{"metadata":{"annotations":{},"annotations":{}},"spec":{}}`, reads, false},
		{"another-kind", `{"kind":"Deployment","spec":{"template":{"spec":{}}}}`, reads, false},
		{"kind-not-string", `{"kind":1,"spec":{}}`, reads, false},
		{"apiversion-not-string", `{"apiVersion":1,"spec":{}}`, reads, false},
		{"no-spec", `{"kind":"Pod"}`, reads, false},
		{"spec-null", `{"spec":null}`, reads, false},
		{"not-an-object", `[]`, reads, false},
		{"name-not-string", `{"metadata":{"name":1},"spec":{}}`, reads, false},
		{"annotation-not-string", `{"metadata":{"annotations":{"a":1}},"spec":{}}`, reads, false},
		{"pod-field-bad", `{"spec":{"hostNetwork":"yes"}}`, reads, false},
		{"resources-bad", `{"spec":{"resources":[]}}`, reads, false},
		{"restart-policy-bad", `{"spec":{"containers":[{"name":"a","restartPolicy":1}]}}`, reads, false},
		{"env-from-bad", `{"spec":{"containers":[{"name":"a","envFrom":{}}]}}`, reads, false},
		{"init-probe-bad", `{"spec":{"initContainers":[{"name":"a","startupProbe":[]}]}}`, reads, false},
		{"read-container-bad", `{"spec":{"containers":[{"name":"proxy","image":1}]}}`, reads, false},
		{"volume-bad", `{"spec":{"volumes":[{"name":"data","emptyDir":1}]}}`, reads, false},
		{"volume-name-bad", `{"spec":{"volumes":[{"name":1}]}}`, reads, false},
		{"mount-bad", `{"spec":{"containers":[{"name":"a","volumeMounts":[{"name":"data","mountPath":"/data","readOnly":"no"}]}]}}`, reads, false},
		{"env-bad", `{"spec":{"containers":[{"name":"a","env":[{"name":1}]}]}}`, reads, false},
		{"annotations-not-object", `{"metadata":{"annotations":"x"},"spec":{}}`, reads, false},
		{"container-name-bad", `{"spec":{"containers":[{"name":1}]}}`, reads, false},
		{"mounts-env-null-elements", `{"spec":{"containers":[{"name":"a","volumeMounts":[null,{"name":"data","mountPath":"/data"}],"env":[null,{"name":"MODE"}]}]}}`, reads, true},
		{"mount-name-bad", `{"spec":{"containers":[{"name":"a","volumeMounts":[{"name":1,"mountPath":"/o"}]}]}}`, reads, false},
		{"mount-path-bad", `{"spec":{"containers":[{"name":"a","volumeMounts":[{"name":"o","mountPath":1}]}]}}`, reads, false},
		{"ports-not-list", `{"spec":{"containers":[{"name":"a","ports":{}}]}}`, reads, false},
		{"containers-not-list", `{"spec":{"containers":{}}}`, reads, false},
		{"container-not-object", `{"spec":{"initContainers":[1]}}`, reads, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkLean(t, []byte(tc.doc), tc.reads); got != tc.take {
				_, err := patch.DecodeAs([]byte(tc.doc), "Pod")
				t.Fatalf("the lean decode took the document: %v, want %v (DecodeAs: %v)", got, tc.take, err)
			}
		})
	}
}

// TestDecodeAt: leanpod.DecodeAt reads the document at a reader in place
// (inside an AdmissionReview) as leanpod.Decode reads the document alone,
// leaves the reader after it, and gives way where Decode gives way.
func TestDecodeAt(t *testing.T) {
	reads := &leanpod.Reads{Containers: map[string]bool{"proxy": true}}
	for _, doc := range []string{
		`{"kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx"},{"name":"proxy","image":"p"}]}}`,
		`{"spec":{"containers":[]},"spec":{"containers":[]}}`, // a repeated spec: Decode gives way
		`{"kind":"Deployment","spec":{}}`,
	} {
		want, wantOK := leanpod.Decode([]byte(doc), reads)
		body := []byte(`{"before":[1,2],"object":` + doc + `,"after":true}`)
		rd := jsonscan.NewReader(body)
		var got interface{}
		var gotOK, read bool
		err := rd.Object(func(k []byte) error {
			if string(k) != "object" {
				return nil
			}
			start := rd.Offset()
			got, gotOK, read = nil, false, true
			if got, gotOK = leanpod.DecodeAt(rd, reads); !gotOK {
				rd.Seek(start) // as admission does: read the document again
				_, err := rd.Value()
				return err
			}
			if string(rd.Since(start)) != doc {
				t.Errorf("%s: the reader stopped at %q", doc, rd.Since(start))
			}
			return nil
		})
		if err != nil || rd.End() != nil || !read {
			t.Fatalf("%s: reading the body: %v (object read: %v)", doc, err, read)
		}
		if gotOK != wantOK || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: DecodeAt %v %+v, Decode %v %+v", doc, gotOK, got, wantOK, want)
		}
	}
}
