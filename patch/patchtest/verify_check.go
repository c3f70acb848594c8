package patchtest

import (
	"strconv"

	"github.com/sidecarkit/sidecarkit/internal/jsontree"
	"github.com/sidecarkit/sidecarkit/internal/schema"
)

// finalPlace is where an unknown field ended up in the result.
type finalPlace struct {
	node  *jsontree.Node
	path  schema.Path      // stable identity path (see finalWalk)
	chain []*jsontree.Node // chain[i] is the node that path[:i+1] selects
	moved int              // index in chain of the nearest moved ancestor-or-self, or -1
}

// finalWalk records where every carried unknown field sits in the result.
// The path is the identity path, except that an element addressed by index
// whose node comes from the same list of the original keeps its original
// index, so that inserting before it is not mistaken for moving it.
func (v *verifier) finalWalk(p schema.Path, t *schema.Type, n *jsontree.Node, chain []*jsontree.Node, moved int) {
	if n.Moved() >= 0 && len(chain) > 0 {
		moved = len(chain) - 1
	}
	if u := v.carried[n]; u != nil {
		u.seen = &finalPlace{node: n, path: p, chain: append([]*jsontree.Node(nil), chain...), moved: moved}
	}
	switch n.Kind() {
	case jsontree.Object:
		for _, k := range n.Keys() {
			c, _ := n.Member(k)
			v.finalWalk(p.Child(schema.MemberSegment(k)), fieldType(t, k), c, append(chain, c), moved)
		}
	case jsontree.Array:
		lt := listType(t)
		for i, s := range segmentsOf(lt, n) {
			e := n.Elem(i)
			if s.Kind == schema.Index && n.Origin() != nil {
				if pos, ok := v.origPos[e.Origin()]; ok && e.Origin() != nil && pos.parent == n.Origin() {
					s = schema.IndexSegment(pos.index)
				}
			}
			v.finalWalk(p.Child(s), lt.Elem(), e, append(chain, e), moved)
		}
	}
}

func (v *verifier) checkUnknowns() {
	v.finalWalk(nil, v.root, v.work, nil, -1)
	for _, u := range v.unknowns {
		switch {
		case u.fate == removedWithParent:
			continue
		case u.fate == dropped:
			v.out = append(v.out, Violation{Kind: Dropped, Path: u.path.String(), Op: u.op,
				Detail: "unknown field dropped by " + describe(u.op, v.ops[u.op])})
			continue
		case u.seen == nil:
			v.out = append(v.out, Violation{Kind: Dropped, Path: u.path.String(), Op: -1, Detail: "unknown field lost"})
			continue
		}
		f := u.seen
		want, got, offset := u.path, f.path, 0
		if f.moved >= 0 {
			m := f.chain[f.moved]
			base := v.origPos[m.Origin()].path
			if m.Origin() == nil || !u.path.HasPrefix(base) {
				v.out = append(v.out, Violation{Kind: Moved, Path: u.path.String(), Op: m.Moved(),
					Detail: "unknown field now at " + f.path.String() + ", moved by " + v.opName(m.Moved())})
				continue
			}
			offset = f.moved + 1
			want, got = u.path[len(base):], f.path[offset:]
		}
		if !want.Equal(got) {
			op := v.blame(f, offset, want, got)
			v.out = append(v.out, Violation{Kind: Moved, Path: u.path.String(), Op: op,
				Detail: "unknown field now at " + f.path.String() + ", attached there by " + v.opName(op)})
			continue
		}
		if !jsontree.Equal(f.node, u.node) {
			op := v.blame(f, len(f.chain)-1, nil, nil)
			v.out = append(v.out, Violation{Kind: Changed, Path: u.path.String(), Op: op,
				Detail: "unknown field changed by " + v.opName(op)})
		}
	}
}

