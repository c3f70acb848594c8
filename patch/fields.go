package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SetContainerField sets the top-level field named by its JSON name (for
// example "restartPolicy" or "image") of the container named name in list l
// to value, which must encode to JSON that decodes into the field. It
// renders as an RFC 6902 "add", which creates or replaces the member. Setting
// a field to the value it has records nothing.
func (m *Mutation) SetContainerField(l List, name, jsonName string, value interface{}) error {
	v, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("patch: encode %s.%s: %w", name, jsonName, err)
	}
	return m.do(&setField{list: l, name: name, field: jsonName, value: v})
}

// ClearContainerField removes the top-level field named by its JSON name from
// the container named name in list l. A field that is already unset (its
// typed value is the zero value) records nothing, so the patch never removes
// a path that may not exist.
func (m *Mutation) ClearContainerField(l List, name, jsonName string) error {
	return m.do(&setField{list: l, name: name, field: jsonName})
}

type setField struct {
	list  List
	name  string
	field string
	value json.RawMessage // nil clears
}

func (e *setField) run(s *state, out *[]relOp) error {
	li, j, err := s.lookup(e.list, e.name)
	if err != nil {
		return fmt.Errorf("patch: set field: %w", err)
	}
	fp := listPath(e.list).Index(j).Child(e.field)
	idx, ok := containerField(e.field)
	if !ok {
		return fmt.Errorf("patch: %w", field.NotSupported(fp, e.field, containerFieldNames()))
	}
	c := s.list(li)[j].c
	if el := &s.list(li)[j]; len(el.mounts)+len(el.env) > 0 {
		c = s.own(li, j) // folds in the items kept aside (see elem)
	}
	cur := reflect.ValueOf(c).Elem().Field(idx)
	if e.value == nil {
		if cur.IsZero() {
			return nil
		}
	} else {
		nv := reflect.New(cur.Type())
		if err := json.Unmarshal(e.value, nv.Interface()); err != nil {
			return fmt.Errorf("patch: %w", field.Invalid(fp, string(e.value), err.Error()))
		}
		if reflect.DeepEqual(nv.Elem().Interface(), cur.Interface()) {
			return nil
		}
	}
	c = s.own(li, j)
	if e.field == "name" {
		s.byName[li] = nil // the index no longer holds
	}
	f := reflect.ValueOf(c).Elem().Field(idx)
	path := containerPath(e.list, j) + ptr(e.field)
	if e.value == nil {
		emit(out, guarded(relOp{op: opRemove, path: path}, e.list, j, e.name))
		f.Set(reflect.Zero(f.Type()))
		return nil
	}
	emit(out, guarded(relOp{op: opAdd, path: path, value: e.value}, e.list, j, e.name))
	nv := reflect.New(f.Type())
	_ = json.Unmarshal(e.value, nv.Interface()) // decoded above
	f.Set(nv.Elem())
	return nil
}

// containerField returns the index in corev1.Container of the field with the
// given JSON name.
func containerField(jsonName string) (int, bool) {
	t := reflect.TypeOf(corev1.Container{})
	for i := 0; i < t.NumField(); i++ {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); n == jsonName && n != "" && n != "-" {
			return i, true
		}
	}
	return 0, false
}

func containerFieldNames() []string {
	t := reflect.TypeOf(corev1.Container{})
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); n != "" && n != "-" {
			names = append(names, n)
		}
	}
	return names
}

// AddVolume appends v to spec.volumes. The name must be unused.
func (m *Mutation) AddVolume(v corev1.Volume) error {
	return m.do(&addVolume{v: &v})
}

// EncodedVolume is a volume together with its JSON encoding, made once by
// [EncodeVolume] and added to many mutations with
// [Mutation.AddEncodedVolume]: an injector that adds the same volume to
// every Pod encodes it once. It is immutable and safe for concurrent use.
// The zero value is not usable.
type EncodedVolume struct {
	v    corev1.Volume
	json []byte
}

// EncodeVolume encodes a deep copy of v with encoding/json, as AddVolume
// would.
func EncodeVolume(v corev1.Volume) (*EncodedVolume, error) {
	e := &EncodedVolume{v: *v.DeepCopy()}
	var err error
	if e.json, err = marshal("volume "+v.Name, &e.v); err != nil {
		return nil, err
	}
	return e, nil
}

// AddEncodedVolume is AddVolume with a volume encoded beforehand. The
// mutation records exactly what AddVolume(v) records for the volume v was
// encoded from.
func (m *Mutation) AddEncodedVolume(v *EncodedVolume) error {
	if v == nil || v.json == nil {
		return fmt.Errorf("patch: add volume: nil or zero EncodedVolume")
	}
	return m.do(&addVolume{v: &v.v, enc: v.json})
}

