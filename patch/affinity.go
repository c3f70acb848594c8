package patch

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
)

// RequireNode adds a required node-affinity requirement: it is ANDed into
// every existing term of
// spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution,
// or forms a new term when there is none. Terms that already hold an equal
// requirement are left alone; absent parents are added.
func (m *Mutation) RequireNode(req corev1.NodeSelectorRequirement) error {
	return m.do(&nodeRequirement{req: req})
}

// RemoveNodeRequirement removes every required node-affinity requirement
// equal to req. A term left with no requirement and no field selector is
// removed, and so is the required node selector when no term is left.
func (m *Mutation) RemoveNodeRequirement(req corev1.NodeSelectorRequirement) error {
	return m.do(&nodeRequirement{req: req, remove: true})
}

type nodeRequirement struct {
	req    corev1.NodeSelectorRequirement
	remove bool
}

const requiredPath = "/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution"

func (e *nodeRequirement) run(s *state, out *[]relOp) error {
	if e.req.Key == "" {
		return fmt.Errorf("patch: node requirement: empty key")
	}
	if e.remove {
		return e.removeReq(s, out)
	}
	req := e.req
	term := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req}}
	sel := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{term}}
	aff := s.affinity
	var err error
	switch {
	case aff == nil:
		err = emitValue(out, "/affinity", &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: sel}})
	case aff.NodeAffinity == nil:
		err = emitValue(out, "/affinity/nodeAffinity", &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: sel})
	case aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil:
		err = emitValue(out, requiredPath, sel)
	case len(aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms) == 0:
		err = emitValue(out, requiredPath+"/nodeSelectorTerms", sel.NodeSelectorTerms)
	default:
		terms := aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		changed := false
		for i := range terms {
			if hasRequirement(terms[i].MatchExpressions, req) {
				continue
			}
			changed = true
			p := fmt.Sprintf("%s/nodeSelectorTerms/%d/matchExpressions", requiredPath, i)
			if out != nil {
				v, err := marshal("node requirement", &req)
				if err != nil {
					return err
				}
				appendOp(out, p, len(terms[i].MatchExpressions), v, false)
			}
		}
		if !changed {
			return nil
		}
	}
	if err != nil {
		return err
	}
	sel2 := s.ownSelector()
	if len(sel2.NodeSelectorTerms) == 0 {
		sel2.NodeSelectorTerms = []corev1.NodeSelectorTerm{{}}
	}
	for i := range sel2.NodeSelectorTerms {
		t := &sel2.NodeSelectorTerms[i]
		if !hasRequirement(t.MatchExpressions, req) {
			t.MatchExpressions = append(t.MatchExpressions, *req.DeepCopy())
		}
	}
	return nil
}

func (e *nodeRequirement) removeReq(s *state, out *[]relOp) error {
	aff := s.affinity
	if aff == nil || aff.NodeAffinity == nil || aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	terms := aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	found := false
	for i := range terms {
		if hasRequirement(terms[i].MatchExpressions, e.req) {
			found = true
		}
	}
	if !found {
		return nil
	}
	// Remove from the last term and the last expression first, so that
	// earlier indices stay valid.
	left := len(terms)
	for i := len(terms) - 1; i >= 0; i-- {
		t := terms[i]
		if !hasRequirement(t.MatchExpressions, e.req) {
			continue
		}
		tp := fmt.Sprintf("%s/nodeSelectorTerms/%d", requiredPath, i)
		kept := 0
		for _, r := range t.MatchExpressions {
			if !reflect.DeepEqual(r, e.req) {
				kept++
			}
		}
		switch {
		case kept > 0:
			for k := len(t.MatchExpressions) - 1; k >= 0; k-- {
				if reflect.DeepEqual(t.MatchExpressions[k], e.req) {
					emit(out, relOp{op: opRemove, path: fmt.Sprintf("%s/matchExpressions/%d", tp, k)})
				}
			}
		case len(t.MatchFields) > 0:
			emit(out, relOp{op: opRemove, path: tp + "/matchExpressions"})
		default:
			left--
			if left == 0 {
				emit(out, relOp{op: opRemove, path: requiredPath})
				break
			}
			emit(out, relOp{op: opRemove, path: tp})
		}
	}
	sel := s.ownSelector()
	var next []corev1.NodeSelectorTerm
	for _, t := range sel.NodeSelectorTerms {
		var exprs []corev1.NodeSelectorRequirement
		for _, r := range t.MatchExpressions {
			if !reflect.DeepEqual(r, e.req) {
				exprs = append(exprs, r)
			}
		}
		if len(exprs) == 0 && len(t.MatchFields) == 0 && hasRequirement(t.MatchExpressions, e.req) {
			continue
		}
		t.MatchExpressions = exprs
		next = append(next, t)
	}
	if len(next) == 0 {
		s.affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = nil
		return nil
	}
	sel.NodeSelectorTerms = next
	return nil
}

// ownSelector returns the required node selector of the state's affinity,
// creating the path and copying the affinity on first change.
func (s *state) ownSelector() *corev1.NodeSelector {
	if !s.affOwned {
		if s.affinity == nil {
			s.affinity = &corev1.Affinity{}
		} else {
			s.affinity = s.affinity.DeepCopy()
		}
		s.affOwned = true
	}
	a := s.affinity
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{}
	}
	if a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
	}
	return a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
}

func hasRequirement(exprs []corev1.NodeSelectorRequirement, req corev1.NodeSelectorRequirement) bool {
	for _, r := range exprs {
		if reflect.DeepEqual(r, req) {
			return true
		}
	}
	return false
}

// emitValue emits an "add" of v at path.
func emitValue(out *[]relOp, path string, v interface{}) error {
	if out == nil {
		return nil
	}
	b, err := marshal(path, v)
	if err != nil {
		return err
	}
	emit(out, relOp{op: opAdd, path: path, value: b})
	return nil
}
