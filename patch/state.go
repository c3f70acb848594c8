package patch

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sidecarkit/sidecarkit/internal/podview"
)

// state is the spec and metadata as the recorded edits leave them. It shares
// memory with the spec and metadata it started from and copies on write: a
// container is copied before its first change (with its slices capped, so
// that appends reallocate), except that the volume mounts and env
// variables added to it are kept beside it until then (see elem), and
// lists the state did not allocate are copied before they change. The element lists in lists are the state's
// own (see list), so containers are inserted, removed and moved in place.
type state struct {
	// base is the spec as given, never modified (never nil once reset):
	// the container lists live in lists, the volumes in volumes, the
	// affinity in affinity; every other field is base's.
	base *corev1.PodSpec
	// spec.volumes as the edits leave them are volumes (base's, or a
	// list a removal made) followed by added, the volumes appended
	// since, which the state owns: an added volume copies no list.
	volumes, added []corev1.Volume
	affinity       *corev1.Affinity // spec.affinity as the edits leave it
	// lists[0] is initContainers, lists[1] containers, loaded on first use.
	lists  [2][]elem
	loaded [2]bool
	// byName[i] indexes the names of list i (2: spec.ephemeralContainers),
	// built by find on the first lookup in a list longer than scanMax and
	// dropped when the list is replaced or a name changes: a mutation
	// looks up one container per edit, and a scan per edit would make an
	// injection into a Pod of n containers cost n².
	byName [3]map[string]int
	// volByName indexes spec.volumes (volumes, then added) in the same
	// way.
	volByName map[string]int

	meta *metav1.ObjectMeta // as given, never modified (see metaResult); nil when absent
	// metaEdits are the label and annotation edits made, in order, kept
	// aside instead of made on copies of meta's maps (see metaResult).
	metaEdits   []metaEdit
	metaPresent bool // the document has a metadata object
	metaKnown   bool // false when the metadata was not given (Diff)
	affOwned    bool // affinity is a copy the state may modify

	// encoded holds the last maxEncoded volume mounts and env variables
	// added, with their encodings (see encodeItem); once it is full, next
	// is the slot to fill next.
	encoded []encodedItem
	next    int

	// known are encodings prepared once for many Mutations (see
	// internal/encoded), shared and never changed; nil when none.
	known    *preparedItems
	knownAnn *preparedAnnotation
}

// maxEncoded is the number of added items whose encodings a Mutation
// keeps for reuse.
const maxEncoded = 4

// encodedItem is a volume mount or env variable and its JSON encoding.
type encodedItem struct {
	kind  itemKind
	mount corev1.VolumeMount
	env   corev1.EnvVar
	json  []byte
}

// elem is a container of a list as the edits leave it: c, with mounts
// after c.VolumeMounts and env after c.Env. An injection adds a mount or
// a variable to every application container; while c is not the state's
// own (owned), the additions are kept aside instead of in a copy of c and
// its lists, and own folds them into its copy.
type elem struct {
	c      *corev1.Container
	owned  bool
	mounts []corev1.VolumeMount
	env    []corev1.EnvVar
}

// container returns the container e stands for, sharing memory with it.
func (e *elem) container() corev1.Container {
	c := *e.c
	if len(e.mounts) > 0 {
		c.VolumeMounts = concat(c.VolumeMounts, e.mounts)
	}
	if len(e.env) > 0 {
		c.Env = concat(c.Env, e.env)
	}
	return c
}

// concat returns a followed by b in a new list of their length.
func concat[T any](a, b []T) []T {
	return append(append(make([]T, 0, len(a)+len(b)), a...), b...)
}

func (s *state) reset(meta *metav1.ObjectMeta, spec *corev1.PodSpec) {
	*s = state{}
	if spec == nil {
		spec = &corev1.PodSpec{}
	}
	s.base, s.volumes, s.affinity = spec, spec.Volumes, spec.Affinity
	s.meta, s.metaPresent = meta, meta != nil
}