// blame names the op that last changed the first element whose identity
// differs between want and got.
func (v *verifier) blame(f *finalPlace, offset int, want, got schema.Path) int {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	// A changed merge key is blamed on the op that wrote the key.
	if i < len(got) && got[i].Kind == schema.Key && offset+i < len(f.chain) {
		if k, ok := f.chain[offset+i].Member(got[i].Name); ok && k.Touched() >= 0 {
			return k.Touched()
		}
	}
	for j := offset + i; j >= 0; j-- {
		n := v.work
		if j < len(f.chain) && j >= 0 {
			n = f.chain[j]
		}
		if op := n.Touched(); op >= 0 {
			return op
		}
	}
	return v.work.Touched()
}

func (v *verifier) opName(k int) string {
	if k < 0 || k >= len(v.ops) {
		return "the patch"
	}
	return describe(k, v.ops[k])
}

func (v *verifier) isCovered(p schema.Path) bool {
	for _, c := range v.covered {
		if p.HasPrefix(c) {
			return true
		}
	}
	return false
}

// checkDiff reports differences between the original and the result,
// aligned by identity paths, that no op's path covers. The original's
// unknown fields are left to checkUnknowns.
func (v *verifier) checkDiff() {
	v.diff(nil, v.root, v.orig, v.work, true, true)
}

func (v *verifier) diff(p schema.Path, t *schema.Type, a, b *jsontree.Node, aok, bok bool) {
	if !aok && !bok || v.isCovered(p) {
		return
	}
	switch {
	case !aok:
		v.out = append(v.out, Violation{Kind: Added, Path: p.String(), Op: -1, Detail: "added outside the patched paths"})
		return
	case !bok:
		v.out = append(v.out, Violation{Kind: Removed, Path: p.String(), Op: -1, Detail: "removed outside the patched paths"})
		return
	case a.Kind() != b.Kind():
		v.out = append(v.out, Violation{Kind: Changed, Path: p.String(), Op: -1, Detail: "changed from " + a.Kind().String() + " to " + b.Kind().String() + " outside the patched paths"})
		return
	}
	switch a.Kind() {
	case jsontree.Object:
		keys := a.SortedKeys()
		for _, k := range b.SortedKeys() {
			if _, ok := a.Member(k); !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			am, aok := a.Member(k)
			bm, bok := b.Member(k)
			ft := fieldType(t, k)
			if aok && ft == nil && t.Kind() == schema.Struct {
				continue // an unknown field of the original
			}
			v.diff(p.Child(schema.MemberSegment(k)), ft, am, bm, aok, bok)
		}
	case jsontree.Array:
		v.diffList(p, listType(t), a, b)
	default:
		if !jsontree.Equal(a, b) {
			v.out = append(v.out, Violation{Kind: Changed, Path: p.String(), Op: -1, Detail: "changed outside the patched paths"})
		}
	}
}

func (v *verifier) diffList(p schema.Path, t *schema.Type, a, b *jsontree.Node) {
	as, bs := segmentsOf(t, a), segmentsOf(t, b)
	bIndex := make(map[schema.Segment]int, len(bs))
	for i, s := range bs {
		bIndex[s] = i
	}
	aIndex := make(map[schema.Segment]int, len(as))
	var aOrder, bOrder []schema.Segment
	for i, s := range as {
		aIndex[s] = i
		j, ok := bIndex[s]
		v.diff(p.Child(s), t.Elem(), a.Elem(i), b.Elem(j), true, ok)
		if ok && s.Kind == schema.Key && !v.isCovered(p.Child(s)) {
			aOrder = append(aOrder, s)
		}
	}
	for j, s := range bs {
		if _, ok := aIndex[s]; !ok {
			v.diff(p.Child(s), t.Elem(), nil, b.Elem(j), false, true)
			continue
		}
		if s.Kind == schema.Key && !v.isCovered(p.Child(s)) {
			bOrder = append(bOrder, s)
		}
	}
	for i := range aOrder {
		if aOrder[i] != bOrder[i] {
			v.out = append(v.out, Violation{Kind: Changed, Path: p.String(), Op: -1,
				Detail: "elements reordered outside the patched paths (" + strconv.Itoa(i) + ": " + aOrder[i].String() + " became " + bOrder[i].String() + ")"})
			return
		}
	}
}
