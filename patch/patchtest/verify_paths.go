package patchtest

import (
	"encoding/json"
	"sort"

	"github.com/sidecarkit/sidecarkit/internal/jsontree"
	"github.com/sidecarkit/sidecarkit/internal/schema"
)

// fieldType is the type of member k of a value of type t.
func fieldType(t *schema.Type, k string) *schema.Type {
	switch t.Kind() {
	case schema.Struct, schema.Map:
		return t.Field(k)
	}
	return nil
}

// listType is t if it is a list type, nil (unknown) otherwise.
func listType(t *schema.Type) *schema.Type {
	if t.Kind() == schema.List {
		return t
	}
	return nil
}

// segmentsOf returns the identity segments of the elements of list, a
// value of list type t (nil: unkeyed).
func segmentsOf(t *schema.Type, list *jsontree.Node) []schema.Segment {
	mk := t.MergeKey()
	return t.ElementSegments(list.Len(), func(i int) (interface{}, bool) {
		m, ok := list.Elem(i).Member(mk)
		if !ok {
			return nil, false
		}
		switch m.Kind() {
		case jsontree.String:
			return m.Text(), true
		case jsontree.Number:
			return json.Number(m.Text()), true
		}
		return nil, false
	})
}

// chainList is a snapshot of the identity of a list's elements.
type chainList struct {
	node  *jsontree.Node
	path  schema.Path
	order int // position along the chain, for a deterministic order
	elems []chainElem
}

type chainElem struct {
	node *jsontree.Node
	seg  schema.Segment
}

func (c chainList) filter(skip func(*jsontree.Node) bool) []chainElem {
	out := make([]chainElem, 0, len(c.elems))
	for _, e := range c.elems {
		if !skip(e.node) {
			out = append(out, e)
		}
	}
	return out
}

func snapshot(n *jsontree.Node, p schema.Path, t *schema.Type, order int) chainList {
	segs := segmentsOf(t, n)
	c := chainList{node: n, path: p, order: order, elems: make([]chainElem, len(segs))}
	for i, s := range segs {
		c.elems[i] = chainElem{node: n.Elem(i), seg: s}
	}
	return c
}

func sortedLists(m map[*jsontree.Node]chainList) []chainList {
	out := make([]chainList, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].order != out[j].order {
			return out[i].order < out[j].order
		}
		return out[i].path.String() < out[j].path.String()
	})
	return out
}

// resolve turns pointer tokens into the identity path of the value they
// select in the working document, with its type. lists receives a
// snapshot of every array passed through. ok is false when the value does
// not exist; the path is then still set when only the last object member
// is missing.
func (v *verifier) resolve(toks []string) (p schema.Path, t *schema.Type, lists []chainList, ok bool) {
	cur, t := v.work, v.root
	for _, tok := range toks {
		switch cur.Kind() {
		case jsontree.Object:
			c, found := cur.Member(tok)
			p, t = p.Child(schema.MemberSegment(tok)), fieldType(t, tok)
			if !found {
				return p, t, lists, false
			}
			cur = c
		case jsontree.Array:
			lt := listType(t)
			snap := snapshot(cur, p, lt, len(p))
			lists = append(lists, snap)
			idx, err := jsontree.Index(tok, cur.Len(), false)
			if err != nil {
				return nil, nil, lists, false
			}
			p, t, cur = p.Child(snap.elems[idx].seg), lt.Elem(), cur.Elem(idx)
		default:
			return nil, nil, lists, false
		}
	}
	return p, t, lists, true
}

// chainLists snapshots every array on the way to the parent of the value
// toks selects, the parent included.
func (v *verifier) chainLists(toks []string, into map[*jsontree.Node]chainList) {
	if len(toks) == 0 {
		return
	}
	p, t, lists, ok := v.resolve(toks[:len(toks)-1])
	for _, l := range lists {
		into[l.node] = l
	}
	if !ok {
		return
	}
	parent, _, err := jsontree.Locate(v.work, jsontree.Join(toks))
	if err == nil && parent.Kind() == jsontree.Array {
		into[parent] = snapshot(parent, p, listType(t), len(p))
	}
}

// resolvePlaced returns the identity path of placed, which an op has just
// put at toks.
func (v *verifier) resolvePlaced(toks []string, placed *jsontree.Node) (schema.Path, bool) {
	if len(toks) == 0 {
		return nil, false
	}
	p, t, _, ok := v.resolve(toks[:len(toks)-1])
	if !ok {
		return nil, false
	}
	parent, last, err := jsontree.Locate(v.work, jsontree.Join(toks))
	if err != nil {
		return nil, false
	}
	if parent.Kind() == jsontree.Object {
		return p.Child(schema.MemberSegment(last)), true
	}
	snap := snapshot(parent, p, listType(t), 0)
	for _, e := range snap.elems {
		if e.node == placed {
			return p.Child(e.seg), true
		}
	}
	return nil, false
}

// walkRel calls fn for n and every node beneath it with its identity path
// relative to n (n of type t).
func walkRel(n *jsontree.Node, t *schema.Type, rel schema.Path, fn func(schema.Path, *jsontree.Node)) {
	fn(rel, n)
	switch n.Kind() {
	case jsontree.Object:
		for _, k := range n.Keys() {
			c, _ := n.Member(k)
			walkRel(c, fieldType(t, k), rel.Child(schema.MemberSegment(k)), fn)
		}
	case jsontree.Array:
		lt := listType(t)
		for i, s := range segmentsOf(lt, n) {
			walkRel(n.Elem(i), lt.Elem(), rel.Child(s), fn)
		}
	}
}

// findRel returns the node at identity path rel beneath n (of type t).
func findRel(n *jsontree.Node, t *schema.Type, rel schema.Path) *jsontree.Node {
	for _, s := range rel {
		switch n.Kind() {
		case jsontree.Object:
			if s.Kind != schema.Member {
				return nil
			}
			c, ok := n.Member(s.Name)
			if !ok {
				return nil
			}
			n, t = c, fieldType(t, s.Name)
		case jsontree.Array:
			lt := listType(t)
			var next *jsontree.Node
			for i, es := range segmentsOf(lt, n) {
				if es == s {
					next = n.Elem(i)
					break
				}
			}
			if next == nil {
				return nil
			}
			n, t = next, lt.Elem()
		default:
			return nil
		}
	}
	return n
}
