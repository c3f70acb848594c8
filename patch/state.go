package patch

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// state is the spec and metadata as the recorded edits leave them. It shares
// memory with the spec and metadata it started from and copies on write: a
// container is copied before its first change (with its slices capped, so
// that appends reallocate), and lists are rebuilt, never edited in place.
type state struct {
	spec corev1.PodSpec // shallow copy; container lists live in lists
	// lists[0] is initContainers, lists[1] containers, loaded on first use.
	lists  [2][]elem
	loaded [2]bool

	meta        metav1.ObjectMeta // shallow copy
	metaPresent bool              // the document has a metadata object
	metaKnown   bool              // false when the metadata was not given (Diff)
	affOwned    bool              // spec.Affinity is a copy the state may modify

	// mount and mountJSON are the last volume mount added and its encoding.
	mount     corev1.VolumeMount
	mountJSON []byte
}

type elem struct {
	c     *corev1.Container
	owned bool
}

func (s *state) reset(meta *metav1.ObjectMeta, spec *corev1.PodSpec) {
	*s = state{}
	if spec != nil {
		s.spec = *spec
	}
	if meta != nil {
		s.meta = *meta
		s.metaPresent = true
	}
}

// list returns the elements of list i, loading them on first use.
func (s *state) list(i int) []elem {
	if !s.loaded[i] {
		src := s.spec.InitContainers
		if i == 1 {
			src = s.spec.Containers
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

// find returns the index of the container named name in list i, or -1.
func (s *state) find(i int, name string) int {
	for j, e := range s.list(i) {
		if e.c.Name == name {
			return j
		}
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
	for j := range s.spec.EphemeralContainers {
		if s.spec.EphemeralContainers[j].Name == name {
			return field.NewPath("spec", "ephemeralContainers").Index(j)
		}
	}
	return nil
}

// own returns a container of list i that the state may modify, copying it on
// first use. Its slices are capped at their length so that appending to them
// never writes into memory the state does not own.
func (s *state) own(i, j int) *corev1.Container {
	l := s.list(i)
	if !l[j].owned {
		c := *l[j].c
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
}

// containers materializes list i as a slice of containers. Unchanged lists
// are returned as they are.
func (s *state) containers(i int) []corev1.Container {
	src := s.spec.InitContainers
	if i == 1 {
		src = s.spec.Containers
	}
	if !s.loaded[i] {
		return src
	}
	l := s.lists[i]
	if l == nil && src == nil {
		return nil
	}
	out := make([]corev1.Container, len(l))
	for j, e := range l {
		out[j] = *e.c
	}
	return out
}

// podSpec materializes the current spec. The result shares memory with the
// state and the original spec; callers that keep it must deep-copy it.
func (s *state) podSpec() corev1.PodSpec {
	spec := s.spec
	spec.InitContainers = s.containers(0)
	spec.Containers = s.containers(1)
	return spec
}

// containerPath is the relative pointer of container j of list l.
func containerPath(l List, j int) string {
	return "/" + string(l) + "/" + strconv.Itoa(j) // list names need no escaping
}

// guard emits a "test" that container j of list l is named name.
func guard(out *[]relOp, l List, j int, name string) {
	if out != nil {
		// The path is built when a guarded patch is rendered (relPath).
		emit(out, relOp{guard: true, op: OpTest, guardList: l, guardIndex: j, guardName: name})
	}
}

// quote encodes s as a JSON string, as encoding/json does.
func quote(s string) []byte {
	return appendString(make([]byte, 0, len(s)+2), s)
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
