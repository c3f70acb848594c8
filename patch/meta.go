package patch

import (
	"errors"
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// errNoMeta is returned by metadata edits on a Mutation made by [Diff],
// which does not know the pod metadata.
var errNoMeta = errors.New("patch: metadata edits need the pod metadata: create the mutation with New(meta, spec)")

// SetAnnotation sets the pod annotation key to value. Keys may hold "/" and
// "~"; they are escaped in JSON Pointers. When the document has no
// annotations (or no metadata) the map (or the metadata object) is added.
func (m *Mutation) SetAnnotation(key, value string) error {
	return m.do(&metaEdit{key: key, value: value})
}

// RemoveAnnotation removes the pod annotation key; an absent key records
// nothing.
func (m *Mutation) RemoveAnnotation(key string) error {
	return m.do(&metaEdit{key: key, remove: true})
}

// SetLabel sets the pod label key to value; see [Mutation.SetAnnotation].
func (m *Mutation) SetLabel(key, value string) error {
	return m.do(&metaEdit{labels: true, key: key, value: value})
}

// RemoveLabel removes the pod label key; an absent key records nothing.
func (m *Mutation) RemoveLabel(key string) error {
	return m.do(&metaEdit{labels: true, key: key, remove: true})
}

type metaEdit struct {
	labels bool
	key    string
	value  string
	remove bool
}

func (e *metaEdit) run(s *state, out *[]relOp) error {
	if !s.metaKnown {
		return errNoMeta
	}
	if e.key == "" {
		return fmt.Errorf("patch: metadata.%s: empty key", e.member())
	}
	old, had := s.metaValue(e.labels, e.key)
	if e.remove {
		if !had {
			return nil
		}
		emit(out, relOp{meta: true, op: opRemove, path: ptr(e.member(), e.key)})
		s.metaEdits = append(s.metaEdits, *e)
		return nil
	}
	if had && old == e.value {
		return nil
	}
	switch {
	case !s.metaPresent:
		emit(out, newMapOp(e.member(), e.key, quote(e.value), true))
		s.metaPresent = true
	case !s.hasMetaMap(e.labels):
		emit(out, newMapOp(e.member(), e.key, quote(e.value), false))
	default:
		if path, v, ok := s.knownAnn.encodings(e); ok {
			emit(out, relOp{meta: true, op: opAdd, path: path, value: v, shared: true})
			break
		}
		emit(out, relOp{meta: true, op: opAdd, path: ptr(e.member(), e.key), value: quote(e.value)})
	}
	s.metaEdits = append(s.metaEdits, *e)
	return nil
}

// newMapOp returns the op that adds the labels or annotations map (member)
// holding key set to v (its JSON encoding), inside a new metadata object
// when withMeta is set (the document has none).
func newMapOp(member, key string, v []byte, withMeta bool) relOp {
	m := `{` + string(quote(key)) + `:` + string(v) + `}`
	if withMeta {
		return relOp{meta: true, op: opAdd, value: []byte(`{` + strconv.Quote(member) + `:` + m + `}`)}
	}
	return relOp{meta: true, op: opAdd, path: ptr(member), value: []byte(m)}
}

// metaValue returns the value of the label (labels) or annotation key as
// the edits leave it, and whether it is set.
func (s *state) metaValue(labels bool, key string) (string, bool) {
	for i := len(s.metaEdits) - 1; i >= 0; i-- {
		if e := &s.metaEdits[i]; e.labels == labels && e.key == key {
			return e.value, !e.remove
		}
	}
	if s.meta == nil {
		return "", false
	}
	if labels {
		v, ok := s.meta.Labels[key]
		return v, ok
	}
	v, ok := s.meta.Annotations[key]
	return v, ok
}

// hasMetaMap reports whether the labels (labels) or annotations map is
// present as the edits leave it: in the metadata, or added by an edit
// (a removal leaves an empty map).
func (s *state) hasMetaMap(labels bool) bool {
	if s.meta != nil && (labels && s.meta.Labels != nil || !labels && s.meta.Annotations != nil) {
		return true
	}
	for i := range s.metaEdits {
		if s.metaEdits[i].labels == labels {
			return true
		}
	}
	return false
}

// metaResult returns the metadata as the edits leave it. Its maps are
// copies when an edit changed them: the state never writes into a map it
// did not create, and keeps its edits aside (metaEdits) so that a mutation
// that sets one annotation copies no map unless its result is asked for.
func (s *state) metaResult() metav1.ObjectMeta {
	var meta metav1.ObjectMeta
	if s.meta != nil {
		meta = *s.meta
	}
	var copied [2]bool // labels, annotations
	for i := range s.metaEdits {
		e := &s.metaEdits[i]
		m, k := &meta.Annotations, 1
		if e.labels {
			m, k = &meta.Labels, 0
		}
		if !copied[k] {
			next := make(map[string]string, len(*m)+1)
			for key, v := range *m {
				next[key] = v
			}
			*m, copied[k] = next, true
		}
		if e.remove {
			delete(*m, e.key)
		} else {
			(*m)[e.key] = e.value
		}
	}
	return meta
}

func (e *metaEdit) member() string {
	if e.labels {
		return "labels"
	}
	return "annotations"
}
