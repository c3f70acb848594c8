package patch

import (
	"errors"
	"fmt"
	"strconv"
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
	cur := s.meta.Annotations
	if e.labels {
		cur = s.meta.Labels
	}
	old, had := cur[e.key]
	if e.remove {
		if !had {
			return nil
		}
		emit(out, relOp{meta: true, op: opRemove, path: ptr(e.member(), e.key)})
		s.setMeta(e.labels, copyWithout(cur, e.key))
		return nil
	}
	if had && old == e.value {
		return nil
	}
	switch {
	case !s.metaPresent:
		emit(out, relOp{meta: true, op: opAdd, path: "", value: []byte(`{` + strconv.Quote(e.member()) + `:{` + string(quote(e.key)) + `:` + string(quote(e.value)) + `}}`)})
		s.metaPresent = true
	case cur == nil:
		emit(out, relOp{meta: true, op: opAdd, path: ptr(e.member()), value: []byte(`{` + string(quote(e.key)) + `:` + string(quote(e.value)) + `}`)})
	default:
		emit(out, relOp{meta: true, op: opAdd, path: ptr(e.member(), e.key), value: quote(e.value)})
	}
	next := copyWithout(cur, "")
	next[e.key] = e.value
	s.setMeta(e.labels, next)
	return nil
}

func (e *metaEdit) member() string {
	if e.labels {
		return "labels"
	}
	return "annotations"
}

func (s *state) setMeta(labels bool, m map[string]string) {
	if labels {
		s.meta.Labels = m
	} else {
		s.meta.Annotations = m
	}
}

// copyWithout returns a copy of m without key. Maps are copied on every
// change: the state never writes into a map it did not create, and metadata
// maps are small.
func copyWithout(m map[string]string, key string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}
