package sidecar

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The defaults of fields newer than k8s.io/api v0.28 (see newerFields in
// defaults.go). With the library's own go.mod (v0.28) the fields do not
// exist: the lookups find nothing, and the tests that need a field skip,
// saying so. Run them against a current k8s.io/api from the e2e module,
// which requires one (the library is replaced by this checkout):
//
//	cd e2e && go test github.com/sidecarkit/sidecarkit/sidecar -run 'TestFieldIndex|TestNewer'
//
// e2e/injection's TestStoredFixtures checks the same on Pods the API
// server stored, and the trust e2e tests against the API server itself.

func TestFieldIndex(t *testing.T) {
	type selector struct {
		Key      string
		Optional *bool
	}
	type source struct {
		Name       string
		FileKeyRef *selector
		Count      *int
	}
	st := reflect.TypeOf(source{})
	for _, tc := range []struct {
		name       string
		t          reflect.Type
		field      string
		kind, elem reflect.Kind
		want       []int
		wantType   reflect.Type
	}{
		{"pointer to struct", st, "FileKeyRef", reflect.Ptr, reflect.Struct, []int{1}, reflect.TypeOf(selector{})},
		{"pointer to bool", reflect.TypeOf(selector{}), "Optional", reflect.Ptr, reflect.Bool, []int{1}, reflect.TypeOf(false)},
		{"string", st, "Name", reflect.String, 0, []int{0}, reflect.TypeOf("")},
		{"absent", st, "Image", reflect.Ptr, reflect.Struct, nil, nil},
		{"pointer to another kind", st, "Count", reflect.Ptr, reflect.String, nil, nil},
		{"not a pointer", st, "Name", reflect.Ptr, reflect.String, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx, typ := fieldIndex(tc.t, tc.field, tc.kind, tc.elem)
			if !reflect.DeepEqual(idx, tc.want) || typ != tc.wantType {
				t.Errorf("fieldIndex(%s, %q) = %v, %v; want %v, %v", tc.t, tc.field, idx, typ, tc.want, tc.wantType)
			}
		})
	}
}

// TestNewerFieldsLookup: a newer field is used exactly when the compiled
// k8s.io/api has it.
func TestNewerFieldsLookup(t *testing.T) {
	has := func(typ reflect.Type, name string) bool { _, ok := typ.FieldByName(name); return ok }
	for _, tc := range []struct {
		name  string
		found bool
		in    bool
	}{
		{"VolumeSource.Image", newerFields.volumeImage != nil, has(reflect.TypeOf(corev1.VolumeSource{}), "Image")},
		{"EnvVarSource.FileKeyRef", newerFields.fileKeyRef != nil, has(reflect.TypeOf(corev1.EnvVarSource{}), "FileKeyRef")},
		{"HTTPGetAction.Protocol", newerFields.httpProtocol != nil, has(reflect.TypeOf(corev1.HTTPGetAction{}), "Protocol")},
	} {
		if tc.found != tc.in {
			t.Errorf("%s: looked up %v, in the compiled k8s.io/api %v", tc.name, tc.found, tc.in)
		}
		t.Logf("%s: in the compiled k8s.io/api: %v", tc.name, tc.in)
	}
}

// httpContainer is a container with an httpGet liveness probe and preStop
// hook, with the given protocol ("" for none) on both.
func httpContainer(t *testing.T, protocol string) corev1.Container {
	t.Helper()
	c := corev1.Container{
		Name: "mesh", Image: "registry.example/mesh:1",
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{}}},
		Lifecycle:     &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/drain"}}},
	}
	c.LivenessProbe.HTTPGet.Port.IntVal = 15000
	c.Lifecycle.PreStop.HTTPGet.Port.IntVal = 15000
	setHTTPProtocol(c.LivenessProbe.HTTPGet, protocol)
	setHTTPProtocol(c.Lifecycle.PreStop.HTTPGet, protocol)
	return c
}

