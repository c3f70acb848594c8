package sidecar

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// What the library treats as its own is recognised by content, never by a
// name or an annotation alone (docs/injection-record.md):
//
//   - An element is "as specified" when it equals the planned element
//     modulo the API server's defaulting (see defaults.go) and the
//     additions of its built-in admission plugins: the ServiceAccount
//     plugin's token mount, and resources the spec leaves unset (which
//     LimitRanger, a vertical pod autoscaler or the Pod's author may set).
//     An imagePullPolicy the spec leaves unset is the API server's too
//     (AlwaysPullImages sets it).
//   - An element "was injected" when its digest equals the one the record
//     holds for it: a hash of its content modulo the same (resources and
//     imagePullPolicy left out entirely, since the spec that set them may
//     be gone).

// serviceAccountMountPath and serviceAccountVolumePrefix identify the
// ServiceAccount admission plugin's token mount, which it adds to every
// container that has no mount at that path, the library's included
// (plugin/pkg/admission/serviceaccount in k8s.io/kubernetes).
const (
	serviceAccountMountPath    = "/var/run/secrets/kubernetes.io/serviceaccount"
	serviceAccountVolumePrefix = "kube-api-access-"
)

// podFacts is what comparing an element of a pod depends on beyond the
// element: its defaults and which volumes are the ServiceAccount plugin's.
type podFacts struct {
	defaults podDefaults
	// tokenVolumes are the names of the pod's projected volumes named as
	// the ServiceAccount plugin names its token volume.
	tokenVolumes map[string]bool
}

func factsOf(spec *corev1.PodSpec) podFacts {
	f := podFacts{defaults: podDefaults{hostNetwork: spec.HostNetwork}}
	f.addTokenVolumes(spec.Volumes)
	return f
}

// factsAfter is factsOf the pod once the volumes planned are in it: the
// digests of what an injection adds are taken against it, as every later
// call (Inject, Uninject, Migrate) takes them against the pod that holds
// those volumes. (A Spec may mount its own projected volume, named as the
// plugin names its, at the token path.)
func factsAfter(spec *corev1.PodSpec, planned []corev1.Volume) podFacts {
	f := factsOf(spec)
	f.addTokenVolumes(planned)
	return f
}

func (f *podFacts) addTokenVolumes(l []corev1.Volume) {
	for i := range l {
		v := &l[i]
		if isTokenVolume(v) {
			if f.tokenVolumes == nil {
				f.tokenVolumes = map[string]bool{}
			}
			f.tokenVolumes[v.Name] = true
		}
	}
}

// isTokenVolume reports whether v is, by its name and kind, a volume
// the ServiceAccount admission plugin adds (whose defaults the digests
// take into account: podFacts).
func isTokenVolume(v *corev1.Volume) bool {
	return strings.HasPrefix(v.Name, serviceAccountVolumePrefix) && v.Projected != nil
}

// isTokenMount reports whether m is the ServiceAccount plugin's mount.
func (f *podFacts) isTokenMount(m *corev1.VolumeMount) bool {
	return m.MountPath == serviceAccountMountPath && m.ReadOnly && f.tokenVolumes[m.Name] &&
		m.SubPath == "" && m.SubPathExpr == "" && m.MountPropagation == nil
}

// mountsAt reports whether l has a mount at path.
func mountsAt(l []corev1.VolumeMount, path string) bool {
	for i := range l {
		if l[i].MountPath == path {
			return true
		}
	}
	return false
}

// normalContainer returns a copy of c in the form containers are compared
// in against the planned container want: defaulted, without the token
// mount (unless want mounts that path itself, in which case the plugin
// adds none), with an imagePullPolicy only when want sets one, and with
// only the resources want sets or an earlier injection set (owned, see
// Record.Resources): the others belong to LimitRanger, an autoscaler or
// the Pod's author.
func normalContainer(c, want *corev1.Container, f *podFacts, owned map[string]bool) corev1.Container {
	n := *c.DeepCopy()
	defaultContainer(&n, f.defaults)
	if want.ImagePullPolicy == "" {
		n.ImagePullPolicy = ""
	}
	if !mountsAt(want.VolumeMounts, serviceAccountMountPath) {
		n.VolumeMounts = withoutTokenMounts(n.VolumeMounts, f)
	}
	if want != c {
		w := want.Resources.DeepCopy()
		defaultResources(w)
		n.Resources.Limits = only(n.Resources.Limits, w.Limits, owned, "limits/")
		n.Resources.Requests = only(n.Resources.Requests, w.Requests, owned, "requests/")
	}
	return n
}

