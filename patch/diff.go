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
// the package-level [Diff]. The mutation keeps a deep copy of after.
func (m *Mutation) Diff(after *corev1.PodSpec) error {
	if after == nil {
		return fmt.Errorf("patch: diff: nil spec")
	}
	return m.do(&diffSpec{after: after.DeepCopy()})
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
		d := differ{out: out}
		d.structs(reflect.ValueOf(&cur).Elem(), reflect.ValueOf(e.after).Elem())
		if d.err != nil {
			return d.err
		}
	}
	meta, metaPresent, metaKnown := s.meta, s.metaPresent, s.metaKnown
	s.reset(nil, e.after)
	s.meta, s.metaPresent, s.metaKnown = meta, metaPresent, metaKnown
	return nil
}

// crossListMoves moves, to the end of the other list, every container that
// is in one of initContainers and containers now and only in the other one
// in after.
func crossListMoves(s *state, out *[]relOp, after *corev1.PodSpec) error {
	cur := s.podSpec()
	for _, dir := range []struct {
		from, to           List
		curFrom, curTo     []corev1.Container
		afterFrom, afterTo []corev1.Container
	}{
		{InitContainers, Containers, cur.InitContainers, cur.Containers, after.InitContainers, after.Containers},
		{Containers, InitContainers, cur.Containers, cur.InitContainers, after.Containers, after.InitContainers},
	} {
		for i := range dir.curFrom {
			name := dir.curFrom[i].Name
			if hasName(dir.afterFrom, name) || hasName(dir.curTo, name) || !hasName(dir.afterTo, name) {
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

func hasName(l []corev1.Container, name string) bool {
	for i := range l {
		if l[i].Name == name {
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
}

func (d *differ) push(tok string) { d.path = append(d.path, tok) }
func (d *differ) pop()            { d.path = d.path[:len(d.path)-1] }

func (d *differ) at(extra ...string) string {
	var b strings.Builder
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

func (d *differ) add(path string, v reflect.Value) {
	if d.err != nil {
		return
	}
	b, err := encode(v)
	if err != nil {
		d.err = fmt.Errorf("patch: diff: encode %s: %w", path, err)
		return
	}
	emit(d.out, relOp{op: OpAdd, path: path, value: b})
}

func (d *differ) emitOp(op, path, from string) {
	emit(d.out, relOp{op: op, path: path, from: from})
}

func encode(v reflect.Value) ([]byte, error) {
	if v.CanAddr() {
		return json.Marshal(v.Addr().Interface())
	}
	return json.Marshal(v.Interface())
}

// structs diffs two structs whose JSON objects both exist.
func (d *differ) structs(a, b reflect.Value) {
	for _, f := range fields(a.Type()) {
		fa, fb := a.FieldByIndex(f.index), b.FieldByIndex(f.index)
		pa := !f.omitEmpty || !isEmpty(fa)
		pb := !f.omitEmpty || !isEmpty(fb)
		name := jsonptr.Escape(f.name)
		switch {
		case !pa && !pb:
		case pa && !pb:
			d.emitOp(OpRemove, d.at(name), "")
		case !pa && pb:
			d.add(d.at(name), fb)
		default:
			if fa.Kind() == reflect.Struct && !f.atomic && fa.IsZero() && !fb.IsZero() {
				// A struct member whose typed value is zero may be absent
				// from the raw document (encoding/json always writes it,
				// the API does not need it): set it whole. This replaces
				// at most an empty object.
				d.add(d.at(name), fb)
				continue
			}
			d.push(name)
			d.value(fa, fb, f.mergeKey)
			d.pop()
		}
		if d.err != nil {
			return
		}
	}
}

// value diffs two values that are both present in JSON at the current path.
func (d *differ) value(a, b reflect.Value, mergeKey string) {
	t := a.Type()
	if isLeaf(t) {
		if !leafEqual(a, b) {
			d.add(d.at(), b)
		}
		return
	}
	switch a.Kind() {
	case reflect.Ptr:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				d.add(d.at(), b)
			}
			return
		}
		d.value(a.Elem(), b.Elem(), mergeKey)
	case reflect.Struct:
		d.structs(a, b)
	case reflect.Map:
		d.maps(a, b)
	case reflect.Slice, reflect.Array:
		d.slices(a, b, mergeKey)
	default:
		if !leafEqual(a, b) {
			d.add(d.at(), b)
		}
	}
}

func leafEqual(a, b reflect.Value) bool {
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
	ea, errA := encode(a)
	eb, errB := encode(b)
	return errA == nil && errB == nil && bytes.Equal(ea, eb)
}

func (d *differ) maps(a, b reflect.Value) {
	if a.IsNil() || b.IsNil() {
		// Only non-omitempty maps get here; null and {} differ in JSON.
		if a.IsNil() != b.IsNil() {
			d.add(d.at(), b)
		}
		return
	}
	keys := func(m reflect.Value) []string {
		ks := make([]string, 0, m.Len())
		iter := m.MapRange()
		for iter.Next() {
			ks = append(ks, iter.Key().String())
		}
		sort.Strings(ks)
		return ks
	}
	kt := a.Type().Key()
	for _, k := range keys(a) {
		if !b.MapIndex(reflect.ValueOf(k).Convert(kt)).IsValid() {
			d.emitOp(OpRemove, d.at(jsonptr.Escape(k)), "")
		}
	}
	for _, k := range keys(b) {
		kv := reflect.ValueOf(k).Convert(kt)
		vb := b.MapIndex(kv)
		va := a.MapIndex(kv)
		tok := jsonptr.Escape(k)
		if !va.IsValid() {
			d.add(d.at(tok), vb)
			continue
		}
		// Map values are not addressable; diff copies so that nested
		// structs can be walked.
		ca, cb := reflect.New(va.Type()).Elem(), reflect.New(vb.Type()).Elem()
		ca.Set(va)
		cb.Set(vb)
		d.push(tok)
		d.value(ca, cb, "")
		d.pop()
		if d.err != nil {
			return
		}
	}
}

func (d *differ) slices(a, b reflect.Value, mergeKey string) {
	la, lb := a.Len(), b.Len()
	if la == 0 || lb == 0 {
		switch {
		case la == 0 && lb == 0:
			if a.Kind() == reflect.Slice && a.IsNil() != b.IsNil() {
				d.add(d.at(), b) // null versus [] of a non-omitempty list
			}
		case la == 0:
			d.add(d.at(), b) // the list may be absent or null: add it whole
		default:
			for i := la - 1; i >= 0; i-- {
				d.emitOp(OpRemove, d.at(strconv.Itoa(i)), "")
			}
		}
		return
	}
	et := a.Type().Elem()
	if isLeaf(et) {
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			d.add(d.at(), b) // scalars carry no unknown fields
		}
		return
	}
	if mergeKey != "" && et.Kind() == reflect.Struct {
		if ka, kb := listKeys(a, mergeKey), listKeys(b, mergeKey); ka != nil && kb != nil {
			d.keyed(a, b, ka, kb)
			return
		}
	}
	d.indexed(a, b)
}

// listKeys returns the merge keys of a list of structs, or nil when an
// element lacks its key or two elements share one.
func listKeys(l reflect.Value, mergeKey string) []string {
	var idx []int
	for _, f := range fields(l.Type().Elem()) {
		if f.name == mergeKey {
			idx = f.index
		}
	}
	if idx == nil {
		return nil
	}
	keys := make([]string, l.Len())
	seen := make(map[string]bool, l.Len())
	for i := range keys {
		k, ok := keyString(l.Index(i).FieldByIndex(idx))
		if !ok || seen[k] {
			return nil
		}
		seen[k] = true
		keys[i] = k
	}
	return keys
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

func (d *differ) indexed(a, b reflect.Value) {
	la, lb := a.Len(), b.Len()
	n := la
	if lb < n {
		n = lb
	}
	for i := 0; i < n && d.err == nil; i++ {
		d.push(strconv.Itoa(i))
		d.value(a.Index(i), b.Index(i), "")
		d.pop()
	}
	for i := la - 1; i >= lb; i-- {
		d.emitOp(OpRemove, d.at(strconv.Itoa(i)), "")
	}
	for i := la; i < lb; i++ {
		d.add(d.at(strconv.Itoa(i)), b.Index(i))
	}
}

// keyed diffs two lists matched by merge key: first the changed fields of
// elements in both (at their current indices), then removals from the end,
// then the fewest moves that put the kept elements in after's order (those
// outside a longest increasing subsequence), then inserts in after's order.
func (d *differ) keyed(a, b reflect.Value, ka, kb []string) {
	inB := make(map[string]int, len(kb))
	for j, k := range kb {
		inB[k] = j
	}
	inA := make(map[string]bool, len(ka))
	for i, k := range ka {
		inA[k] = true
		if j, ok := inB[k]; ok {
			d.push(strconv.Itoa(i))
			d.value(a.Index(i), b.Index(j), "")
			d.pop()
			if d.err != nil {
				return
			}
		}
	}
	var cur []string
	for i := len(ka) - 1; i >= 0; i-- {
		if _, ok := inB[ka[i]]; !ok {
			d.emitOp(OpRemove, d.at(strconv.Itoa(i)), "")
		}
	}
	for _, k := range ka {
		if _, ok := inB[k]; ok {
			cur = append(cur, k)
		}
	}
	seq := make([]int, len(cur))
	for i, k := range cur {
		seq[i] = inB[k]
	}
	placed := make(map[string]bool, len(cur))
	for _, i := range longestIncreasing(seq) {
		placed[cur[i]] = true
	}
	for _, k := range kb {
		if !inA[k] || placed[k] {
			continue
		}
		from := indexOf(cur, k)
		cur = append(cur[:from:from], cur[from+1:]...)
		to := 0
		for i := len(cur) - 1; i >= 0; i-- {
			if placed[cur[i]] && inB[cur[i]] < inB[k] {
				to = i + 1
				break
			}
		}
		cur = append(cur[:to:to], append([]string{k}, cur[to:]...)...)
		placed[k] = true
		if from != to {
			d.emitOp(OpMove, d.at(strconv.Itoa(to)), d.at(strconv.Itoa(from)))
		}
	}
	for j, k := range kb {
		if !inA[k] {
			d.add(d.at(strconv.Itoa(j)), b.Index(j))
		}
	}
}

func indexOf(l []string, s string) int {
	for i, v := range l {
		if v == s {
			return i
		}
	}
	return -1
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
