package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sidecarkit/sidecarkit/internal/jsonptr"
)

// Diff returns the minimal mutation that turns before into after, two typed
// PodSpecs of which after is a modified copy of before (both decoded from the
// same raw object, so that their list indices are the raw document's). Lists
// with a merge key (containers, initContainers, volumes and env by name,
// volumeMounts by mountPath, ports by containerPort, ...) are matched by key:
// a reordering renders as RFC 6902 "move" operations and a changed element as
// edits of the fields that changed, so that the raw elements keep every field
// the compiled API types do not know. Lists without a merge key are compared
// by index; lists of scalars are replaced whole.
//
// The returned mutation does not know the pod metadata: its metadata edits
// fail. To combine a diff with metadata edits, use [New] and [Mutation.Diff].
func Diff(before, after *corev1.PodSpec) (*Mutation, error) {
	m := &Mutation{baseSpec: before}
	m.s.reset(nil, before)
	if err := m.Diff(after); err != nil {
		return nil, err
	}
	return m, nil
}

// Diff records the edits that turn the mutation's current spec (the spec it
// was created from, changed by the edits recorded so far) into after. See
// the package-level [Diff]. Like the spec the mutation was created from,
// after is kept as it is: the mutation never modifies it, and it must not
// be modified while the mutation is in use (copy it first if it will be;
// webhooks diff a modified copy they drop afterwards, so a second copy here
// would only cost).
func (m *Mutation) Diff(after *corev1.PodSpec) error {
	if after == nil {
		return fmt.Errorf("patch: diff: nil spec")
	}
	return m.do(&diffSpec{after: after})
}

type diffSpec struct {
	after *corev1.PodSpec
}

func (e *diffSpec) run(s *state, out *[]relOp) error {
	if out != nil {
		// A container that changes lists moves (RFC 6902 move), so that
		// its raw element, unknown fields included, goes with it; the
		// list diffs below then put it in place and edit its fields.
		if err := crossListMoves(s, out, e.after); err != nil {
			return err
		}
		cur := s.podSpec()
		d := differ{out: out, path: make([]string, 0, 16)}
		d.structs(reflect.ValueOf(&cur).Elem(), reflect.ValueOf(e.after).Elem(), nodeOf(podSpecType))
		if d.err != nil {
			return d.err
		}
	}
	meta, metaEdits, metaPresent, metaKnown := s.meta, s.metaEdits, s.metaPresent, s.metaKnown
	s.reset(nil, e.after)
	s.meta, s.metaEdits, s.metaPresent, s.metaKnown = meta, metaEdits, metaPresent, metaKnown
	return nil
}

// crossListMoves moves, to the end of the other list, every container that
// is in one of initContainers and containers now and only in the other one
// in after.
func crossListMoves(s *state, out *[]relOp, after *corev1.PodSpec) error {
	cur := s.podSpec()
	curInit, curCont := newNameSet(cur.InitContainers), newNameSet(cur.Containers)
	afterInit, afterCont := newNameSet(after.InitContainers), newNameSet(after.Containers)
	for _, dir := range []struct {
		from, to           List
		curFrom            []corev1.Container
		curTo              nameSet
		afterFrom, afterTo nameSet
	}{
		{InitContainers, Containers, cur.InitContainers, curCont, afterInit, afterCont},
		{Containers, InitContainers, cur.Containers, curInit, afterCont, afterInit},
	} {
		for i := range dir.curFrom {
			name := dir.curFrom[i].Name
			if dir.afterFrom.has(name) || dir.curTo.has(name) || !dir.afterTo.has(name) {
				continue
			}
			ti, _ := dir.to.index() // both lists are known
			mv := moveContainer{from: dir.from, name: name, to: dir.to, index: len(s.list(ti))}
			if err := mv.run(s, out); err != nil {
				return fmt.Errorf("patch: diff: %w", err)
			}
		}
	}
	return nil
}

// nameSet answers whether a container list has a name: by a scan of a
// list of at most scanMax containers, by a map built once for a longer one.
type nameSet struct {
	l []corev1.Container
	m map[string]bool
}

func newNameSet(l []corev1.Container) nameSet {
	if len(l) <= scanMax {
		return nameSet{l: l}
	}
	m := make(map[string]bool, len(l))
	for i := range l {
		m[l[i].Name] = true
	}
	return nameSet{m: m}
}