func TestNewerHTTPGetProtocol(t *testing.T) {
	if newerFields.httpProtocol == nil {
		t.Skip("HTTPGetAction.Protocol is not in the compiled k8s.io/api (v0.37 or later has it)")
	}
	want := httpContainer(t, "")
	var f podFacts
	for _, tc := range []struct {
		name     string
		stored   string // the pod's protocol
		same     bool
		keepsIn  string // the update target's protocol
		sameHash bool
	}{
		{"defaulted by the API server", defaultHTTPProtocol, true, defaultHTTPProtocol, true},
		{"not defaulted (gate off, or a template)", "", true, "", true},
		{"another protocol", "H2C", false, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := httpContainer(t, tc.stored)
			if got := sameContainer(&c, &want, &f, nil); got != tc.same {
				t.Errorf("sameContainer = %v, want %v", got, tc.same)
			}
			if got := containerDigest(&c, &f) == containerDigest(&want, &f); got != tc.sameHash {
				t.Errorf("equal digests = %v, want %v", got, tc.sameHash)
			}
			target := containerTarget(&c, &want, &f, nil)
			for what, h := range map[string]*corev1.HTTPGetAction{"livenessProbe": target.LivenessProbe.HTTPGet, "preStop": target.Lifecycle.PreStop.HTTPGet} {
				if p, _ := httpProtocol(h); p != tc.keepsIn {
					t.Errorf("target %s protocol %q, want %q", what, p, tc.keepsIn)
				}
			}
		})
	}
	// A Spec that sets the default itself matches a stored pod that has
	// it, and the target keeps it.
	explicit := httpContainer(t, defaultHTTPProtocol)
	stored := httpContainer(t, defaultHTTPProtocol)
	if !sameContainer(&stored, &explicit, &f, nil) {
		t.Error("a Spec with protocol HTTP1 does not match a stored HTTP1")
	}
	target := containerTarget(&stored, &explicit, &f, nil)
	if p, _ := httpProtocol(target.LivenessProbe.HTTPGet); p != defaultHTTPProtocol {
		t.Errorf("target protocol %q, want %q", p, defaultHTTPProtocol)
	}
	// A Spec that sets another protocol keeps it in the target, even where
	// the pod's container has the default.
	other := httpContainer(t, "H2C")
	target = containerTarget(&stored, &other, &f, nil)
	if p, _ := httpProtocol(target.LivenessProbe.HTTPGet); p != "H2C" {
		t.Errorf("target protocol %q, want the Spec's H2C", p)
	}
}

// fileKeyEnv returns an env var from a fileKeyRef whose optional is opt
// (nil: unset).
func fileKeyEnv(t *testing.T, opt *bool) corev1.EnvVar {
	t.Helper()
	e := corev1.EnvVar{Name: "MESH_BOOTSTRAP", ValueFrom: &corev1.EnvVarSource{}}
	ref := reflect.ValueOf(e.ValueFrom).Elem().FieldByIndex(newerFields.fileKeyRef)
	sel := reflect.New(ref.Type().Elem())
	for k, v := range map[string]string{"VolumeName": "mesh-socket", "Path": "bootstrap.env", "Key": "TOKEN"} {
		sel.Elem().FieldByName(k).SetString(v)
	}
	if opt != nil {
		sel.Elem().FieldByIndex(newerFields.fileKeyOptional).Set(reflect.ValueOf(opt))
	}
	ref.Set(sel)
	return e
}

func optional(e *corev1.EnvVar) *bool {
	v, ok := fileKeyOptional(e)
	if !ok || v.IsNil() {
		return nil
	}
	b := v.Elem().Bool()
	return &b
}