// list returns the elements of list i, loading them on first use.
func (s *state) list(i int) []elem {
	if !s.loaded[i] {
		src := s.base.InitContainers
		if i == 1 {
			src = s.base.Containers
		}
		l := make([]elem, len(src))
		for j := range src {
			l[j] = elem{c: &src[j]}
		}
		s.lists[i] = l
		s.loaded[i] = true
	}
	return s.lists[i]
}

// scanMax is the longest list that find and findVolume scan instead of
// indexing: a scan of a Pod's few containers costs less than building a
// map, and at most scanMax comparisons per lookup keep the cost linear.
const scanMax = 32

// find returns the index of the first container named name in list i
// (2: spec.ephemeralContainers), or -1.
func (s *state) find(i int, name string) int {
	var n int
	var nameAt func(j int) string
	if i == 2 {
		l := s.base.EphemeralContainers
		n, nameAt = len(l), func(j int) string { return l[j].Name }
	} else {
		l := s.list(i)
		n, nameAt = len(l), func(j int) string { return l[j].c.Name }
	}
	return lookupName(&s.byName[i], n, nameAt, name)
}

// findVolume returns the index of the first volume named name, or -1.
func (s *state) findVolume(name string) int {
	v, a := s.volumes, s.added
	return lookupName(&s.volByName, len(v)+len(a), func(j int) string {
		if j < len(v) {
			return v[j].Name
		}
		return a[j-len(v)].Name
	}, name)
}

// lookupName returns the index of the first of the n names (nameAt(j) is
// the j-th) that equals name, or -1. Lists longer than scanMax are indexed
// in *index on the first lookup; the index stays valid until the caller
// drops it.
func lookupName(index *map[string]int, n int, nameAt func(j int) string, name string) int {
	if n <= scanMax {
		for j := 0; j < n; j++ {
			if nameAt(j) == name {
				return j
			}
		}
		return -1
	}
	if *index == nil {
		m := make(map[string]int, n)
		for j := n - 1; j >= 0; j-- { // the first of duplicate names wins
			m[nameAt(j)] = j
		}
		*index = m
	}
	if j, ok := (*index)[name]; ok {
		return j
	}
	return -1
}

// nameUser returns the field path of the container of any list (ephemeral
// containers included) that uses name, or nil.
func (s *state) nameUser(name string) *field.Path {
	for i, l := range []List{InitContainers, Containers} {
		if j := s.find(i, name); j >= 0 {
			return listPath(l).Index(j)
		}
	}
	if j := s.find(2, name); j >= 0 {
		return field.NewPath("spec", "ephemeralContainers").Index(j)
	}
	return nil
}

// own returns a container of list i that the state may modify, copying it on
// first use, with the items kept beside it folded in. Its slices are capped
// at their length so that appending to them never writes into memory the
// state does not own.
func (s *state) own(i, j int) *corev1.Container {
	l := s.list(i)
	if !l[j].owned {
		c := l[j].container()
		c.Env = c.Env[:len(c.Env):len(c.Env)]
		c.EnvFrom = c.EnvFrom[:len(c.EnvFrom):len(c.EnvFrom)]
		c.VolumeMounts = c.VolumeMounts[:len(c.VolumeMounts):len(c.VolumeMounts)]
		l[j] = elem{c: &c, owned: true}
	}
	return l[j].c
}

// setList replaces list i.
func (s *state) setList(i int, l []elem) {
	s.lists[i] = l
	s.loaded[i] = true
	s.byName[i] = nil
}

// setVolumes replaces spec.volumes with vols.
func (s *state) setVolumes(vols []corev1.Volume) {
	s.volumes, s.added = vols, nil
	s.volByName = nil
}