func (n nameSet) has(name string) bool {
	if n.m != nil {
		return n.m[name]
	}
	for i := range n.l {
		if n.l[i].Name == name {
			return true
		}
	}
	return false
}

// differ walks two values of the same type and emits the operations that
// turn the first into the second. path holds the escaped tokens of the
// current location; it is joined only when an operation is emitted.
type differ struct {
	out  *[]relOp
	path []string
	err  error
	// keys is room for distinctKeys.
	keys []string
	// buf holds the encodings of added values, one after the other: each
	// operation's value is its own capped part of it.
	buf []byte
}

func (d *differ) push(tok string) { d.path = append(d.path, tok) }
func (d *differ) pop()            { d.path = d.path[:len(d.path)-1] }

func (d *differ) at(extra ...string) string {
	size := len(d.path) + len(extra)
	for _, t := range d.path {
		size += len(t)
	}
	for _, t := range extra {
		size += len(t)
	}
	var b strings.Builder
	b.Grow(size)
	for _, t := range d.path {
		b.WriteByte('/')
		b.WriteString(t)
	}
	for _, t := range extra {
		b.WriteByte('/')
		b.WriteString(t)
	}
	return b.String()
}

// add emits the addition of v, a value of type n, at path.
func (d *differ) add(path string, v reflect.Value, n *typeNode) {
	if d.err != nil {
		return
	}
	b, err := d.encode(v, n)
	if err != nil {
		d.err = fmt.Errorf("patch: diff: encode %s: %w", path, err)
		return
	}
	emit(d.out, relOp{op: opAdd, path: path, value: b})
}

func (d *differ) emitOp(op, path, from string) {
	emit(d.out, relOp{op: op, path: path, from: from})
}

// encode returns v, a value of type n, as json.Marshal encodes it
// (appendJSON, into d.buf), without the empty resources of containers
// (dropEmptyResources).
func (d *differ) encode(v reflect.Value, n *typeNode) ([]byte, error) {
	if d.buf == nil {
		d.buf = make([]byte, 0, 1024) // a container's encoding, about
	}
	start := len(d.buf)
	buf, ok := appendJSON(d.buf, v, n, 0)
	var b []byte
	if ok {
		d.buf = buf
		b = buf[start:len(buf):len(buf)]
	} else {
		d.buf = buf[:start]
		var err error
		if b, err = encodeJSON(v); err != nil {
			return nil, err
		}
	}
	if v.Type() == containerValueType || v.Type() == containersValueType {
		b = dropEmptyResources(b)
	}
	return b, nil
}

// encodeJSON returns v encoded by encoding/json, from its address when it
// has one, as encoding/json encodes it inside the document.
func encodeJSON(v reflect.Value) ([]byte, error) {
	var b []byte
	var err error
	if v.CanAddr() {
		b, err = json.Marshal(v.Addr().Interface())
	} else {
		b, err = json.Marshal(v.Interface())
	}
	return b, err
}

// The types whose encoding drops an empty resources member
// (dropEmptyResources).
var (
	containerValueType  = reflect.TypeOf(corev1.Container{})
	containersValueType = reflect.TypeOf([]corev1.Container(nil))
)

// structs diffs two structs of type n whose JSON objects both exist.
func (d *differ) structs(a, b reflect.Value, n *typeNode) {
	// ea and eb are the anonymous structs at n.embeds[embed], taken once
	// for the run of members flattened from them.
	var ea, eb reflect.Value
	embed := -1
	for i := range n.fields {
		f := &n.fields[i]
		var fa, fb reflect.Value
		if f.embed < 0 {
			fa, fb = a.Field(f.last), b.Field(f.last)
		} else {
			if f.embed != embed {
				embed = f.embed
				ea, eb = a.FieldByIndex(n.embeds[embed]), b.FieldByIndex(n.embeds[embed])
			}
			fa, fb = ea.Field(f.last), eb.Field(f.last)
		}
		// same, inlined for the usual kinds: most members are equal.
		switch f.node.kind {
		case reflect.String:
			if fa.String() == fb.String() {
				continue
			}
		case reflect.Ptr:
			if fa.IsNil() && fb.IsNil() {
				continue
			}
		default:
			if same(fa, fb, f.node) {
				continue
			}
		}
		pa := !f.omitEmpty || !isEmpty(fa)
		pb := !f.omitEmpty || !isEmpty(fb)
		switch {
		case !pa && !pb:
		case pa && !pb:
			d.emitOp(opRemove, d.at(f.tok), "")
		case !pa && pb:
			d.add(d.at(f.tok), fb, f.node)
		default:
			if f.node.kind == reflect.Struct && !f.node.leaf && fa.IsZero() && !fb.IsZero() {
				// A struct member whose typed value is zero may be absent
				// from the raw document (encoding/json always writes it,
				// the API does not need it): set it whole. This replaces
				// at most an empty object.
				d.add(d.at(f.tok), fb, f.node)
				continue
			}
			d.push(f.tok)
			d.value(fa, fb, f.node, f.key)
			d.pop()
		}
		if d.err != nil {
			return
		}
	}
}

