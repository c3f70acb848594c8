package sidecar

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/jsonstr"
	"github.com/sidecarkit/sidecarkit/patch"
)

// AnnotationPrefix prefixes the pod annotation that records an injection:
// the annotation of a sidecar named "proxy" is
// "sidecar.sidecarkit.io/proxy".
const AnnotationPrefix = compat.RecordAnnotationPrefix

// Annotation returns the key of the annotation that records the injection
// of the sidecar named name.
func Annotation(name string) string { return AnnotationPrefix + name }

// Record is what the injection annotation holds: enough to recognise our
// own sidecar, to tell whether its spec changed, and to remove exactly what
// was added.
type Record struct {
	// Version of the record format; 1.
	Version int `json:"v"`
	// Mode is the concrete mode injected (never Auto).
	Mode Mode `json:"mode"`
	// Hash identifies the Spec and mode injected.
	Hash string `json:"hash"`
	// InitContainers and Containers name the containers injected.
	InitContainers []string `json:"initContainers,omitempty"`
	Containers     []string `json:"containers,omitempty"`
	// Volumes names the volumes added (volumes that were there already are
	// not listed).
	Volumes []string `json:"volumes,omitempty"`
	// Apps lists, per application container, the mountPaths and env names
	// added to it.
	Apps map[string]AppRecord `json:"apps,omitempty"`
	// NodeRequirement is set when a node-affinity requirement was added
	// (Pinned mode).
	NodeRequirement bool `json:"nodeRequirement,omitempty"`
}

// AppRecord lists what was added to one application container.
type AppRecord struct {
	Mounts []string `json:"mounts,omitempty"`
	Env    []string `json:"env,omitempty"`
}

// ReadRecord returns the record of the sidecar named name from pod
// metadata. It reports false when there is none; a record that does not
// decode is an error with the annotation's path.
func ReadRecord(meta *metav1.ObjectMeta, name string) (Record, bool, error) {
	if meta == nil {
		return Record{}, false, nil
	}
	v, ok := meta.Annotations[Annotation(name)]
	if !ok {
		return Record{}, false, nil
	}
	var r Record
	p := field.NewPath("metadata", "annotations").Key(Annotation(name))
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return Record{}, false, field.Invalid(p, v, "not a sidecarkit record: "+err.Error())
	}
	if r.Version != 1 {
		return Record{}, false, field.Invalid(p, v, fmt.Sprintf("record version %d is not supported", r.Version))
	}
	return r, true, nil
}

// encode writes r as json.Marshal does, byte for byte (TestRecordEncode
// and FuzzRecordEncode hold it to that), without reflection: it runs on
// every injection.
func (r Record) encode() string {
	b := make([]byte, 0, 160)
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(r.Version), 10)
	b = append(b, `,"mode":`...)
	b = jsonstr.Append(b, string(r.Mode))
	b = append(b, `,"hash":`...)
	b = jsonstr.Append(b, r.Hash)
	b = appendStrings(b, `,"initContainers":`, r.InitContainers)
	b = appendStrings(b, `,"containers":`, r.Containers)
	b = appendStrings(b, `,"volumes":`, r.Volumes)
	if len(r.Apps) > 0 {
		names := make([]string, 0, len(r.Apps))
		for n := range r.Apps {
			names = append(names, n)
		}
		sort.Strings(names)
		b = append(b, `,"apps":{`...)
		for i, n := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, n)
			b = append(b, ":{"...)
			a := r.Apps[n]
			inner := len(b)
			b = appendStrings(b, `,"mounts":`, a.Mounts)
			b = appendStrings(b, `,"env":`, a.Env)
			if len(b) > inner {
				b = append(b[:inner], b[inner+1:]...) // the first member's comma
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	if r.NodeRequirement {
		b = append(b, `,"nodeRequirement":true`...)
	}
	return string(append(b, '}'))
}

// appendStrings appends member (a comma and a quoted name with its colon)
// and the JSON array of l, unless l is empty (omitempty).
func appendStrings(b []byte, member string, l []string) []byte {
	if len(l) == 0 {
		return b
	}
	b = append(b, member...)
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, s)
	}
	return append(b, ']')
}

// SchedulingSpec returns the pod spec to judge the nodes' capability by
// (compat.FromNodes) before injecting the sidecar named name: spec itself,
// or, when that sidecar was injected pinned (its record says it added the
// node requirement), a copy without that requirement. A pinned spec selects
// only nodes labelled native, so judged as it is it would look all-native:
// a reinvoked webhook would unpin the Pod, and an operator would flip a
// template between pinned and native on every pass. spec is not modified.
func SchedulingSpec(meta *metav1.ObjectMeta, spec *corev1.PodSpec, name string) (*corev1.PodSpec, error) {
	rec, has, err := ReadRecord(meta, name)
	if err != nil {
		return spec, fmt.Errorf("sidecar: scheduling spec: %w", err)
	}
	if !has || !rec.NodeRequirement || spec == nil {
		return spec, nil
	}
	m := patch.New(meta, spec)
	if err := m.RemoveNodeRequirement(compat.NativeNodeSelectorRequirement()); err != nil {
		return spec, fmt.Errorf("sidecar: scheduling spec: %w", err)
	}
	_, out := m.Result()
	return out, nil
}
