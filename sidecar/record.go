package sidecar

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/jsonstr"
	"github.com/sidecarkit/sidecarkit/patch"
)

// AnnotationPrefix prefixes the pod annotation that records an injection:
// the annotation of a sidecar named "proxy" is
// "sidecar.sidecarkit.io/proxy".
const AnnotationPrefix = "sidecar.sidecarkit.io/" // compat reads it too (internal/annotation)

// Annotation returns the key of the annotation that records the injection
// of the sidecar named name.
func Annotation(name string) string { return AnnotationPrefix + name }

// recordVersion is the version of the record format this package writes
// and reads.
const recordVersion = 2

// reasonRequested is a Record's Reason when Options.Mode forced the mode
// (Auto records compat's code for its choice).
const reasonRequested = "requested"

// Record is what the injection annotation holds: the mode, why it was
// chosen, and a digest of every element the injection added, so that a
// later injection, Uninject or Migrate recognises its own elements by
// content. The record is a hint, never trust: it is written into the Pod,
// where the Pod's author can write anything. The library treats an
// element as its own only when the element's content matches what it
// would inject or the digest recorded for it; see docs/injection-record.md.
type Record struct {
	// Version of the record format: 2.
	Version int `json:"v"`
	// Mode is the concrete mode injected (never Auto).
	Mode Mode `json:"mode"`
	// Reason says why the mode was chosen: compat's code when Auto chose
	// (for example "all-native"), "requested" when it was forced.
	Reason string `json:"reason,omitempty"`
	// Spec identifies the sidecar Spec and mode injected (a hash), so
	// that a reader can tell which version of the sidecar a Pod has.
	Spec string `json:"spec,omitempty"`
	// InitContainers and Containers map the names of the containers
	// injected to their digests.
	InitContainers map[string]string `json:"initContainers,omitempty"`
	Containers     map[string]string `json:"containers,omitempty"`
	// Volumes maps the names of the volumes added (volumes that were there
	// already are not listed) to their digests.
	Volumes map[string]string `json:"volumes,omitempty"`
	// Resources lists, per container injected, the resources its spec set
	// ("limits/memory", "requests/cpu", with the requests the API server
	// derives from limits): an update removes those the new spec leaves
	// unset, and keeps the entries others set (LimitRanger, an autoscaler).
	Resources map[string][]string `json:"resources,omitempty"`
	// AppMounts and AppEnv map the mountPaths and env names added to
	// application containers to the digests of what was added (the same
	// for every application container).
	AppMounts map[string]string `json:"appMounts,omitempty"`
	AppEnv    map[string]string `json:"appEnv,omitempty"`
	// PresetMounts and PresetEnv list, per mountPath of AppMounts and
	// name of AppEnv, the application containers (in the Pod's order)
	// whose item is their author's: the container had it before the
	// injection came to add it, or its author changed what the injection
	// added. No update and no Uninject touches those.
	PresetMounts map[string][]string `json:"presetMounts,omitempty"`
	PresetEnv    map[string][]string `json:"presetEnv,omitempty"`
	// NodeRequirement is set when a node-affinity requirement was added
	// (Pinned mode).
	NodeRequirement bool `json:"nodeRequirement,omitempty"`
	// DefaultContainer is the value the injection gave the Pod's
	// kubectl.kubernetes.io/default-container annotation, which it sets
	// when it puts a sidecar first among the regular containers and the
	// Pod names no default container of its own; "" when it set none.
	DefaultContainer string `json:"defaultContainer,omitempty"`
}

