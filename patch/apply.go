package patch

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Apply makes the mutation's edits on a typed spec and its pod metadata, for
// code that builds Pods itself. spec should equal the spec the mutation was
// computed from; edits address containers by name and fail when one is
// missing. meta may be nil when the mutation has no metadata edits. On
// error, spec and meta are unchanged. The results share no memory with the
// mutation.
func (m *Mutation) Apply(meta *metav1.ObjectMeta, spec *corev1.PodSpec) error {
	if spec == nil {
		return fmt.Errorf("patch: apply: nil spec")
	}
	var s state
	s.reset(meta, spec)
	s.metaKnown = true
	if meta == nil {
		s.metaKnown = false
	}
	for i, e := range m.edits {
		if err := e.run(&s, nil); err != nil {
			if err == errNoMeta {
				return fmt.Errorf("patch: apply: edit %d changes metadata, but the metadata is nil", i)
			}
			return fmt.Errorf("patch: apply: edit %d: %w", i, err)
		}
	}
	result := s.podSpec()
	*spec = *result.DeepCopy()
	if meta != nil {
		result := s.metaResult()
		*meta = *result.DeepCopy()
	}
	return nil
}

// Result returns the spec and pod metadata as the mutation leaves them,
// deep copies that the caller owns. meta is nil when the document had no
// metadata and no edit added it, or when the mutation does not know the
// metadata (see [Diff]).
func (m *Mutation) Result() (*metav1.ObjectMeta, *corev1.PodSpec) {
	spec := m.s.podSpec()
	var meta *metav1.ObjectMeta
	if m.s.metaPresent && m.s.metaKnown {
		result := m.s.metaResult()
		meta = result.DeepCopy()
	}
	return meta, spec.DeepCopy()
}

// Spec returns the spec as the edits recorded so far leave it, without
// copying it: the result shares memory with the original spec and with the
// mutation, and must be treated as read-only. Use [Mutation.Result] for a
// copy the caller owns.
func (m *Mutation) Spec() corev1.PodSpec {
	return m.s.podSpec()
}

// Names returns the names of the containers of list l as the edits recorded
// so far leave it.
func (m *Mutation) Names(l List) []string {
	i, err := l.index()
	if err != nil {
		return nil
	}
	list := m.s.list(i)
	names := make([]string, len(list))
	for j, e := range list {
		names[j] = e.c.Name
	}
	return names
}