// allVolumes returns spec.volumes as the edits leave them, as one list:
// capped, so that appending to it never writes into the state's memory.
func (s *state) allVolumes() []corev1.Volume {
	if len(s.added) == 0 {
		return s.volumes[:len(s.volumes):len(s.volumes)]
	}
	out := make([]corev1.Volume, 0, len(s.volumes)+len(s.added))
	return append(append(out, s.volumes...), s.added...)
}

// containers materializes list i as a slice of containers. Unchanged lists
// are returned as they are, and so is a nil list that is still empty
// (loading a list for a lookup makes an empty, non-nil one).
func (s *state) containers(i int) []corev1.Container {
	src := s.base.InitContainers
	if i == 1 {
		src = s.base.Containers
	}
	if !s.loaded[i] {
		return src
	}
	l := s.lists[i]
	if len(l) == 0 && src == nil {
		return nil
	}
	out := make([]corev1.Container, len(l))
	for j := range l {
		out[j] = l[j].container()
	}
	return out
}

func init() {
	podview.OfMutation = func(x interface{}) podview.View {
		if m, ok := x.(*Mutation); ok && m != nil {
			return m.s.view()
		}
		return podview.View{}
	}
}

// view returns the current spec as a podview.View: the containers by
// pointer, without copying them, with the mounts kept aside.
func (s *state) view() podview.View {
	v := podview.View{Ephemeral: s.base.EphemeralContainers, Volumes: s.volumes, AddedVolumes: s.added}
	lists := [2]*[]*corev1.Container{&v.InitContainers, &v.Containers}
	mounts := [2]*[][]corev1.VolumeMount{&v.InitMounts, &v.ContainerMounts}
	// One array for both lists' pointers, capped so that neither list
	// reaches into the other; the mounts kept aside likewise.
	n0 := len(s.list(0))
	all := make([]*corev1.Container, n0+len(s.list(1)))
	var allMounts [][]corev1.VolumeMount
	for i := range lists {
		l := s.list(i)
		off := 0
		if i == 1 {
			off = n0
		}
		out := all[off : off+len(l) : off+len(l)]
		for j := range l {
			if len(l[j].env) > 0 {
				s.own(i, j) // a View has no env kept aside: validation reads no env
			}
			out[j] = l[j].c
			if len(l[j].mounts) > 0 {
				if allMounts == nil {
					allMounts = make([][]corev1.VolumeMount, len(all))
				}
				if *mounts[i] == nil {
					*mounts[i] = allMounts[off : off+len(l) : off+len(l)]
				}
				(*mounts[i])[j] = l[j].mounts
			}
		}
		*lists[i] = out
	}
	return v
}

// podSpec materializes the current spec. The result shares memory with the
// state and the original spec; callers that keep it must deep-copy it.
func (s *state) podSpec() corev1.PodSpec {
	spec := *s.base
	spec.InitContainers = s.containers(0)
	spec.Containers = s.containers(1)
	spec.Volumes = s.allVolumes()
	spec.Affinity = s.affinity
	return spec
}

// containerPath is the relative pointer of container j of list l.
func containerPath(l List, j int) string { return itemPath(l, j, "", "") }

// guarded returns r guarded by a "test" that element j of list l (a
// container list, or "volumes") is named name; see relOp.
func guarded(r relOp, l List, j int, name string) relOp {
	r.guarded, r.guardList, r.guardIndex, r.guardName = true, l, j, name
	return r
}

// quote encodes s as a JSON string, as encoding/json does, in a buffer
// sized for its quotes and backslashes (an annotation holding JSON, such
// as an injection record, has many).
func quote(s string) []byte {
	n := len(s) + 2 + strings.Count(s, `"`) + strings.Count(s, `\`)
	return appendString(make([]byte, 0, n), s)
}

// lookup resolves a container by list and name.
func (s *state) lookup(l List, name string) (int, int, error) {
	i, err := l.index()
	if err != nil {
		return 0, 0, err
	}
	j := s.find(i, name)
	if j < 0 {
		return 0, 0, field.NotFound(listPath(l), name)
	}
	return i, j, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