// same reports whether a and b, values of type n, are equal by a check
// that costs one comparison: equal scalars, both nil, both empty lists of
// the same nil-ness, both zero structs. Equal values diff to nothing, so
// the walk skips them; false only means "walk them". Floats are left to
// the walk: 0 and -0 are equal but encode differently.
func same(a, b reflect.Value, n *typeNode) bool {
	switch n.kind {
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Ptr, reflect.Map:
		return a.IsNil() && b.IsNil()
	case reflect.Slice:
		return a.Len() == 0 && b.Len() == 0 && a.IsNil() == b.IsNil()
	case reflect.Struct:
		return n.cheapZero && a.IsZero() && b.IsZero()
	}
	return false
}

// value diffs two values of type n that are both present in JSON at the
// current path. key is the merge key's field index when n is a list of
// structs with one.
func (d *differ) value(a, b reflect.Value, n *typeNode, key []int) {
	if n.leaf {
		if !leafEqualNode(a, b, n) {
			d.add(d.at(), b, n)
		}
		return
	}
	switch n.kind {
	case reflect.Ptr:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				d.add(d.at(), b, n)
			}
			return
		}
		d.value(a.Elem(), b.Elem(), n.elem, key)
	case reflect.Struct:
		d.structs(a, b, n)
	case reflect.Map:
		d.maps(a, b, n)
	case reflect.Slice, reflect.Array:
		d.slices(a, b, n, key)
	default:
		if !leafEqual(a, b) {
			d.add(d.at(), b, n)
		}
	}
}

// leafEqualNode is leafEqual for leaves of type n, its case chosen by the
// type.
func leafEqualNode(a, b reflect.Value, n *typeNode) bool {
	switch n.cmp {
	case cmpString:
		return a.String() == b.String()
	case cmpBool:
		return a.Bool() == b.Bool()
	case cmpInt:
		return a.Int() == b.Int()
	case cmpUint:
		return a.Uint() == b.Uint()
	}
	return leafEqual(a, b)
}

// leafEqual reports whether two leaves of one type encode alike.
func leafEqual(a, b reflect.Value) bool {
	if a.CanAddr() && b.CanAddr() {
		// The API's own leaf types, compared without boxing copies.
		switch pa := a.Addr().Interface().(type) {
		case *intstr.IntOrString:
			pb := b.Addr().Interface().(*intstr.IntOrString)
			if pa.Type == intstr.Int {
				return pb.Type == intstr.Int && pa.IntVal == pb.IntVal
			}
			return pa.Type == pb.Type && pa.StrVal == pb.StrVal
		case *resource.Quantity:
			return quantityEqual(pa, b.Addr().Interface().(*resource.Quantity))
		}
	}
	switch a.Kind() {
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	}
	if reflect.DeepEqual(a.Interface(), b.Interface()) {
		return true
	}
	ea, errA := encodeJSON(a)
	eb, errB := encodeJSON(b)
	return errA == nil && errB == nil && bytes.Equal(ea, eb)
}

