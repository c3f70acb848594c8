package patch

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// apimachinery's strategicpatch orders the patch of a list with a merge key
// by sorting the changed elements with a comparison that looks each one up
// in the modified list by a scan (normalizeSliceOrder and index in
// https://github.com/kubernetes/apimachinery/blob/v0.28.0/pkg/util/strategicpatch/patch.go,
// unchanged in v0.37.2): a change to every one of n containers costs about
// n² log n (10,000 containers took a minute). keyedLists keeps its output and
// makes it linear: before the diff, every such list present in both
// documents becomes an object keyed by the merge key, which strategicpatch
// diffs member by member in linear time with the same element diffs
// (keyedSchema gives each member the list's element schema and patch
// strategies); afterwards, the object patch becomes the list patch, the
// deletion directives and the $setElementOrder list that diffLists would
// have made. Lists it cannot key exactly as diffLists matches them
// (duplicate or missing merge keys, elements that are not objects, keys
// starting with "$") are left to strategicpatch as they are.

// keyedLevel records what keyedLists changed in one object of the
// documents: the lists it keyed and the nested objects in which it keyed
// some.
type keyedLevel struct {
	lists   map[string]*keyedList
	objects map[string]*keyedLevel
}

// keyedList is a list with a merge key, keyed in both documents.
type keyedList struct {
	key         string // the merge key
	meta        strategicpatch.PatchMeta
	elem        strategicpatch.LookupPatchMeta // the element schema
	orig, mod   []interface{}                  // the lists as they were
	origN, modN []string                       // their keys, as diffLists formats them
	elems       map[string]*keyedLevel         // paired elements with keyed lists inside
}

// keyLists keys, in place, the lists with a merge key that orig and mod
// (the same object of the two documents, with schema s) both hold, and
// those of their paired elements and nested objects. It returns nil when
// it keyed nothing. Objects under a retainKeys strategy are left alone:
// their patch's $retainKeys directive depends on whether the patch is
// empty, which keying changes before the list patch is rebuilt.
func keyLists(orig, mod map[string]interface{}, s strategicpatch.LookupPatchMeta) *keyedLevel {
	var lv *keyedLevel
	for k, mv := range mod {
		ov, ok := orig[k]
		if !ok || strings.HasPrefix(k, "$") {
			continue
		}
		switch mt := mv.(type) {
		case map[string]interface{}:
			ot, ok := ov.(map[string]interface{})
			if !ok {
				continue
			}
			sub, meta, err := s.LookupPatchMetadataForStruct(k)
			if err != nil || !plainStrategy(meta) {
				continue
			}
			if child := keyLists(ot, mt, sub); child != nil {
				if lv == nil {
					lv = &keyedLevel{}
				}
				if lv.objects == nil {
					lv.objects = map[string]*keyedLevel{}
				}
				lv.objects[k] = child
			}
		case []interface{}:
			ot, ok := ov.([]interface{})
			if !ok {
				continue
			}
			l := keyList(ot, mt, k, s)
			if l == nil {
				continue
			}
			if lv == nil {
				lv = &keyedLevel{}
			}
			if lv.lists == nil {
				lv.lists = map[string]*keyedList{}
			}
			lv.lists[k] = l
			orig[k], mod[k] = keyedObject(ot, l.origN), keyedObject(mt, l.modN)
		}
	}
	return lv
}

// plainStrategy tells whether an object diffed with meta is diffed member by
// member without a $retainKeys directive: its strategies are merge or none
// (a member without a patchStrategy tag has the one strategy "").
func plainStrategy(meta strategicpatch.PatchMeta) bool {
	for _, st := range meta.GetPatchStrategies() {
		if st != "merge" && st != "" {
			return false // replace or retainKeys
		}
	}
	return true
}

