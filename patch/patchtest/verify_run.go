package patchtest

import (
	"fmt"

	"github.com/sidecarkit/sidecarkit/internal/jsontree"
	"github.com/sidecarkit/sidecarkit/internal/schema"
	"github.com/sidecarkit/sidecarkit/patch"
)

// verifier holds the state of one Verify call.
type verifier struct {
	root *schema.Type
	orig *jsontree.Node // the original, never changed
	work *jsontree.Node // a tracked copy that the ops are applied to
	ops  patch.Ops

	unknowns []*unknownField
	carried  map[*jsontree.Node]*unknownField // work node -> unknown field it holds
	origPos  map[*jsontree.Node]origPos
	covered  []schema.Path
	out      []Violation
}

// unknownField is a field of the original unknown to the compiled types.
type unknownField struct {
	path schema.Path
	node *jsontree.Node // in orig
	fate fate
	op   int // the op that removed or dropped it
	seen *finalPlace
}

type fate uint8

const (
	alive fate = iota
	removedWithParent
	dropped
)

// origPos is where a node of the original sits.
type origPos struct {
	path   schema.Path
	parent *jsontree.Node // the array holding it, if an element
	index  int
}

func newVerifier(original []byte, kind string, known bool) (*verifier, error) {
	orig, t, err := rootSchema(original, kind, known)
	if err != nil {
		return nil, err
	}
	v := &verifier{
		root:    t,
		orig:    orig,
		carried: map[*jsontree.Node]*unknownField{},
		origPos: map[*jsontree.Node]origPos{},
	}
	v.indexOriginal(nil, t, orig)
	v.work = orig.Track()
	byOrig := make(map[*jsontree.Node]*unknownField, len(v.unknowns))
	for _, u := range v.unknowns {
		byOrig[u.node] = u
	}
	v.work.Walk(func(w *jsontree.Node) {
		if u, ok := byOrig[w.Origin()]; ok {
			v.carried[w] = u
		}
	})
	return v, nil
}

// indexOriginal records the identity path of every node of the original
// and lists the unknown fields.
func (v *verifier) indexOriginal(p schema.Path, t *schema.Type, n *jsontree.Node) {
	pos := v.origPos[n]
	pos.path = p
	v.origPos[n] = pos
	switch n.Kind() {
	case jsontree.Object:
		for _, k := range n.SortedKeys() {
			c, _ := n.Member(k)
			cp := p.Child(schema.MemberSegment(k))
			ct := fieldType(t, k)
			if t.Kind() == schema.Struct && ct == nil {
				v.unknowns = append(v.unknowns, &unknownField{path: cp, node: c, op: -1})
			}
			v.indexOriginal(cp, ct, c)
		}
	case jsontree.Array:
		lt := listType(t)
		segs := segmentsOf(lt, n)
		for i := 0; i < n.Len(); i++ {
			e := n.Elem(i)
			v.origPos[e] = origPos{parent: n, index: i}
			v.indexOriginal(p.Child(segs[i]), lt.Elem(), e)
		}
	}
}

func (v *verifier) run(original []byte, ops patch.Ops) {
	v.ops = ops
	doc := original
	for k, op := range ops {
		jop, err := checkOp(op)
		if err != nil {
			v.applyFailed(k, op, err)
			return
		}
		next, err := applyStrict(doc, patch.Ops{op})
		if err != nil {
			v.applyFailed(k, op, err)
			return
		}
		if err := v.simulate(k, op, jop); err != nil {
			v.inconsistent(k, fmt.Sprintf("the verifier cannot follow %s: %v", describe(k, op), err))
			return
		}
		doc = next
	}
	if len(ops) > 0 {
		if got, err := jsontree.Decode(doc); err != nil || !jsontree.Equal(got, v.work) {
			v.inconsistent(-1, "json-patch and the verifier disagree on the result")
			return
		}
	}
	if len(ops) > 1 {
		all, err := applyStrict(original, ops)
		if err != nil {
			v.inconsistent(-1, fmt.Sprintf("the ops apply one by one but not all at once: %v", err))
			return
		}
		got, err := jsontree.Decode(all)
		if err != nil || !jsontree.Equal(got, v.work) {
			v.inconsistent(-1, "applying the ops all at once gives another document than one by one")
			return
		}
	}
	v.checkUnknowns()
	v.checkDiff()
}

// checkOp validates what json-patch does not (or validates differently):
// the op name, RFC 6901 pointer syntax, and values that are valid JSON
// without repeated member names.
func checkOp(op patch.Op) (jsontree.Op, error) {
	jop := jsontree.Op{Op: op.Op, Path: op.Path, From: op.From}
	switch op.Op {
	case "add", "remove", "replace", "move", "copy", "test":
	default:
		return jop, fmt.Errorf("unknown op %q", op.Op)
	}
	if _, err := jsontree.Split(op.Path); err != nil {
		return jop, fmt.Errorf("path: %w", err)
	}
	if op.Op == "move" || op.Op == "copy" {
		if _, err := jsontree.Split(op.From); err != nil {
			return jop, fmt.Errorf("from: %w", err)
		}
	}
	if op.Op == "add" || op.Op == "replace" || op.Op == "test" {
		if len(op.Value) == 0 {
			return jop, fmt.Errorf("missing value")
		}
		val, err := jsontree.Decode(op.Value)
		if err != nil {
			return jop, fmt.Errorf("value: %w", err)
		}
		jop.Value = val
	}
	return jop, nil
}