func (d *differ) maps(a, b reflect.Value, n *typeNode) {
	if a.IsNil() || b.IsNil() {
		// Only non-omitempty maps get here; null and {} differ in JSON.
		if a.IsNil() != b.IsNil() {
			d.add(d.at(), b, n)
		}
		return
	}
	if mapsEqual(a, b, n.elem.leaf) {
		return
	}
	// Both maps have the same key type, a string kind (the API's maps are
	// keyed by strings), so keys index either map as they are.
	ka, kb := sortedKeys(a), sortedKeys(b)
	for _, k := range ka {
		if !b.MapIndex(k).IsValid() {
			d.emitOp(opRemove, d.at(jsonptr.Escape(k.String())), "")
		}
	}
	vt := a.Type().Elem()
	leaf := n.elem.leaf
	var ca, cb reflect.Value
	if !leaf {
		// Map values are not addressable; diff copies so that nested
		// structs can be walked.
		ca, cb = reflect.New(vt).Elem(), reflect.New(vt).Elem()
	}
	for _, k := range kb {
		vb := b.MapIndex(k)
		va := a.MapIndex(k)
		if !va.IsValid() {
			d.add(d.at(jsonptr.Escape(k.String())), vb, n.elem)
			continue
		}
		if leaf {
			if !leafEqual(va, vb) {
				d.add(d.at(jsonptr.Escape(k.String())), vb, n.elem)
			}
			continue
		}
		ca.Set(va)
		cb.Set(vb)
		d.push(jsonptr.Escape(k.String()))
		d.value(ca, cb, n.elem, nil)
		d.pop()
		if d.err != nil {
			return
		}
	}
}

// mapsEqual reports whether two maps of the same type hold the same keys
// with equal values (leafEqual for leaf values, DeepEqual otherwise). The
// API's own map types are compared without reflection.
func mapsEqual(a, b reflect.Value, leafValues bool) bool {
	if a.Len() != b.Len() {
		return false
	}
	switch ma := a.Interface().(type) {
	case map[string]string:
		mb := b.Interface().(map[string]string)
		for k, va := range ma {
			if vb, ok := mb[k]; !ok || va != vb {
				return false
			}
		}
		return true
	case corev1.ResourceList:
		mb := b.Interface().(corev1.ResourceList)
		for k, va := range ma {
			vb, ok := mb[k]
			if !ok || !quantityEqual(&va, &vb) {
				return false
			}
		}
		return true
	}
	if !leafValues {
		return reflect.DeepEqual(a.Interface(), b.Interface())
	}
	iter := a.MapRange()
	for iter.Next() {
		vb := b.MapIndex(iter.Key())
		if !vb.IsValid() || !leafEqual(iter.Value(), vb) {
			return false
		}
	}
	return true
}

// quantityEqual reports whether two quantities encode alike: String is
// what MarshalJSON writes, the string the quantity was parsed from when it
// kept it ("01" and "1" are equal values that encode differently), else
// the canonical form. It works on copies, because String caches the
// canonical form in the quantity, and Diff never writes into the specs it
// reads.
//
// Quantities equal member by member (the usual case: after is a copy of
// before) encode alike without that work; quantityComparable keeps the
// comparison from panicking should the type ever stop being comparable
// or hold an interface (whose dynamic value may not be).
func quantityEqual(a, b *resource.Quantity) bool {
	x, y := *a, *b
	if quantityComparable && any(x) == any(y) {
		return true
	}
	return x.String() == y.String()
}

var quantityComparable = plainComparable(reflect.TypeOf(resource.Quantity{}))

// plainComparable reports whether == on values of type t never panics:
// t is comparable and holds no interface, at any depth.
func plainComparable(t reflect.Type) bool {
	if !t.Comparable() {
		return false
	}
	switch t.Kind() {
	case reflect.Interface:
		return false
	case reflect.Array:
		return plainComparable(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if !plainComparable(t.Field(i).Type) {
				return false
			}
		}
	}
	return true
}

// sortedKeys returns the keys of m, a map with string-kinded keys, in
// order.
func sortedKeys(m reflect.Value) []reflect.Value {
	ks := make([]reflect.Value, 0, m.Len())
	iter := m.MapRange()
	for iter.Next() {
		ks = append(ks, iter.Key())
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].String() < ks[j].String() })
	return ks
}