// keyList returns the record of list k of an object with schema s, or nil
// when it is not to be keyed: not a merge list of objects with a merge key,
// empty on a side (diffLists adds or drops such lists whole), or with
// merge keys diffLists would not match one to one.
func keyList(orig, mod []interface{}, k string, s strategicpatch.LookupPatchMeta) *keyedList {
	if len(orig) == 0 || len(mod) == 0 {
		return nil
	}
	elem, meta, err := s.LookupPatchMetadataForSlice(k)
	if err != nil || meta.GetPatchMergeKey() == "" {
		return nil
	}
	merge := false
	for _, st := range meta.GetPatchStrategies() {
		switch st {
		case "merge":
			merge = true
		case "retainKeys":
		default:
			return nil
		}
	}
	if !merge {
		return nil
	}
	l := &keyedList{key: meta.GetPatchMergeKey(), meta: meta, elem: elem, orig: orig, mod: mod}
	if l.origN = listKeyStrings(orig, l.key); l.origN == nil {
		return nil
	}
	if l.modN = listKeyStrings(mod, l.key); l.modN == nil {
		return nil
	}
	// Paired elements: key the lists inside them too, unless the list's
	// elements carry $retainKeys (see keyLists).
	origAt := make(map[string]map[string]interface{}, len(orig))
	for i, n := range l.origN {
		origAt[n] = orig[i].(map[string]interface{})
	}
	if plainStrategy(retainKeysOnly(meta)) {
		for i, n := range l.modN {
			if o, ok := origAt[n]; ok {
				if child := keyLists(o, mod[i].(map[string]interface{}), elem); child != nil {
					if l.elems == nil {
						l.elems = map[string]*keyedLevel{}
					}
					l.elems[n] = child
				}
			}
		}
	}
	return l
}

// retainKeysOnly is meta without its merge strategy: what applies to the
// list's elements.
func retainKeysOnly(meta strategicpatch.PatchMeta) strategicpatch.PatchMeta {
	var out strategicpatch.PatchMeta
	for _, st := range meta.GetPatchStrategies() {
		if st == "retainKeys" {
			out.SetPatchStrategies([]string{st})
		}
	}
	return out
}

// listKeyStrings returns the merge keys of a list of objects as diffLists
// compares them ("%v"), or nil when an element is not an object, lacks the
// key, or two keys are equal, or a key starts with "$" (a directive to
// strategicpatch as an object member).
func listKeyStrings(l []interface{}, key string) []string {
	out := make([]string, len(l))
	seen := make(map[string]bool, len(l))
	for i, e := range l {
		m, ok := e.(map[string]interface{})
		if !ok {
			return nil
		}
		v, ok := m[key]
		if !ok {
			return nil
		}
		switch v.(type) {
		case string, bool, float64, int64, nil: // comparable, as sameOrder needs
		default:
			return nil
		}
		n := fmt.Sprintf("%v", v)
		if seen[n] || strings.HasPrefix(n, "$") {
			return nil
		}
		seen[n] = true
		out[i] = n
	}
	return out
}

func keyedObject(l []interface{}, names []string) map[string]interface{} {
	m := make(map[string]interface{}, len(l))
	for i, n := range names {
		m[n] = l[i]
	}
	return m
}

// keyedSchema is the schema of an object of a document in which keyLists
// keyed lists: the keyed lists are objects whose members are the list's
// elements.
type keyedSchema struct {
	strategicpatch.LookupPatchMeta // the object's own schema
	lv                             *keyedLevel
}

// elementsSchema is the schema of a keyed list.
type elementsSchema struct{ l *keyedList }

func (s keyedSchema) LookupPatchMetadataForStruct(key string) (strategicpatch.LookupPatchMeta, strategicpatch.PatchMeta, error) {
	if l := s.lv.lists[key]; l != nil {
		return elementsSchema{l}, strategicpatch.PatchMeta{}, nil
	}
	sub, meta, err := s.LookupPatchMeta.LookupPatchMetadataForStruct(key)
	if err == nil {
		if child := s.lv.objects[key]; child != nil {
			sub = keyedSchema{sub, child}
		}
	}
	return sub, meta, err
}

