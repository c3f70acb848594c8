package jsontree

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/sidecarkit/sidecarkit/internal/jsonptr"
)

// ErrPointer is wrapped by errors about malformed JSON Pointers.
var ErrPointer = errors.New("invalid JSON pointer")

// ErrNotFound is wrapped by errors about a pointer that selects nothing.
var ErrNotFound = errors.New("path not found")

// Split parses an RFC 6901 pointer into unescaped reference tokens ("~1"
// becomes "/", then "~0" becomes "~"; see internal/jsonptr). "" is the
// whole document and has no tokens. Any other pointer must start with "/".
func Split(ptr string) ([]string, error) {
	toks, ok := jsonptr.Split(ptr)
	if !ok {
		return nil, fmt.Errorf("jsontree: %w %q: must start with \"/\"", ErrPointer, ptr)
	}
	return toks, nil
}

// Join builds a pointer from unescaped tokens.
func Join(tokens []string) string { return jsonptr.Join(tokens...) }

// Op is one RFC 6902 operation with its value decoded. The zero Op has no
// operation name and does not apply.
type Op struct {
	Op    string
	Path  string
	From  string
	Value *Node
}

// Effect tells what [Apply] changed. The zero Effect changed nothing (a
// "test").
type Effect struct {
	// Removed is the subtree that left the document: the target of a
	// "remove", or the previous value of a member or element that
	// "replace", or "add", "copy" or "move" onto an existing object
	// member, overwrote. Nil if none.
	Removed *Node
	// Overwritten tells that Removed was overwritten, not removed.
	Overwritten bool
	// Placed is the node that add, replace, copy or move put in place.
	Placed *Node
}

// Locate returns the parent container of the value ptr selects in root and
// the last token, following the same rules as Apply: every token but the
// last must select an existing object member or array element (an index
// accepted by strconv.Atoi, 0 <= i < len) that is itself an object or an
// array.
func Locate(root *Node, ptr string) (parent *Node, last string, err error) {
	toks, err := Split(ptr)
	if err != nil {
		return nil, "", err
	}
	if len(toks) == 0 {
		return nil, "", fmt.Errorf("jsontree: %w: the whole document cannot be patched", ErrNotFound)
	}
	return locate(root, toks, nil)
}

// locate walks toks[:len-1]; visit, if set, is called on every container
// on the way (root included).
func locate(root *Node, toks []string, visit func(*Node)) (*Node, string, error) {
	cur := root
	for i, t := range toks[:len(toks)-1] {
		if visit != nil {
			visit(cur)
		}
		next, err := child(cur, t)
		if err != nil {
			return nil, "", fmt.Errorf("jsontree: %w: %q", ErrNotFound, Join(toks[:i+1]))
		}
		cur = next
	}
	if k := cur.Kind(); k != Object && k != Array {
		return nil, "", fmt.Errorf("jsontree: %w: %q is a %v", ErrNotFound, Join(toks[:len(toks)-1]), k)
	}
	if visit != nil {
		visit(cur)
	}
	return cur, toks[len(toks)-1], nil
}

// child returns member or element t of n, which must be a container.
func child(n *Node, t string) (*Node, error) {
	switch n.Kind() {
	case Object:
		if m, ok := n.members[t]; ok && (m.kind == Object || m.kind == Array) {
			return m, nil
		}
	case Array:
		if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(n.elems) {
			if e := n.elems[i]; e.kind == Object || e.kind == Array {
				return e, nil
			}
		}
	}
	return nil, ErrNotFound
}

// Index parses an array reference token as github.com/evanphx/json-patch
// does: strconv.Atoi, so "+1" and "01" are accepted; negatives are not.
func Index(t string, n int, allowEnd bool) (int, error) {
	if allowEnd && t == "-" {
		return n, nil
	}
	i, err := strconv.Atoi(t)
	if err != nil {
		return 0, fmt.Errorf("jsontree: %w: array index %q", ErrPointer, t)
	}
	hi := n - 1
	if allowEnd {
		hi = n
	}
	if i < 0 || i > hi {
		return 0, fmt.Errorf("jsontree: %w: index %d out of range [0, %d]", ErrNotFound, i, hi)
	}
	return i, nil
}