func (d *differ) slices(a, b reflect.Value, n *typeNode, key []int) {
	la, lb := a.Len(), b.Len()
	if la == 0 || lb == 0 {
		switch {
		case la == 0 && lb == 0:
			if a.Kind() == reflect.Slice && a.IsNil() != b.IsNil() {
				d.add(d.at(), b, n) // null versus [] of a non-omitempty list
			}
		case la == 0:
			d.add(d.at(), b, n) // the list may be absent or null: add it whole
		default:
			for i := la - 1; i >= 0; i-- {
				d.emitOp(opRemove, d.at(strconv.Itoa(i)), "")
			}
		}
		return
	}
	if n.elem.leaf {
		if !leavesEqual(a, b, n.elem) {
			d.add(d.at(), b, n) // scalars carry no unknown fields
		}
		return
	}
	if key != nil {
		if d.sameKeys(a, b, key) {
			// Same elements in the same order, the usual case (keyed's
			// first case, without building the keys).
			d.pairs(a, b, n.elem, la)
			return
		}
		if off, ok := d.grownKeys(a, b, key); ok {
			// Elements added at one end, the other usual case (keyed's
			// result for it, without building the keys).
			d.grown(a, b, n.elem, off)
			return
		}
		if ka, kb := listKeys(a, key), listKeys(b, key); ka != nil && kb != nil {
			d.keyed(a, b, n.elem, ka, kb)
			return
		}
	}
	d.indexed(a, b, n.elem)
}

// leavesEqual reports whether two non-empty lists of leaves of type n are
// reflect.DeepEqual: element by element without boxing for the scalars
// encoding/json writes as they are, reflect.DeepEqual for others.
func leavesEqual(a, b reflect.Value, n *typeNode) bool {
	if !n.plain {
		return reflect.DeepEqual(a.Interface(), b.Interface())
	}
	l := a.Len()
	if l != b.Len() {
		return false
	}
	for i := 0; i < l; i++ {
		if !leafEqualNode(a.Index(i), b.Index(i), n) {
			return false
		}
	}
	return true
}

// sameKeys reports whether lists a and b have valid and distinct merge
// keys (the field at index key), the same in the same order. It builds no
// key list (beyond 16 elements it sorts them in d.keys); false means "use
// listKeys".
func (d *differ) sameKeys(a, b reflect.Value, key []int) bool {
	n := a.Len()
	if n != b.Len() {
		return false
	}
	for i := 0; i < n; i++ {
		ka := a.Index(i).FieldByIndex(key)
		if !validKey(ka) || !keyEqual(ka, b.Index(i).FieldByIndex(key)) {
			return false
		}
	}
	return d.distinctKeys(a, key)
}

// grownKeys reports whether list b is list a with elements added at its
// end (off 0) or at its front (off, the number added), all with valid and
// distinct merge keys (the field at index key). It builds no key list
// (beyond 16 elements it sorts them in d.keys); false means "use
// listKeys".
func (d *differ) grownKeys(a, b reflect.Value, key []int) (off int, ok bool) {
	la, lb := a.Len(), b.Len()
	if la == 0 || la >= lb {
		return 0, false
	}
	for j := 0; j < lb; j++ {
		if !validKey(b.Index(j).FieldByIndex(key)) {
			return 0, false
		}
	}
	for _, off := range [2]int{0, lb - la} {
		i := 0
		for ; i < la && keyEqual(a.Index(i).FieldByIndex(key), b.Index(i+off).FieldByIndex(key)); i++ {
		}
		if i == la {
			return off, d.distinctKeys(b, key)
		}
	}
	return 0, false
}

// distinctKeys reports whether the merge keys of list l, all valid, are
// distinct: pair by pair for up to 16 elements, else sorted in d.keys,
// reused from list to list (O(n log n), no map per list).
func (d *differ) distinctKeys(l reflect.Value, key []int) bool {
	n := l.Len()
	if n <= 16 {
		for i := 1; i < n; i++ {
			ki := l.Index(i).FieldByIndex(key)
			for j := 0; j < i; j++ {
				if keyEqual(ki, l.Index(j).FieldByIndex(key)) {
					return false
				}
			}
		}
		return true
	}
	keys := d.keys[:0]
	for i := 0; i < n; i++ {
		k, _ := keyString(l.Index(i).FieldByIndex(key))
		keys = append(keys, k)
	}
	d.keys = keys
	sort.Strings(keys)
	for i := 1; i < n; i++ {
		if keys[i] == keys[i-1] {
			return false
		}
	}
	return true
}