func TestNewerFileKeyRefOptional(t *testing.T) {
	if newerFields.fileKeyRef == nil {
		t.Skip("EnvVarSource.FileKeyRef is not in the compiled k8s.io/api (v0.34 or later has it)")
	}
	no, yes := false, true
	want := fileKeyEnv(t, nil)
	var f podFacts
	for _, tc := range []struct {
		name   string
		stored *bool
		same   bool
		target *bool // optional in the update target of a container with the env var
	}{
		{"defaulted by the API server", &no, true, &no},
		{"set by the pod's author", &yes, false, &no},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := fileKeyEnv(t, tc.stored)
			if got := sameEnv(&e, &want); got != tc.same {
				t.Errorf("sameEnv = %v, want %v", got, tc.same)
			}
			if got := envDigest(&e) == envDigest(&want); got != tc.same {
				t.Errorf("equal digests = %v, want %v", got, tc.same)
			}
			if got := optional(ptrEnv(envTarget(&want))); got == nil || *got {
				t.Errorf("envTarget optional %v, want the default false", got)
			}
			c := corev1.Container{Name: "mesh", Image: "registry.example/mesh:1", Env: []corev1.EnvVar{e}}
			w := corev1.Container{Name: "mesh", Image: "registry.example/mesh:1", Env: []corev1.EnvVar{want}}
			if got := sameContainer(&c, &w, &f, nil); got != tc.same {
				t.Errorf("sameContainer = %v, want %v", got, tc.same)
			}
			target := containerTarget(&c, &w, &f, nil)
			if got := optional(&target.Env[0]); !reflect.DeepEqual(got, tc.target) {
				t.Errorf("target optional %v, want %v", got, tc.target)
			}
		})
	}
	// A container without the env var (an older sidecar) gets it without
	// the default.
	c := corev1.Container{Name: "mesh", Image: "registry.example/mesh:1"}
	w := corev1.Container{Name: "mesh", Image: "registry.example/mesh:1", Env: []corev1.EnvVar{want}}
	if got := optional(&containerTarget(&c, &w, &f, nil).Env[0]); got != nil {
		t.Errorf("target of a container without the env var: optional %v, want unset", *got)
	}
}

func ptrEnv(e corev1.EnvVar) *corev1.EnvVar { return &e }

// imageVolume returns a volume of an image reference with pull policy pp
// ("" for none).
func imageVolume(t *testing.T, ref, pp string) corev1.Volume {
	t.Helper()
	v := corev1.Volume{Name: "mesh-filters"}
	f := reflect.ValueOf(&v.VolumeSource).Elem().FieldByIndex(newerFields.volumeImage)
	img := reflect.New(f.Type().Elem())
	img.Elem().FieldByIndex(newerFields.imageReference).SetString(ref)
	img.Elem().FieldByIndex(newerFields.imagePullPolicy).SetString(pp)
	f.Set(img)
	return v
}

func TestNewerImageVolumePullPolicy(t *testing.T) {
	if newerFields.volumeImage == nil {
		t.Skip("VolumeSource.Image is not in the compiled k8s.io/api (v0.31 or later has it)")
	}
	for _, tc := range []struct {
		ref, stored string
		same        bool
	}{
		{"registry.example/filters:1.0", "IfNotPresent", true},
		{"registry.example/filters:latest", "Always", true},
		{"registry.example/filters", "Always", true},
		{"registry.example/filters:1.0", "Always", false},
	} {
		t.Run(tc.ref+"/"+tc.stored, func(t *testing.T) {
			want, v := imageVolume(t, tc.ref, ""), imageVolume(t, tc.ref, tc.stored)
			if got := sameVolume(&v, &want); got != tc.same {
				t.Errorf("sameVolume = %v, want %v", got, tc.same)
			}
			if got := volumeDigest(&v) == volumeDigest(&want); got != tc.same {
				t.Errorf("equal digests = %v, want %v", got, tc.same)
			}
			target := volumeTarget(&want)
			pp := reflect.ValueOf(target.VolumeSource).FieldByIndex(newerFields.volumeImage).Elem().FieldByIndex(newerFields.imagePullPolicy).String()
			if want := string(pullPolicyDefault(tc.ref)); pp != want {
				t.Errorf("volumeTarget pullPolicy %q, want the default %q", pp, want)
			}
		})
	}
}