// RemoveVolume removes the volume named name from spec.volumes.
func (m *Mutation) RemoveVolume(name string) error {
	return m.do(&removeVolume{name: name})
}

type addVolume struct {
	v   *corev1.Volume // never modified; an EncodedVolume's is shared
	enc []byte         // the encoding of v, when known
}

func (e *addVolume) run(s *state, out *[]relOp) error {
	n := len(s.volumes) + len(s.added)
	fp := func() *field.Path { return field.NewPath("spec", "volumes").Index(n).Child("name") }
	if e.v.Name == "" {
		return fmt.Errorf("patch: add volume: %w", field.Required(fp(), "a volume needs a name"))
	}
	if i := s.findVolume(e.v.Name); i >= 0 {
		return fmt.Errorf("patch: add volume: %w", duplicate(fp(), e.v.Name, fmt.Sprintf("already used by spec.volumes[%d]", i)))
	}
	if out != nil {
		v := e.enc
		if v == nil {
			var err error
			if v, err = marshal("volume "+e.v.Name, e.v); err != nil {
				return err
			}
		}
		appendOp(out, "/volumes", n, v, e.enc != nil)
	}
	s.added = append(s.added, *e.v)
	if s.volByName != nil {
		s.volByName[e.v.Name] = n // the other volumes keep their indices
	}
	return nil
}

type removeVolume struct{ name string }

func (e *removeVolume) run(s *state, out *[]relOp) error {
	i := s.findVolume(e.name)
	if i < 0 {
		return fmt.Errorf("patch: remove volume: %w", field.NotFound(field.NewPath("spec", "volumes"), e.name))
	}
	emit(out, guarded(relOp{op: opRemove, path: ptr("volumes", itoa(i))}, "volumes", i, e.name))
	vols := s.allVolumes()
	nv := make([]corev1.Volume, 0, len(vols)-1)
	s.setVolumes(append(append(nv, vols[:i]...), vols[i+1:]...))
	return nil
}

// appendOp emits the operation that appends v to the list at path, which has
// n elements: the whole list when it is empty (it may be absent or null),
// "path/-" otherwise. shared: v is shared with other mutations (a wrapped
// value never is: Ops get their own array).
func appendOp(out *[]relOp, path string, n int, v []byte, shared bool) {
	if n == 0 {
		emit(out, relOp{op: opAdd, path: path, value: v, wrap: true})
		return
	}
	emit(out, relOp{op: opAdd, path: path + "/-", value: v, shared: shared})
}

// AddVolumeMount appends vm to the volumeMounts of the container named
// container in list l. Its mountPath must be unused in that container.
func (m *Mutation) AddVolumeMount(l List, container string, vm corev1.VolumeMount) error {
	return m.do(&containerItem{list: l, name: container, kind: itemMount, mount: vm})
}

// RemoveVolumeMount removes the volume mount at mountPath from the container
// named container in list l.
func (m *Mutation) RemoveVolumeMount(l List, container, mountPath string) error {
	return m.do(&containerItem{list: l, name: container, kind: itemMount, remove: true, mount: corev1.VolumeMount{MountPath: mountPath}})
}

// AddEnv appends an environment variable to the container named container
// in list l. Its name must be unused in that container's env.
func (m *Mutation) AddEnv(l List, container string, e corev1.EnvVar) error {
	return m.do(&containerItem{list: l, name: container, kind: itemEnv, env: e})
}

// RemoveEnv removes the environment variable named name from the container
// named container in list l.
func (m *Mutation) RemoveEnv(l List, container, name string) error {
	return m.do(&containerItem{list: l, name: container, kind: itemEnv, remove: true, env: corev1.EnvVar{Name: name}})
}

// AddEnvFrom appends an envFrom source to the container named container in
// list l. An equal source must not be there already.
func (m *Mutation) AddEnvFrom(l List, container string, src corev1.EnvFromSource) error {
	return m.do(&containerItem{list: l, name: container, kind: itemEnvFrom, envFrom: src})
}

// RemoveEnvFrom removes the envFrom source equal to src from the container
// named container in list l.
func (m *Mutation) RemoveEnvFrom(l List, container string, src corev1.EnvFromSource) error {
	return m.do(&containerItem{list: l, name: container, kind: itemEnvFrom, remove: true, envFrom: src})
}

type itemKind int

const (
	itemMount itemKind = iota
	itemEnv
	itemEnvFrom
)

// containerItem adds or removes one element of a container's volumeMounts,
// env or envFrom list.
type containerItem struct {
	list    List
	name    string
	kind    itemKind
	remove  bool
	mount   corev1.VolumeMount
	env     corev1.EnvVar
	envFrom corev1.EnvFromSource
}