func (s elementsSchema) LookupPatchMetadataForStruct(key string) (strategicpatch.LookupPatchMeta, strategicpatch.PatchMeta, error) {
	// The list's strategies, as diffLists's element diffs get them: merge
	// (diffed member by member), with retainKeys when the list has it.
	if child := s.l.elems[key]; child != nil {
		return keyedSchema{s.l.elem, child}, s.l.meta, nil
	}
	return s.l.elem, s.l.meta, nil
}

func (s elementsSchema) LookupPatchMetadataForSlice(key string) (strategicpatch.LookupPatchMeta, strategicpatch.PatchMeta, error) {
	return nil, strategicpatch.PatchMeta{}, errors.New("patch: strategic merge: a keyed list has no list members")
}

func (s elementsSchema) Name() string { return s.l.elem.Name() }

// unkeyPatch turns, in place, the object patches of the keyed lists in
// patch (the patch of an object whose keying lv recorded) into what
// diffLists makes: the patch list (changed elements with their merge key,
// added elements, in the modified order, then a delete directive for each
// removed element in the order of their keys) and, when that list is not
// empty or the order changed, $setElementOrder. A nested object or paired
// element without a patch of its own gets one when a keyed list inside it
// changed order only, as diffLists would have made.
func unkeyPatch(patch map[string]interface{}, lv *keyedLevel) {
	if lv == nil {
		return
	}
	for k, child := range lv.objects {
		p, ok := patch[k].(map[string]interface{})
		if !ok {
			p = map[string]interface{}{}
		}
		unkeyPatch(p, child)
		if len(p) > 0 {
			patch[k] = p
		}
	}
	for k, l := range lv.lists {
		members, _ := patch[k].(map[string]interface{})
		inOrig := make(map[string]int, len(l.origN))
		for i, n := range l.origN {
			inOrig[n] = i
		}
		var list []interface{}
		inMod := make(map[string]bool, len(l.modN))
		for i, n := range l.modN {
			inMod[n] = true
			p, ok := members[n]
			if _, paired := inOrig[n]; !paired {
				if ok {
					list = append(list, p) // added: the element itself
				}
				continue
			}
			pm, _ := p.(map[string]interface{}) // strategicpatch's own member patch
			if pm == nil {
				if l.elems[n] == nil {
					continue // unchanged
				}
				pm = map[string]interface{}{}
			}
			unkeyPatch(pm, l.elems[n])
			if len(pm) == 0 {
				continue
			}
			pm[l.key] = l.mod[i].(map[string]interface{})[l.key]
			list = append(list, pm)
		}
		var removed []string
		for _, n := range l.origN {
			if !inMod[n] {
				removed = append(removed, n)
			}
		}
		sort.Strings(removed)
		for _, n := range removed {
			v := l.orig[inOrig[n]].(map[string]interface{})[l.key]
			list = append(list, map[string]interface{}{l.key: v, "$patch": "delete"})
		}
		delete(patch, k)
		if len(list) > 0 {
			patch[k] = list
		}
		if len(list) > 0 || !sameOrder(l) {
			order := make([]interface{}, len(l.mod))
			for i, e := range l.mod {
				order[i] = map[string]interface{}{l.key: e.(map[string]interface{})[l.key]}
			}
			patch["$setElementOrder/"+k] = order
		}
	}
}

// sameOrder is diffLists's isOrderSame: the same merge key values, equal
// as values, at every index.
func sameOrder(l *keyedList) bool {
	if len(l.orig) != len(l.mod) {
		return false
	}
	for i := range l.orig {
		if l.orig[i].(map[string]interface{})[l.key] != l.mod[i].(map[string]interface{})[l.key] {
			return false
		}
	}
	return true
}