func withoutTokenMounts(l []corev1.VolumeMount, f *podFacts) []corev1.VolumeMount {
	if len(f.tokenVolumes) == 0 {
		return l
	}
	out := l[:0:0]
	for i := range l {
		if !f.isTokenMount(&l[i]) {
			out = append(out, l[i])
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// only returns the entries of l whose names keep has or owned has (with
// prefix).
func only(l, keep corev1.ResourceList, owned map[string]bool, prefix string) corev1.ResourceList {
	var out corev1.ResourceList
	for k, q := range l {
		if _, ok := keep[k]; ok || owned[prefix+string(k)] {
			if out == nil {
				out = make(corev1.ResourceList, len(keep))
			}
			out[k] = q
		}
	}
	return out
}

// sameContainer reports whether the pod's container c is the planned
// container want, as specified (see the top of this file and
// normalContainer).
func sameContainer(c, want *corev1.Container, f *podFacts, owned map[string]bool) bool {
	a, b := normalContainer(c, want, f, owned), normalContainer(want, want, f, owned)
	return equalJSON(&a, &b)
}

// equalJSON reports whether a and b (API values of one type) encode
// alike. reflect.DeepEqual decides most cases without encoding; it can
// tell equal quantities apart by their cached text, so a difference is
// confirmed by encoding.
func equalJSON(a, b interface{}) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// differingFields returns the JSON names of the top-level fields in which
// a and b differ, sorted, for messages.
func differingFields(a, b interface{}) []string {
	var ma, mb map[string]json.RawMessage
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if json.Unmarshal(ja, &ma) != nil || json.Unmarshal(jb, &mb) != nil {
		return nil
	}
	var out []string
	for k, v := range ma {
		if w, ok := mb[k]; !ok || !bytes.Equal(v, w) {
			out = append(out, k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// sameVolume reports whether v is want modulo the API server's defaults.
func sameVolume(v, want *corev1.Volume) bool {
	if reflect.DeepEqual(v, want) {
		return true
	}
	a, b := *v.DeepCopy(), *want.DeepCopy()
	defaultVolume(&a)
	defaultVolume(&b)
	return equalJSON(&a, &b)
}

// sameEnv reports whether e is want modulo the API server's defaults.
func sameEnv(e, want *corev1.EnvVar) bool {
	if e.ValueFrom == nil && want.ValueFrom == nil {
		return e.Name == want.Name && e.Value == want.Value
	}
	a, b := *e.DeepCopy(), *want.DeepCopy()
	defaultEnv(&a)
	defaultEnv(&b)
	return equalJSON(&a, &b)
}

// sameMount reports whether m is want (volume mounts have no defaults).
func sameMount(m, want *corev1.VolumeMount) bool {
	return equalJSON(m, want)
}

// Digests: the first 8 bytes of the SHA-256 of an element's JSON encoding
// in digest form, in hex. They identify content, they are not secrets:
// a forged record can name any digest, which is why a record alone never
// makes an element the library's (see inject.go).

func digest(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// containerDigest is the digest of a container: defaulted, without
// resources, imagePullPolicy and the ServiceAccount plugin's token mount.
func containerDigest(c *corev1.Container, f *podFacts) string {
	n := *c.DeepCopy()
	defaultContainer(&n, f.defaults)
	n.Resources = corev1.ResourceRequirements{}
	n.ResizePolicy = nil
	n.ImagePullPolicy = ""
	n.VolumeMounts = withoutTokenMounts(n.VolumeMounts, f)
	return digest(&n)
}

func volumeDigest(v *corev1.Volume) string {
	n := *v.DeepCopy()
	defaultVolume(&n)
	return digest(&n)
}

func envDigest(e *corev1.EnvVar) string {
	n := *e.DeepCopy()
	defaultEnv(&n)
	return digest(&n)
}

func mountDigest(m *corev1.VolumeMount) string { return digest(m) }

// containerTarget returns what the pod's container c (the library's,
// verified or claimed) is updated to: the planned container want, with
// the API server's defaults where c has them (an update never strips a
// default, which would make an operator's patch differ from the stored
// object forever, and never adds one c lacks), and with what the API
// server's plugins added that want leaves unset: the token mount and
// resources not owned (see normalContainer).
func containerTarget(c, want *corev1.Container, f *podFacts, owned map[string]bool) corev1.Container {
	t := *want.DeepCopy()
	defaultContainer(&t, f.defaults)
	keepDefaultsOf(&t, want, c)
	switch {
	case want.ImagePullPolicy != "":
	case c.ImagePullPolicy != "" && c.Image == want.Image:
		t.ImagePullPolicy = c.ImagePullPolicy
	case c.ImagePullPolicy != "":
		t.ImagePullPolicy = pullPolicyDefault(want.Image)
	}
	for k, q := range c.Resources.Limits {
		if _, set := t.Resources.Limits[k]; !set && !owned["limits/"+string(k)] {
			if t.Resources.Limits == nil {
				t.Resources.Limits = corev1.ResourceList{}
			}
			t.Resources.Limits[k] = q.DeepCopy()
		}
	}
	for k, q := range c.Resources.Requests {
		if _, set := t.Resources.Requests[k]; !set && !owned["requests/"+string(k)] {
			if t.Resources.Requests == nil {
				t.Resources.Requests = corev1.ResourceList{}
			}
			t.Resources.Requests[k] = q.DeepCopy()
		}
	}
	if !mountsAt(want.VolumeMounts, serviceAccountMountPath) {
		for i := range c.VolumeMounts {
			if f.isTokenMount(&c.VolumeMounts[i]) {
				t.VolumeMounts = append(t.VolumeMounts, c.VolumeMounts[i])
			}
		}
	}
	return t
}

// keepDefaultsOf undoes, in t (want with the API server's defaults), each
// default that want lacks and c does not have with the same value.
func keepDefaultsOf(t, want, c *corev1.Container) {
	if want.TerminationMessagePath == "" && c.TerminationMessagePath != t.TerminationMessagePath {
		t.TerminationMessagePath = ""
	}
	if want.TerminationMessagePolicy == "" && c.TerminationMessagePolicy != t.TerminationMessagePolicy {
		t.TerminationMessagePolicy = ""
	}
	for j := range t.Ports {
		w, tp := &want.Ports[j], &t.Ports[j]
		var cp *corev1.ContainerPort
		for k := range c.Ports {
			if c.Ports[k].ContainerPort == w.ContainerPort && c.Ports[k].Name == w.Name {
				cp = &c.Ports[k]
				break
			}
		}
		if w.Protocol == "" && (cp == nil || cp.Protocol != tp.Protocol) {
			tp.Protocol = ""
		}
		if w.HostPort == 0 && (cp == nil || cp.HostPort != tp.HostPort) {
			tp.HostPort = 0
		}
	}
	for j := range t.Env {
		w := &want.Env[j]
		if w.ValueFrom == nil || w.ValueFrom.FieldRef == nil || w.ValueFrom.FieldRef.APIVersion != "" {
			continue
		}
		k := envIndex(c.Env, w.Name)
		if k < 0 || c.Env[k].ValueFrom == nil || c.Env[k].ValueFrom.FieldRef == nil || c.Env[k].ValueFrom.FieldRef.APIVersion != defaultFieldRefAPIVersion {
			t.Env[j].ValueFrom.FieldRef.APIVersion = ""
		}
	}
	// A fileKeyRef's optional (see newerFields) stays where c has one.
	for j := range t.Env {
		if w, ok := fileKeyOptional(&want.Env[j]); !ok || !w.IsNil() {
			continue
		}
		if k := envIndex(c.Env, want.Env[j].Name); k >= 0 {
			if cv, ok := fileKeyOptional(&c.Env[k]); ok && !cv.IsNil() {
				continue
			}
		}
		tv, _ := fileKeyOptional(&t.Env[j])
		tv.Set(reflect.Zero(tv.Type()))
	}
	// Requests derived from limits stay only where c has them.
	for k := range t.Resources.Requests {
		if _, set := want.Resources.Requests[k]; set {
			continue
		}
		if _, has := c.Resources.Requests[k]; !has {
			delete(t.Resources.Requests, k)
		}
	}
	if len(t.Resources.Requests) == 0 {
		t.Resources.Requests = nil
	}
	keepProbeDefaults(t.LivenessProbe, want.LivenessProbe, c.LivenessProbe)
	keepProbeDefaults(t.ReadinessProbe, want.ReadinessProbe, c.ReadinessProbe)
	keepProbeDefaults(t.StartupProbe, want.StartupProbe, c.StartupProbe)
	if t.Lifecycle != nil {
		var cl corev1.Lifecycle
		if c.Lifecycle != nil {
			cl = *c.Lifecycle
		}
		if t.Lifecycle.PostStart != nil {
			keepHTTPGetDefaults(t.Lifecycle.PostStart.HTTPGet, want.Lifecycle.PostStart.HTTPGet, handlerGet(cl.PostStart))
		}
		if t.Lifecycle.PreStop != nil {
			keepHTTPGetDefaults(t.Lifecycle.PreStop.HTTPGet, want.Lifecycle.PreStop.HTTPGet, handlerGet(cl.PreStop))
		}
	}
}

func handlerGet(h *corev1.LifecycleHandler) *corev1.HTTPGetAction {
	if h == nil {
		return nil
	}
	return h.HTTPGet
}

func keepProbeDefaults(t, want, c *corev1.Probe) {
	if t == nil {
		return
	}
	var cp corev1.Probe
	if c != nil {
		cp = *c
	}
	for _, f := range []struct {
		t          *int32
		want, have int32
	}{
		{&t.TimeoutSeconds, want.TimeoutSeconds, cp.TimeoutSeconds},
		{&t.PeriodSeconds, want.PeriodSeconds, cp.PeriodSeconds},
		{&t.SuccessThreshold, want.SuccessThreshold, cp.SuccessThreshold},
		{&t.FailureThreshold, want.FailureThreshold, cp.FailureThreshold},
	} {
		if f.want == 0 && f.have != *f.t {
			*f.t = 0
		}
	}
	keepHTTPGetDefaults(t.HTTPGet, want.HTTPGet, cp.HTTPGet)
	if t.GRPC != nil && want.GRPC.Service == nil && (cp.GRPC == nil || cp.GRPC.Service == nil) {
		t.GRPC.Service = nil
	}
}

func keepHTTPGetDefaults(t, want, c *corev1.HTTPGetAction) {
	if t == nil {
		return
	}
	var ch corev1.HTTPGetAction
	if c != nil {
		ch = *c
	}
	if want.Path == "" && ch.Path != t.Path {
		t.Path = ""
	}
	if want.Scheme == "" && ch.Scheme != t.Scheme {
		t.Scheme = ""
	}
	// defaultHTTPGet removed the protocol's default from t (and from a
	// want that set it): keep it where c has it.
	if p, ok := httpProtocol(t); ok && p == "" {
		if cp, _ := httpProtocol(&ch); cp == defaultHTTPProtocol {
			setHTTPProtocol(t, cp)
		}
	}
}

// volumeTarget is want with the API server's defaults, which a stored
// volume has: restoring a volume never strips them.
func volumeTarget(want *corev1.Volume) corev1.Volume {
	t := *want.DeepCopy()
	defaultVolume(&t)
	return t
}

// envTarget is want with the API server's defaults.
func envTarget(want *corev1.EnvVar) corev1.EnvVar {
	t := *want.DeepCopy()
	defaultEnv(&t)
	return t
}

// resourceKeys returns the resources want's spec sets, with the requests
// the API server derives from limits, as sorted "limits/<name>" and
// "requests/<name>" (see Record.Resources); nil when it sets none.
func resourceKeys(want *corev1.Container) []string {
	r := want.Resources.DeepCopy()
	defaultResources(r)
	var out []string
	for k := range r.Limits {
		out = append(out, "limits/"+string(k))
	}
	for k := range r.Requests {
		out = append(out, "requests/"+string(k))
	}
	sort.Strings(out)
	return out
}
