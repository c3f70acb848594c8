package patch

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// InsertContainer inserts c into list l at index i, 0 ≤ i ≤ len(l); i equal
// to the length appends. The name must not be used by any container of the
// pod, ephemeral containers included. Inserting into an absent, null or
// empty list adds the whole list. The container is encoded as given: set
// RestartPolicy on it for a native sidecar.
func (m *Mutation) InsertContainer(l List, i int, c corev1.Container) error {
	return m.do(&insertContainer{list: l, index: i, c: &c})
}

// AppendContainer appends c to list l; see [Mutation.InsertContainer].
func (m *Mutation) AppendContainer(l List, c corev1.Container) error {
	return m.do(&insertContainer{list: l, index: -1, c: &c})
}

// RemoveContainer removes the container named name from list l.
func (m *Mutation) RemoveContainer(l List, name string) error {
	return m.do(&removeContainer{list: l, name: name})
}

// MoveContainer moves the container named name from list from to list to at
// index i, where i counts in the target list after the container left its
// old place. It renders as an RFC 6902 "move", so every field of the raw
// element, including fields unknown to the compiled API types, moves with
// it. Moving a container to where it already is records nothing.
func (m *Mutation) MoveContainer(from List, name string, to List, i int) error {
	return m.do(&moveContainer{from: from, name: name, to: to, index: i})
}

// EncodedContainer is a container together with its JSON encoding, made
// once by [EncodeContainer] and inserted into many mutations with
// [Mutation.InsertEncoded]: an injector that adds the same container to
// every Pod encodes it once. It is immutable and safe for concurrent use.
// The zero value is not usable.
type EncodedContainer struct {
	c    corev1.Container
	json []byte
}

// EncodeContainer encodes a deep copy of c with encoding/json, as
// InsertContainer would.
func EncodeContainer(c corev1.Container) (*EncodedContainer, error) {
	e := &EncodedContainer{c: *c.DeepCopy()}
	var err error
	if e.json, err = marshal("container "+c.Name, &e.c); err != nil {
		return nil, err
	}
	return e, nil
}

// Container returns a deep copy of the container.
func (e *EncodedContainer) Container() corev1.Container { return *e.c.DeepCopy() }

// Name returns the container's name.
func (e *EncodedContainer) Name() string { return e.c.Name }

// InsertEncoded is InsertContainer with a container encoded beforehand.
// The mutation records exactly what InsertContainer(l, i, c.Container())
// records.
func (m *Mutation) InsertEncoded(l List, i int, c *EncodedContainer) error {
	if c == nil || c.json == nil {
		return fmt.Errorf("patch: insert: nil or zero EncodedContainer")
	}
	return m.do(&insertContainer{list: l, index: i, c: &c.c, enc: c.json})
}

type insertContainer struct {
	list  List
	index int // -1 appends
	// c is the container to insert, never modified: the state shares it
	// until an edit changes it (see state.own). For InsertEncoded it is the
	// EncodedContainer's, which other mutations share.
	c   *corev1.Container
	enc []byte // the encoding of c, when known
}

func (e *insertContainer) run(s *state, out *[]relOp) error {
	li, err := e.list.index()
	if err != nil {
		return fmt.Errorf("patch: insert: %w", err)
	}
	l := s.list(li)
	idx := e.index
	if idx < 0 {
		idx = len(l)
	}
	if idx > len(l) {
		return fmt.Errorf("patch: insert %q: %w", e.c.Name, field.Invalid(listPath(e.list).Index(idx), e.c.Name,
			"index out of range: the list has "+countContainers(len(l))))
	}
	if e.c.Name == "" {
		return fmt.Errorf("patch: insert: %w", field.Required(listPath(e.list).Index(idx).Child("name"), "a container needs a name"))
	}
	if p := s.nameUser(e.c.Name); p != nil {
		return fmt.Errorf("patch: insert: %w", duplicate(listPath(e.list).Index(idx).Child("name"), e.c.Name, "already used by "+p.String()))
	}
	if out != nil {
		v := e.enc
		if v == nil {
			var err error
			if v, err = marshal("container "+e.c.Name, e.c); err != nil {
				return err
			}
		}
		switch {
		case len(l) == 0:
			emit(out, relOp{op: opAdd, path: ptr(string(e.list)), value: v, wrap: true}) // wrapped: Ops get their own array
		case idx == len(l):
			emit(out, relOp{op: opAdd, path: ptr(string(e.list), "-"), value: v, shared: e.enc != nil})
		default:
			emit(out, relOp{op: opAdd, path: containerPath(e.list, idx), value: v, shared: e.enc != nil})
		}
	}
	// Not owned: a later edit of this container copies it first (state.own),
	// so that no edit writes into the caller's memory or into an
	// EncodedContainer.
	index := s.byName[li]
	s.setList(li, insertElem(l, idx, elem{c: e.c}))
	if index != nil && idx == len(l) {
		// Appended: the other names keep their indices.
		index[e.c.Name] = idx
		s.byName[li] = index
	}
	return nil
}