func (e *containerItem) run(s *state, out *[]relOp) error {
	li, j, err := s.lookup(e.list, e.name)
	if err != nil {
		return fmt.Errorf("patch: %s: %w", e.verb(), err)
	}
	el := &s.list(li)[j]
	n, at := e.find(el)
	jsonName, key := e.names()
	fp := func() *field.Path { return listPath(e.list).Index(j).Child(jsonName) }
	if e.remove {
		if at < 0 {
			return fmt.Errorf("patch: %s: %w", e.verb(), field.NotFound(fp(), key))
		}
		emit(out, guarded(relOp{op: opRemove, path: itemPath(e.list, j, jsonName, "/"+itoa(at))}, e.list, j, e.name))
		c := s.own(li, j)
		switch e.kind {
		case itemMount:
			c.VolumeMounts = append(append(make([]corev1.VolumeMount, 0, n-1), c.VolumeMounts[:at]...), c.VolumeMounts[at+1:]...)
		case itemEnv:
			c.Env = append(append(make([]corev1.EnvVar, 0, n-1), c.Env[:at]...), c.Env[at+1:]...)
		case itemEnvFrom:
			c.EnvFrom = append(append(make([]corev1.EnvFromSource, 0, n-1), c.EnvFrom[:at]...), c.EnvFrom[at+1:]...)
		}
		return nil
	}
	if at >= 0 {
		return fmt.Errorf("patch: %s: %w", e.verb(), field.Duplicate(fp().Index(at), key))
	}
	if out != nil {
		// An empty list may be absent or null: it is added whole.
		v, err := s.encodeItem(e, jsonName)
		if err != nil {
			return err
		}
		path := itemPath(e.list, j, jsonName, "/-")
		if n == 0 {
			path = path[:len(path)-2]
		}
		emit(out, guarded(relOp{op: opAdd, path: path, value: v, wrap: n == 0, shared: true}, e.list, j, e.name)) // shared: see encodeItem
	}
	switch {
	case !el.owned && e.kind == itemMount:
		el.mounts = append(el.mounts, e.mount) // kept aside: see elem
	case !el.owned && e.kind == itemEnv:
		el.env = append(el.env, e.env)
	default:
		c := s.own(li, j)
		switch e.kind {
		case itemMount:
			c.VolumeMounts = appendItem(c.VolumeMounts, e.mount)
		case itemEnv:
			c.Env = appendItem(c.Env, e.env)
		case itemEnvFrom:
			c.EnvFrom = appendItem(c.EnvFrom, e.envFrom)
		}
	}
	return nil
}

// appendItem appends v to l, growing a full list by a quarter (at least
// one element): an injection adds one mount or variable to each
// container, for which append's doubling would allocate the list twice
// over; growth by a constant factor keeps many appends linear.
func appendItem[T any](l []T, v T) []T {
	if len(l) < cap(l) {
		return append(l, v)
	}
	out := make([]T, len(l), len(l)+1+len(l)/4)
	copy(out, l)
	return append(out, v)
}

// itemPath is the relative pointer of member jsonName (a JSON name without
// '/' or '~'; "" for the element itself) of element j of list l (a list
// name without them), followed by suffix, built in one allocation.
func itemPath(l List, j int, jsonName, suffix string) string {
	var num [20]byte
	n := strconv.AppendInt(num[:0], int64(j), 10)
	var b strings.Builder
	b.Grow(len(l) + len(n) + len(jsonName) + len(suffix) + 3)
	b.WriteByte('/')
	b.WriteString(string(l))
	b.WriteByte('/')
	b.Write(n)
	if jsonName != "" {
		b.WriteByte('/')
		b.WriteString(jsonName)
	}
	b.WriteString(suffix)
	return b.String()
}

func (e *containerItem) verb() string {
	n, _ := e.names()
	if e.remove {
		return "remove from " + n
	}
	return "add to " + n
}

// names returns the JSON name of the list and the element's key for
// messages.
func (e *containerItem) names() (string, string) {
	switch e.kind {
	case itemMount:
		return "volumeMounts", e.mount.MountPath
	case itemEnv:
		return "env", e.env.Name
	}
	b, _ := json.Marshal(&e.envFrom)
	return "envFrom", string(b)
}

func (e *containerItem) value() interface{} {
	switch e.kind {
	case itemMount:
		return &e.mount
	case itemEnv:
		return &e.env
	}
	return &e.envFrom
}