// grown diffs list a against list b, of elements of type n, which is a
// with elements added at its end (off 0) or front (off, the number added),
// as keyed does for it: each kept element against its copy, at its
// current index, then the additions in order.
func (d *differ) grown(a, b reflect.Value, n *typeNode, off int) {
	la, lb := a.Len(), b.Len()
	for i := 0; i < la && d.err == nil; i++ {
		d.push(strconv.Itoa(i))
		d.value(a.Index(i), b.Index(i+off), n, nil)
		d.pop()
	}
	if d.err != nil {
		return
	}
	from, to := la, lb
	if off > 0 {
		from, to = 0, off
	}
	for j := from; j < to; j++ {
		d.add(d.at(strconv.Itoa(j)), b.Index(j), n)
	}
}

// validKey tells whether keyString accepts v.
func validKey(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return v.Len() > 0
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

// keyEqual compares two merge keys validKey accepts.
func keyEqual(a, b reflect.Value) bool {
	if a.Kind() == reflect.String {
		return a.String() == b.String()
	}
	return a.Int() == b.Int()
}

// listKeys returns the merge keys (the field at index key) of a list of
// structs, or nil when an element lacks its key or two elements share one.
func listKeys(l reflect.Value, key []int) []string {
	keys := make([]string, l.Len())
	for i := range keys {
		k, ok := keyString(l.Index(i).FieldByIndex(key))
		if !ok {
			return nil
		}
		keys[i] = k
	}
	if hasDuplicate(keys) {
		return nil
	}
	return keys
}

// hasDuplicate reports whether two of keys are equal; quadratic for the
// short lists of a PodSpec, a map beyond.
func hasDuplicate(keys []string) bool {
	if len(keys) <= 16 {
		for i := range keys {
			for j := 0; j < i; j++ {
				if keys[i] == keys[j] {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}

func keyString(v reflect.Value) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		return v.String(), v.Len() > 0
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), true
	}
	return "", false
}

// pairs diffs the first count elements of lists a and b, of type n, pair
// by pair at the same index.
func (d *differ) pairs(a, b reflect.Value, n *typeNode, count int) {
	for i := 0; i < count && d.err == nil; i++ {
		d.push(strconv.Itoa(i))
		d.value(a.Index(i), b.Index(i), n, nil)
		d.pop()
	}
}

func (d *differ) indexed(a, b reflect.Value, n *typeNode) {
	la, lb := a.Len(), b.Len()
	common := la
	if lb < common {
		common = lb
	}
	d.pairs(a, b, n, common)
	for i := la - 1; i >= lb; i-- {
		d.emitOp(opRemove, d.at(strconv.Itoa(i)), "")
	}
	for i := la; i < lb; i++ {
		d.add(d.at(strconv.Itoa(i)), b.Index(i), n)
	}
}

// keyed diffs two lists matched by merge key: first the changed fields of
// elements in both (at their current indices), then removals from the end,
// then the fewest moves that put the kept elements in after's order (those
// outside a longest increasing subsequence), then inserts in after's order.
func (d *differ) keyed(a, b reflect.Value, n *typeNode, ka, kb []string) {
	if equalStrings(ka, kb) {
		// Same elements in the same order, the usual case: only their
		// fields can differ.
		d.pairs(a, b, n, len(ka))
		return
	}
	inB := make(map[string]int, len(kb))
	for j, k := range kb {
		inB[k] = j
	}
	inA := make(map[string]bool, len(ka))
	for i, k := range ka {
		inA[k] = true
		if j, ok := inB[k]; ok {
			d.push(strconv.Itoa(i))
			d.value(a.Index(i), b.Index(j), n, nil)
			d.pop()
			if d.err != nil {
				return
			}
		}
	}
	for i := len(ka) - 1; i >= 0; i-- {
		if _, ok := inB[ka[i]]; !ok {
			d.emitOp(opRemove, d.at(strconv.Itoa(i)), "")
		}
	}
	// The kept elements, in their order, by their index in b.
	seq := make([]int, 0, len(ka))
	for _, k := range ka {
		if j, ok := inB[k]; ok {
			seq = append(seq, j)
		}
	}
	for _, mv := range sortingMoves(seq, len(kb)) {
		d.emitOp(opMove, d.at(strconv.Itoa(mv.to)), d.at(strconv.Itoa(mv.from)))
	}
	for j, k := range kb {
		if !inA[k] {
			d.add(d.at(strconv.Itoa(j)), b.Index(j), n)
		}
	}
}

// move is an RFC 6902 move within one list: the element at index from is
// removed, then inserted at index to of the list without it.
type move struct{ from, to int }

// sortingMoves returns the fewest moves that sort a list into increasing
// order, where seq[i] (distinct, below n) is where element i goes. The
// elements of a longest increasing subsequence stay; the others are taken
// in their final order, each moved right after the element that precedes
// it there (the first of all goes to the front). Identity-free moves are
// left out.
//
// Each element moves at most once, so every element has at most two
// places: where it is, and right after its predecessor's final place. The
// order of all those places is known beforehand, so the current index of
// a place is the number of occupied places before it, kept in a Fenwick
// tree: O(len(seq) log len(seq)), not a list rebuilt per move.
func sortingMoves(seq []int, n int) []move {
	m := len(seq)
	sorted := true
	for i := 1; i < m && sorted; i++ {
		sorted = seq[i-1] < seq[i]
	}
	if sorted {
		return nil // the usual case: elements added or removed, none moved
	}
	// byFinal lists the elements in their final order.
	at := make([]int, n)
	for i := range at {
		at[i] = -1
	}
	for i, j := range seq {
		at[j] = i
	}
	byFinal := make([]int, 0, m)
	for _, i := range at {
		if i >= 0 {
			byFinal = append(byFinal, i)
		}
	}
	stays := make([]bool, m)
	for _, i := range longestIncreasing(seq) {
		stays[i] = true
	}
	// Places: i < m is element i's current place, m+i the place element
	// i moves to, 2m the front. after[p] is the place inserted right
	// after p (at most one: a moved element follows its predecessor, and
	// the next element moved in final order follows it in turn).
	after := make([]int, 2*m+1)
	for p := range after {
		after[p] = -1
	}
	final := make([]int, m) // each element's final place
	prev := 2 * m
	for _, i := range byFinal {
		if stays[i] {
			final[i] = i
		} else {
			final[i] = m + i
			after[prev] = m + i
		}
		prev = final[i]
	}
	// rank[p] is p's position (1-based) in the order of all places.
	rank := make([]int, 2*m+1)
	r := 0
	chain := func(p int) {
		for ; p >= 0; p = after[p] {
			r++
			rank[p] = r
		}
	}
	chain(2 * m)
	for i := 0; i < m; i++ {
		chain(i)
	}
	// r places have a rank: the front, the m current places and one
	// destination per moved element (a staying element's m+i has none).
	occupied := newFenwick(r)
	for i := 0; i < m; i++ {
		occupied.add(rank[i], 1)
	}
	var moves []move
	for _, i := range byFinal {
		if stays[i] {
			continue
		}
		from := occupied.sum(rank[i]) - 1
		occupied.add(rank[i], -1)
		to := occupied.sum(rank[m+i] - 1)
		occupied.add(rank[m+i], 1)
		if from != to {
			moves = append(moves, move{from, to})
		}
	}
	return moves
}

// fenwick is a Fenwick (binary indexed) tree of counts at positions 1..n.
type fenwick []int

func newFenwick(n int) fenwick { return make(fenwick, n+1) }

// add adds d at position p.
func (f fenwick) add(p, d int) {
	for ; p < len(f); p += p & -p {
		f[p] += d
	}
}

// sum returns the total of positions 1..p.
func (f fenwick) sum(p int) int {
	t := 0
	for ; p > 0; p -= p & -p {
		t += f[p]
	}
	return t
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// longestIncreasing returns the indices of a longest strictly increasing
// subsequence of seq, in order.
func longestIncreasing(seq []int) []int {
	if len(seq) == 0 {
		return nil
	}
	tails := []int{}              // tails[k]: index of the smallest tail of an increasing run of length k+1
	prev := make([]int, len(seq)) // predecessor of each index in its run
	for i, v := range seq {
		lo, hi := 0, len(tails)
		for lo < hi {
			mid := (lo + hi) / 2
			if seq[tails[mid]] < v {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		if lo > 0 {
			prev[i] = tails[lo-1]
		} else {
			prev[i] = -1
		}
		if lo == len(tails) {
			tails = append(tails, i)
		} else {
			tails[lo] = i
		}
	}
	out := make([]int, len(tails))
	k := tails[len(tails)-1]
	for i := len(tails) - 1; i >= 0; i-- {
		out[i] = k
		k = prev[k]
	}
	return out
}