type removeContainer struct {
	list List
	name string
}

func (e *removeContainer) run(s *state, out *[]relOp) error {
	li, j, err := s.lookup(e.list, e.name)
	if err != nil {
		return fmt.Errorf("patch: remove container: %w", err)
	}
	emit(out, guarded(relOp{op: opRemove, path: containerPath(e.list, j)}, e.list, j, e.name))
	s.setList(li, removeElem(s.list(li), j))
	return nil
}

type moveContainer struct {
	from  List
	name  string
	to    List
	index int
}

func (e *moveContainer) run(s *state, out *[]relOp) error {
	fi, j, err := s.lookup(e.from, e.name)
	if err != nil {
		return fmt.Errorf("patch: move container: %w", err)
	}
	ti, err := e.to.index()
	if err != nil {
		return fmt.Errorf("patch: move container: %w", err)
	}
	src := s.list(fi)
	dstLen := len(src) - 1 // the target list once the container left it
	if ti != fi {
		dstLen = len(s.list(ti))
	}
	if e.index < 0 || e.index > dstLen {
		return fmt.Errorf("patch: move container %q: %w", e.name, field.Invalid(listPath(e.to).Index(e.index), e.name,
			"index out of range: the list has "+countContainers(dstLen)))
	}
	if ti == fi && e.index == j {
		return nil
	}
	mv := relOp{op: opMove, from: containerPath(e.from, j), path: ptr(string(e.to), strconv.Itoa(e.index))}
	if dstLen == 0 && ti != fi {
		// The target may be absent or null: create it first (after the
		// guard). An empty list holds nothing that could be lost.
		emit(out, guarded(relOp{op: opAdd, path: ptr(string(e.to)), value: []byte("[]")}, e.from, j, e.name))
		emit(out, mv)
	} else {
		emit(out, guarded(mv, e.from, j, e.name))
	}
	moved := src[j]
	rest := removeElem(src, j)
	if ti == fi {
		s.setList(fi, insertElem(rest, e.index, moved))
		return nil
	}
	s.setList(fi, rest)
	s.setList(ti, insertElem(s.list(ti), e.index, moved))
	return nil
}

// duplicate is a field.Duplicate error with a detail, which prints as
// `spec.initContainers[0].name: Duplicate value: "proxy": already used by
// spec.containers[0]`.
func duplicate(p *field.Path, value interface{}, detail string) *field.Error {
	e := field.Duplicate(p, value)
	e.Detail = detail
	return e
}

// insertElem inserts v into l at i. Container lists belong to the state
// (see state.list), so they are edited in place, and appends are
// amortized: an edit costs what it moves, never a copy of the whole list
// per inserted container.
func insertElem(l []elem, i int, v elem) []elem {
	l = append(l, elem{})
	copy(l[i+1:], l[i:])
	l[i] = v
	return l
}

// removeElem removes element i from l in place (see insertElem).
func removeElem(l []elem, i int) []elem {
	copy(l[i:], l[i+1:])
	l[len(l)-1] = elem{}
	return l[:len(l)-1]
}

// countContainers says "1 container" or "n containers".
func countContainers(n int) string {
	if n == 1 {
		return "1 container"
	}
	return strconv.Itoa(n) + " containers"
}
