package patchtest

import (
	"bytes"
	"fmt"

	"github.com/sidecarkit/sidecarkit/internal/jsontree"
)

// UnknownFieldsKept counts the fields of original that the compiled API
// types do not know (root type from original's "kind") and that patched
// still holds with the same value at the same identity path, that is in
// their own element: a field left on a container that now has another name
// is lost. It is meant for comparing patch producers (benchmarks, peers
// such as a diff of a re-marshalled typed object); unlike [Verify] it sees
// only the two documents, so a field of an unkeyed list element (a
// toleration) counts as lost when an insert shifted its index. lost lists
// the identity paths of the fields not kept, in document order. kept ==
// total when nothing was lost.
func UnknownFieldsKept(original, patched []byte) (kept, total int, lost []string, err error) {
	orig, t, err := rootSchema(original, "", false)
	if err != nil {
		return 0, 0, nil, err
	}
	p, err := jsontree.Decode(patched)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("patch: patched document: %w: %v", ErrInvalidDocument, err)
	}
	after := map[string][]byte{}
	for _, u := range t.Unknowns(p.Interface()) {
		after[u.Path.String()] = u.Value
	}
	for _, u := range t.Unknowns(orig.Interface()) {
		total++
		if got, ok := after[u.Path.String()]; ok && bytes.Equal(got, u.Value) {
			kept++
			continue
		}
		lost = append(lost, u.Path.String())
	}
	return kept, total, lost, nil
}