// find returns the length of the container's list (with the items kept
// aside, see elem) and the index of the element matching the edit, or -1.
func (e *containerItem) find(el *elem) (int, int) {
	c := el.c
	switch e.kind {
	case itemMount:
		n := len(c.VolumeMounts) + len(el.mounts)
		for i := range c.VolumeMounts {
			if c.VolumeMounts[i].MountPath == e.mount.MountPath {
				return n, i
			}
		}
		for i := range el.mounts {
			if el.mounts[i].MountPath == e.mount.MountPath {
				return n, len(c.VolumeMounts) + i
			}
		}
		return n, -1
	case itemEnv:
		n := len(c.Env) + len(el.env)
		for i := range c.Env {
			if c.Env[i].Name == e.env.Name {
				return n, i
			}
		}
		for i := range el.env {
			if el.env[i].Name == e.env.Name {
				return n, len(c.Env) + i
			}
		}
		return n, -1
	}
	want, _ := json.Marshal(&e.envFrom)
	for i := range c.EnvFrom {
		if got, _ := json.Marshal(&c.EnvFrom[i]); bytes.Equal(got, want) {
			return len(c.EnvFrom), i
		}
	}
	return len(c.EnvFrom), -1
}

// encodeItem encodes the element an edit adds. The encodings of the last
// few volume mounts and env variables are kept and reused for an equal
// element: an injection adds the same few to every application container.
func (s *state) encodeItem(e *containerItem, jsonName string) ([]byte, error) {
	if e.kind == itemEnvFrom {
		return marshal(jsonName, e.value())
	}
	if s.known != nil {
		if v, ok := s.known.lookup(e); ok {
			return v, nil
		}
	}
	for k := range s.encoded {
		ck := &s.encoded[k]
		if ck.kind != e.kind {
			continue
		}
		if e.kind == itemMount && sameMount(&ck.mount, &e.mount) || e.kind == itemEnv && sameEnv(&ck.env, &e.env) {
			return ck.json, nil
		}
	}
	c, err := newEncodedItem(e, jsonName)
	if err != nil {
		return nil, err
	}
	if len(s.encoded) < maxEncoded {
		s.encoded = append(s.encoded, c)
	} else {
		s.encoded[s.next] = c
		s.next = (s.next + 1) % maxEncoded
	}
	return c.json, nil
}

// newEncodedItem encodes the volume mount or env variable e adds, with a
// deep copy of it: the edit's pointers reach into the caller's memory.
func newEncodedItem(e *containerItem, jsonName string) (encodedItem, error) {
	v, err := marshal(jsonName, e.value())
	if err != nil {
		return encodedItem{}, err
	}
	c := encodedItem{kind: e.kind, json: v}
	if e.kind == itemMount {
		e.mount.DeepCopyInto(&c.mount)
	} else {
		e.env.DeepCopyInto(&c.env)
	}
	return c, nil
}

// sameMount and sameEnv report whether two volume mounts or env variables
// are equal: the fields every supported k8s.io/api version has are
// compared directly; a field a later version added (mountExtra, envExtra)
// is compared only when it is set on either side, and then the whole
// values by DeepEqual (pointers: no boxed copies). Not ==: the API types
// may gain fields that make them incomparable (k8s.io/api v0.37 has).
func sameMount(a, b *corev1.VolumeMount) bool {
	if a.MountPath != b.MountPath || a.Name != b.Name || a.ReadOnly != b.ReadOnly || a.SubPath != b.SubPath ||
		a.SubPathExpr != b.SubPathExpr || (a.MountPropagation == nil) != (b.MountPropagation == nil) ||
		a.MountPropagation != nil && *a.MountPropagation != *b.MountPropagation {
		return false
	}
	return extrasZero(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), mountExtra) || reflect.DeepEqual(a, b)
}

func sameEnv(a, b *corev1.EnvVar) bool {
	if a.Name != b.Name || a.Value != b.Value {
		return false
	}
	if a.ValueFrom != nil || b.ValueFrom != nil {
		return reflect.DeepEqual(a, b)
	}
	return extrasZero(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), envExtra) || reflect.DeepEqual(a, b)
}

// mountExtra and envExtra are the indices of the fields of VolumeMount and
// EnvVar that sameMount and sameEnv do not name: none with k8s.io/api
// v0.28; RecursiveReadOnly and BindMountOptions of VolumeMount with later
// versions.
var (
	mountExtra = extraFields(reflect.TypeOf(corev1.VolumeMount{}), "Name", "ReadOnly", "MountPath", "SubPath", "MountPropagation", "SubPathExpr")
	envExtra   = extraFields(reflect.TypeOf(corev1.EnvVar{}), "Name", "Value", "ValueFrom")
)

// extraFields returns the indices of the fields of struct type t not named
// in known.
func extraFields(t reflect.Type, known ...string) []int {
	var out []int
fields:
	for i := 0; i < t.NumField(); i++ {
		for _, k := range known {
			if t.Field(i).Name == k {
				continue fields
			}
		}
		out = append(out, i)
	}
	return out
}

// extrasZero reports whether the fields at indices are zero in both a and
// b.
func extrasZero(a, b reflect.Value, indices []int) bool {
	for _, i := range indices {
		if !a.Field(i).IsZero() || !b.Field(i).IsZero() {
			return false
		}
	}
	return true
}