// Apply applies op, the index-th operation of a patch, to root in place.
// On error root may be partly changed (a "move" whose destination does not
// exist has already removed its source), as in json-patch.
func Apply(root *Node, index int, op Op) (Effect, error) {
	mark := index + 1
	touch := func(n *Node) { n.touched = mark }
	switch op.Op {
	case "add", "replace":
		if op.Value == nil {
			return Effect{}, fmt.Errorf("jsontree: %s %s: missing value", op.Op, op.Path)
		}
		return put(root, op.Path, op.Value, op.Op == "replace", touch)
	case "remove":
		n, err := take(root, op.Path, touch)
		return Effect{Removed: n}, err
	case "move":
		n, err := get(root, op.From)
		if err != nil {
			return Effect{}, err
		}
		if _, err := take(root, op.From, touch); err != nil {
			return Effect{}, err
		}
		n.moved = mark
		return put(root, op.Path, n, false, touch)
	case "copy":
		n, err := get(root, op.From)
		if err != nil {
			return Effect{}, err
		}
		return put(root, op.Path, n.Clone(), false, touch)
	case "test":
		_, _, err := Locate(root, op.Path)
		return Effect{}, err
	}
	return Effect{}, fmt.Errorf("jsontree: unknown operation %q", op.Op)
}

// get returns the value at ptr.
func get(root *Node, ptr string) (*Node, error) {
	parent, last, err := Locate(root, ptr)
	if err != nil {
		return nil, err
	}
	if parent.kind == Object {
		m, ok := parent.members[last]
		if !ok {
			return nil, fmt.Errorf("jsontree: %w: %q", ErrNotFound, ptr)
		}
		return m, nil
	}
	i, err := Index(last, len(parent.elems), false)
	if err != nil {
		return nil, err
	}
	return parent.elems[i], nil
}

// put adds (or, with replace, replaces) v at ptr.
func put(root *Node, ptr string, v *Node, replace bool, touch func(*Node)) (Effect, error) {
	toks, err := Split(ptr)
	if err != nil {
		return Effect{}, err
	}
	if len(toks) == 0 {
		return Effect{}, fmt.Errorf("jsontree: %w: the whole document cannot be patched", ErrNotFound)
	}
	parent, last, err := locate(root, toks, nil)
	if err != nil {
		return Effect{}, err
	}
	eff := Effect{Placed: v}
	if parent.kind == Object {
		old, ok := parent.members[last]
		if replace && !ok {
			return Effect{}, fmt.Errorf("jsontree: %w: %q", ErrNotFound, ptr)
		}
		if ok {
			eff.Removed, eff.Overwritten = old, true
		} else {
			parent.keys = append(parent.keys, last)
		}
		parent.members[last] = v
	} else {
		i, err := Index(last, len(parent.elems), !replace)
		if err != nil {
			return Effect{}, err
		}
		if replace {
			eff.Removed, eff.Overwritten = parent.elems[i], true
			parent.elems[i] = v
		} else {
			parent.elems = append(parent.elems, nil)
			copy(parent.elems[i+1:], parent.elems[i:])
			parent.elems[i] = v
		}
	}
	_, _, _ = locate(root, toks, touch)
	touch(v)
	return eff, nil
}

// take removes and returns the value at ptr.
func take(root *Node, ptr string, touch func(*Node)) (*Node, error) {
	toks, err := Split(ptr)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("jsontree: %w: the whole document cannot be patched", ErrNotFound)
	}
	parent, last, err := locate(root, toks, nil)
	if err != nil {
		return nil, err
	}
	var n *Node
	if parent.kind == Object {
		m, ok := parent.members[last]
		if !ok {
			return nil, fmt.Errorf("jsontree: %w: %q", ErrNotFound, ptr)
		}
		n = m
		delete(parent.members, last)
		for j, k := range parent.keys {
			if k == last {
				parent.keys = append(parent.keys[:j], parent.keys[j+1:]...)
				break
			}
		}
	} else {
		i, err := Index(last, len(parent.elems), false)
		if err != nil {
			return nil, err
		}
		n = parent.elems[i]
		parent.elems = append(parent.elems[:i], parent.elems[i+1:]...)
	}
	_, _, _ = locate(root, toks, touch)
	return n, nil
}