// ReadRecord returns the record of the sidecar named name from pod
// metadata. It reports false when there is none. A record that does not
// decode, has another version or mode, or names a container that no
// injection of that sidecar could have added (every container the library
// injects is named name or name-<suffix>) is an error with the
// annotation's path.
func ReadRecord(meta *metav1.ObjectMeta, name string) (Record, bool, error) {
	if meta == nil {
		return Record{}, false, nil
	}
	v, ok := meta.Annotations[Annotation(name)]
	if !ok {
		return Record{}, false, nil
	}
	p := field.NewPath("metadata", "annotations").Key(Annotation(name))
	invalid := func(detail string) error { return field.Invalid(p, excerpt(v), detail) }
	var head struct {
		Version int `json:"v"`
	}
	if err := utiljson.Unmarshal([]byte(v), &head); err != nil {
		return Record{}, false, invalid("not a sidecarkit record: " + excerpt(err.Error()))
	}
	if head.Version != recordVersion {
		return Record{}, false, invalid(fmt.Sprintf("record version %d is not supported (want %d)", head.Version, recordVersion))
	}
	var r Record
	if err := utiljson.Unmarshal([]byte(v), &r); err != nil {
		return Record{}, false, invalid("not a sidecarkit record: " + excerpt(err.Error()))
	}
	switch r.Mode {
	case Native, Legacy, Pinned, Universal:
	default:
		return Record{}, false, invalid(fmt.Sprintf("unknown mode %q", excerpt(string(r.Mode))))
	}
	for _, l := range []map[string]string{r.InitContainers, r.Containers} {
		for n := range l {
			if !ownName(name, n) {
				return Record{}, false, invalid(fmt.Sprintf("names container %q, which no injection of sidecar %q adds (its containers are named %q or %q)", excerpt(n), name, name, name+"-<suffix>"))
			}
		}
	}
	for n := range r.InitContainers {
		if _, dup := r.Containers[n]; dup {
			return Record{}, false, invalid(fmt.Sprintf("names container %q in both lists", excerpt(n)))
		}
	}
	return r, true, nil
}

// ownName reports whether a container named n can belong to the sidecar
// named name: n is name or starts with name and a hyphen.
func ownName(name, n string) bool {
	return n == name || len(n) > len(name)+1 && strings.HasPrefix(n, name) && n[len(name)] == '-'
}

// maxExcerpt bounds the user content an error message quotes.
const maxExcerpt = 64

// excerpt returns s, or its first maxExcerpt bytes (cut at a rune
// boundary) and "...", so that a message never echoes much of what a
// request carried.
func excerpt(s string) string {
	if len(s) <= maxExcerpt {
		return s
	}
	i := maxExcerpt
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// encode writes r as json.Marshal does, byte for byte (TestRecordEncode
// and FuzzRecordEncode hold it to that), without reflection: it runs on
// every injection.
func (r Record) encode() string {
	b := make([]byte, 0, 256)
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(r.Version), 10)
	b = append(b, `,"mode":`...)
	b = jsonstr.Append(b, string(r.Mode))
	if r.Reason != "" {
		b = append(b, `,"reason":`...)
		b = jsonstr.Append(b, r.Reason)
	}
	if r.Spec != "" {
		b = append(b, `,"spec":`...)
		b = jsonstr.Append(b, r.Spec)
	}
	b = appendMap(b, `,"initContainers":`, r.InitContainers)
	b = appendMap(b, `,"containers":`, r.Containers)
	b = appendMap(b, `,"volumes":`, r.Volumes)
	b = appendLists(b, `,"resources":`, r.Resources)
	b = appendMap(b, `,"appMounts":`, r.AppMounts)
	b = appendMap(b, `,"appEnv":`, r.AppEnv)
	b = appendLists(b, `,"presetMounts":`, r.PresetMounts)
	b = appendLists(b, `,"presetEnv":`, r.PresetEnv)
	if r.NodeRequirement {
		b = append(b, `,"nodeRequirement":true`...)
	}
	if r.DefaultContainer != "" {
		b = append(b, `,"defaultContainer":`...)
		b = jsonstr.Append(b, r.DefaultContainer)
	}
	return string(append(b, '}'))
}

// appendMap appends member (a comma and a quoted name with its colon) and
// the JSON object of m with its keys sorted, unless m is empty
// (omitempty).
func appendMap(b []byte, member string, m map[string]string) []byte {
	if len(m) == 0 {
		return b
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, member...)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, k)
		b = append(b, ':')
		b = jsonstr.Append(b, m[k])
	}
	return append(b, '}')
}

