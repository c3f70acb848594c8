package sidecar

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
)

func TestRecordEncode(t *testing.T) {
	for _, r := range []Record{
		{},
		{Version: 2, Mode: Native, Reason: "all-native", Spec: "abc", InitContainers: map[string]string{"proxy": "d1"}},
		{Version: 2, Mode: Universal, Spec: "h", InitContainers: map[string]string{"b": "1", "a": "2"}, Containers: map[string]string{"c": "3"},
			Volumes: map[string]string{"v<&>": "4"}, AppMounts: map[string]string{"/m": "5", "/a": "6"}, AppEnv: map[string]string{"Z": "7", "E": "8"},
			Resources:       map[string][]string{"b": {"limits/memory", "requests/cpu"}, "a": nil, "c": {}},
			PresetMounts:    map[string][]string{"/m": {"app", "web"}},
			PresetEnv:       map[string][]string{"Z": {"w\"eb"}, "E": {}},
			NodeRequirement: true},
		{Version: -3, Mode: "odd\"mode", Reason: "\u2028", Spec: "\u2028", AppMounts: map[string]string{}, Volumes: map[string]string{}},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.encode(); got != string(want) {
			t.Errorf("encode() = %s\n json.Marshal = %s", got, want)
		}
	}
}

// FuzzRecordEncode holds the hand-written encoder to json.Marshal's bytes.
func FuzzRecordEncode(f *testing.F) {
	f.Add(2, "native", "all-native", "h", "proxy", "", "data", "/m", "E", "d", true)
	f.Add(0, "<&>", "", "\xff", "", "c", "", "", "", "\u2028", false)
	f.Fuzz(func(t *testing.T, v int, mode, reason, spec, ic, c, vol, mount, env, d string, node bool) {
		r := Record{Version: v, Mode: Mode(mode), Reason: reason, Spec: spec, NodeRequirement: node}
		if ic != "" {
			r.InitContainers = map[string]string{ic: d, c: spec}
		}
		if c != "" {
			r.Containers = map[string]string{c: d}
		}
		if vol != "" {
			r.Volumes = map[string]string{vol: d, mount: env}
		}
		if mount != "" {
			r.AppMounts = map[string]string{mount: d}
		}
		if env != "" {
			r.AppEnv = map[string]string{env: d, mount: vol}
			r.Resources = map[string][]string{env: {d, reason}, ic: nil}
			r.PresetEnv = map[string][]string{env: {c, ic}}
		}
		if mount != "" && c != "" {
			r.PresetMounts = map[string][]string{mount: {c}, vol: nil}
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.encode(); got != string(want) {
			t.Errorf("encode() = %s\n json.Marshal = %s", got, want)
		}
	})
}

// TestEncodeRecordCache: an Injector's mode reuses the encoding of the
// last record only for an equal one. Each record here differs from the
// one before it in one field (every field of Record in turn, set through
// reflection so that a field added later is covered too), then comes
// again; each must get its own encoding. A plan built for one Pod keeps
// nothing.
func TestEncodeRecordCache(t *testing.T) {
	base := Record{Version: 2, Mode: Native, Reason: "all-native", Spec: "h", InitContainers: map[string]string{"proxy": "d"}}
	records := []Record{base}
	rt := reflect.TypeOf(base)
	for i := 0; i < rt.NumField(); i++ {
		for k := 0; k < 2; k++ {
			r := base
			v := reflect.ValueOf(&r).Elem().Field(i)
			switch v.Kind() {
			case reflect.String:
				v.SetString(v.String() + "x" + string(rune('a'+k)))
			case reflect.Int:
				v.SetInt(v.Int() + 1 + int64(k))
			case reflect.Bool:
				v.SetBool(k == 0)
			case reflect.Map:
				m := reflect.MakeMap(v.Type())
				key := reflect.ValueOf(string(rune('a' + k)))
				if v.Type().Elem().Kind() == reflect.Slice {
					m.SetMapIndex(key, reflect.ValueOf([]string{"x"}))
				} else {
					m.SetMapIndex(key, reflect.ValueOf("x"))
				}
				v.Set(m)
			default:
				t.Fatalf("field %s: kind %s is not varied by this test", rt.Field(i).Name, v.Kind())
			}
			records = append(records, r, r, base)
		}
	}
	compiled := &compiledMode{containers: map[string]string{}}
	perPod := &compiledMode{}
	for i := range records {
		want := records[i].encode()
		if got := compiled.encodeRecord(&records[i]); got != want {
			t.Errorf("record %d: encodeRecord = %s, want %s", i, got, want)
		}
		if got := perPod.encodeRecord(&records[i]); got != want {
			t.Errorf("record %d, per-Pod plan: encodeRecord = %s, want %s", i, got, want)
		}
	}
	if compiled.record.Load() == nil || perPod.record.Load() != nil {
		t.Errorf("kept records: compiled %v, per-Pod plan %v", compiled.record.Load(), perPod.record.Load())
	}
	// A hit stores nothing: the kept record stays the one stored.
	r := base
	compiled.encodeRecord(&r)
	kept := compiled.record.Load()
	if compiled.encodeRecord(&r) != kept.enc || compiled.record.Load() != kept {
		t.Errorf("an equal record was stored again")
	}
}

// TestSharedRecordMaps: the record maps an Injector shares between Pods
// (see compiledMode) give the record that maps built for each Pod give,
// on Pods where they apply and where they do not (hostNetwork and token
// volumes change the containers' digests; a volume of the Pod's own is
// not recorded), in every compiled mode, on a fresh Pod and on its
// re-injection.
func TestSharedRecordMaps(t *testing.T) {
	s := Spec{
		Container: corev1.Container{Name: "proxy", Image: "proxy:1", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}},
			Ports: []corev1.ContainerPort{{ContainerPort: 15001}}}, // hostNetwork defaults hostPort
		Volumes: []corev1.Volume{
			{Name: "proxy-socket", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "proxy-certs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		},
		AppMounts: []corev1.VolumeMount{{Name: "proxy-socket", MountPath: "/var/run/proxy"}},
		AppEnv:    []corev1.EnvVar{{Name: "PROXY_PORT", Value: "15001"}},
	}
	apps := func() []corev1.Container {
		return []corev1.Container{{Name: "app", Image: "app:1"}, {Name: "web", Image: "web:1"}}
	}
	expiry := int64(3607)
	pods := map[string]func() *corev1.PodSpec{
		"fresh":       func() *corev1.PodSpec { return &corev1.PodSpec{Containers: apps()} },
		"hostNetwork": func() *corev1.PodSpec { return &corev1.PodSpec{HostNetwork: true, Containers: apps()} },
		"token volume": func() *corev1.PodSpec {
			return &corev1.PodSpec{Containers: apps(), Volumes: []corev1.Volume{{Name: "kube-api-access-x", VolumeSource: corev1.VolumeSource{
				Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &expiry}}}}}}}}
		},
		"own volume, second": func() *corev1.PodSpec {
			return &corev1.PodSpec{Containers: apps(), Volumes: []corev1.Volume{*s.Volumes[1].DeepCopy()}}
		},
		"own volume, first": func() *corev1.PodSpec {
			return &corev1.PodSpec{Containers: apps(), Volumes: []corev1.Volume{*s.Volumes[0].DeepCopy()}}
		},
		"preset mount": func() *corev1.PodSpec {
			c := apps()
			c[0].VolumeMounts = []corev1.VolumeMount{{Name: "proxy-socket", MountPath: "/var/run/proxy"}}
			return &corev1.PodSpec{Containers: c}
		},
	}
	// With a token volume, the sidecar's mount of it is left out of its
	// digest.
	withToken := s
	withToken.Container = *s.Container.DeepCopy()
	withToken.Container.VolumeMounts = []corev1.VolumeMount{{Name: "kube-api-access-x", MountPath: serviceAccountMountPath, ReadOnly: true}}
	caps := compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}
	for name, pod := range pods {
		s := s
		if name == "token volume" {
			s = withToken
		}
		for i, mode := range []Mode{Native, Pinned, Legacy} {
			shared, err := NewInjector(s)
			if err != nil {
				t.Fatal(err)
			}
			perPod, _ := NewInjector(s)
			if _, err := perPod.plan(mode, nil, &Options{Mode: mode}); err != nil {
				t.Fatal(err)
			}
			perPod.modes[i].containers = nil // as for a plan built for one Pod: maps built per Pod
			inject := func(in *Injector, meta *metav1.ObjectMeta, spec *corev1.PodSpec) (string, *patch.Mutation) {
				t.Helper()
				res, err := in.Inject(context.Background(), meta, spec, caps, Options{Mode: mode})
				if err != nil {
					t.Fatalf("%s, %s: %v", name, mode, err)
				}
				b, err := res.Mutation.MarshalJSONPatch(patch.PodRoot)
				if err != nil {
					t.Fatal(err)
				}
				return string(b), res.Mutation
			}
			meta := &metav1.ObjectMeta{Name: "p"}
			got, m := inject(shared, meta, pod())
			want, _ := inject(perPod, meta, pod())
			if got != want {
				t.Errorf("%s, %s: shared maps give\n%s\nmaps per Pod give\n%s", name, mode, got, want)
			}
			if shared.modes[i].initDigests == nil && shared.modes[i].regularDigests == nil || shared.modes[i].volumeDigests == nil ||
				shared.modes[i].appMounts == nil || shared.modes[i].appEnv == nil || shared.modes[i].resources == nil {
				t.Errorf("%s, %s: a shared map is missing", name, mode)
			}
			// Injected again, the Pod gets no change either way.
			am, as := m.Result()
			got, _ = inject(shared, am, as)
			want, _ = inject(perPod, am, as)
			if got != want || got != "[]" {
				t.Errorf("%s, %s: again: shared maps give %s, maps per Pod give %s", name, mode, got, want)
			}
		}
	}
}