func (v *verifier) applyFailed(k int, op patch.Op, err error) {
	v.out = append(v.out, Violation{
		Kind:   ApplyFailed,
		Path:   op.Path,
		Op:     k,
		Detail: describe(k, op) + " does not apply: " + err.Error(),
		Err:    fmt.Errorf("%w: %s: %w", errApply, describe(k, op), err),
	})
}

func (v *verifier) inconsistent(k int, detail string) {
	v.out = append(v.out, Violation{Kind: Inconsistent, Op: k, Detail: detail})
}

// simulate applies op k to the tracked copy, records the identity paths it
// resolves to, and follows the unknown fields it removes or overwrites.
func (v *verifier) simulate(k int, op patch.Op, jop jsontree.Op) error {
	pathToks, _ := jsontree.Split(op.Path)
	var fromToks []string
	if op.Op == "move" || op.Op == "copy" {
		fromToks, _ = jsontree.Split(op.From)
	}
	if op.Op == "test" {
		_, err := jsontree.Apply(v.work, k, jop)
		return err
	}
	before := map[*jsontree.Node]chainList{}
	v.chainLists(pathToks, before)
	v.chainLists(fromToks, before)
	target, targetType, _, targetExists := v.resolve(pathToks)
	if op.Op == "move" {
		if from, _, _, ok := v.resolve(fromToks); ok {
			v.covered = append(v.covered, from)
		}
	}
	if targetExists && (op.Op != "add" && op.Op != "move" && op.Op != "copy" || !v.isArrayParent(pathToks)) {
		v.covered = append(v.covered, target)
	}
	eff, err := jsontree.Apply(v.work, k, jop)
	if err != nil {
		return err
	}
	if eff.Placed != nil {
		p, ok := v.resolvePlaced(pathToks, eff.Placed)
		if !ok {
			return fmt.Errorf("placed value not found at %s", op.Path)
		}
		v.covered = append(v.covered, p)
	}
	after := map[*jsontree.Node]chainList{}
	v.chainLists(pathToks, after)
	v.chainLists(fromToks, after)
	v.compareLists(before, after, eff)
	if eff.Removed != nil {
		v.destroyed(k, op, eff, targetType)
	}
	return nil
}

// isArrayParent reports whether the parent of the value toks selects is an
// array (so an add there inserts rather than overwrites).
func (v *verifier) isArrayParent(toks []string) bool {
	parent, _, err := jsontree.Locate(v.work, jsontree.Join(toks))
	return err == nil && parent.Kind() == jsontree.Array
}

// compareLists widens the covered paths when an op changed the identity of
// list elements other than the ones it inserted or removed: an insert that
// shifts unkeyed elements covers the whole list; a changed merge key covers
// the element under its old and new key.
func (v *verifier) compareLists(before, after map[*jsontree.Node]chainList, eff jsontree.Effect) {
	skip := func(n *jsontree.Node) bool { return n == eff.Placed || n == eff.Removed }
	for _, a := range sortedLists(after) {
		b, ok := before[a.node]
		if !ok {
			v.covered = append(v.covered, a.path)
			continue
		}
		bs, as := b.filter(skip), a.filter(skip)
		if len(bs) != len(as) {
			v.covered = append(v.covered, a.path)
			continue
		}
		var diff []int
		for i := range bs {
			if bs[i].node != as[i].node || bs[i].seg != as[i].seg {
				diff = append(diff, i)
			}
		}
		switch {
		case len(diff) == 0:
		case len(diff) == 1 && bs[diff[0]].node == as[diff[0]].node:
			v.covered = append(v.covered, a.path.Child(bs[diff[0]].seg), a.path.Child(as[diff[0]].seg))
		default:
			v.covered = append(v.covered, a.path)
		}
	}
}

// destroyed follows the unknown fields held by a subtree that op k removed
// or overwrote.
func (v *verifier) destroyed(k int, op patch.Op, eff jsontree.Effect, t *schema.Type) {
	walkRel(eff.Removed, t, nil, func(rel schema.Path, w *jsontree.Node) {
		u := v.carried[w]
		if u == nil {
			return
		}
		delete(v.carried, w)
		if eff.Overwritten {
			// The new value may carry the field at the same place; if so
			// it is followed there (and reported as changed if its value
			// differs), otherwise it is dropped.
			if y := findRel(eff.Placed, t, rel); y != nil && v.carried[y] == nil && y.Origin() == nil {
				v.carried[y] = u
				return
			}
			u.fate, u.op = dropped, k
			return
		}
		if t != nil && w != eff.Removed {
			u.fate, u.op = removedWithParent, k
			return
		}
		u.fate, u.op = dropped, k
	})
}