// appendLists appends member and the JSON object of m with its keys
// sorted, unless m is empty (omitempty).
func appendLists(b []byte, member string, m map[string][]string) []byte {
	if len(m) == 0 {
		return b
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, member...)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, k)
		b = append(b, ':')
		b = appendStrings(b, m[k])
	}
	return append(b, '}')
}

// appendStrings appends l as a JSON array (null when nil, as json.Marshal
// writes a nil slice).
func appendStrings(b []byte, l []string) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, s)
	}
	return append(b, ']')
}

// equal reports whether r and o record the same injection, apart from
// the Reason (a change of reason alone does not rewrite a record: on a
// workload's template that would roll the workload out).
func (r *Record) equal(o *Record) bool {
	return r.Version == o.Version && r.Mode == o.Mode && r.Spec == o.Spec && r.NodeRequirement == o.NodeRequirement &&
		r.DefaultContainer == o.DefaultContainer &&
		equalMaps(r.InitContainers, o.InitContainers) && equalMaps(r.Containers, o.Containers) &&
		equalMaps(r.Volumes, o.Volumes) && equalMaps(r.AppMounts, o.AppMounts) && equalMaps(r.AppEnv, o.AppEnv) &&
		equalLists(r.Resources, o.Resources) && equalLists(r.PresetMounts, o.PresetMounts) && equalLists(r.PresetEnv, o.PresetEnv)
}

func equalLists(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	if sameMap(reflect.ValueOf(a), reflect.ValueOf(b)) {
		return true
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || len(v) != len(w) {
			return false
		}
		for i := range v {
			if v[i] != w[i] {
				return false
			}
		}
	}
	return true
}

// sameMap reports whether a and b are one map: records share the maps of
// a compiled plan (see compiledMode), which are then equal at no cost.
func sameMap(a, b reflect.Value) bool {
	return a.Pointer() == b.Pointer()
}

// ownedResources returns the resources r says the spec of container n
// set, as a set of "limits/<name>" and "requests/<name>".
func (r *Record) ownedResources(n string) map[string]bool {
	l := r.Resources[n]
	if len(l) == 0 {
		return nil
	}
	out := make(map[string]bool, len(l))
	for _, k := range l {
		out[k] = true
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	if sameMap(reflect.ValueOf(a), reflect.ValueOf(b)) {
		return true
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// claims returns the digest r records for the container named n, in
// either list.
func (r *Record) claims(n string) (string, bool) {
	if d, ok := r.InitContainers[n]; ok {
		return d, true
	}
	d, ok := r.Containers[n]
	return d, ok
}

// SchedulingSpec returns the pod spec to judge the nodes' capability by
// (compat.Cluster.For) before injecting the sidecar named name: spec itself,
// or, when that sidecar was injected pinned (its record says it added the
// node requirement), a copy without that requirement. A pinned spec selects
// only nodes labelled native, so judged as it is it would look all-native:
// a reinvoked webhook would unpin the Pod, and an operator would flip a
// template between pinned and native on every pass. spec is not modified.
func SchedulingSpec(meta *metav1.ObjectMeta, spec *corev1.PodSpec, name string) (*corev1.PodSpec, error) {
	return schedulingSpec(meta, spec, name, nil)
}

// schedulingSpec is SchedulingSpec, editing through wrap's editor (see
// editor).
func schedulingSpec(meta *metav1.ObjectMeta, spec *corev1.PodSpec, name string, wrap wrapEditor) (*corev1.PodSpec, error) {
	rec, has, err := ReadRecord(meta, name)
	if err != nil {
		return spec, fmt.Errorf("sidecar: scheduling spec: %w", err)
	}
	if !has || !rec.NodeRequirement || spec == nil {
		return spec, nil
	}
	m := wrap.of(patch.New(meta, spec))
	if err := m.RemoveNodeRequirement(compat.NativeNodeSelectorRequirement()); err != nil {
		return spec, fmt.Errorf("sidecar: scheduling spec: %w", err)
	}
	_, out := m.Result()
	return out, nil
}
