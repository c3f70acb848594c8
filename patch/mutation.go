package patch

import (
	"bytes"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sidecarkit/sidecarkit/internal/jsonptr"
	"github.com/sidecarkit/sidecarkit/internal/jsonstr"
)

// List names one of the container lists of a PodSpec that a Mutation can
// edit.
type List string

// The editable container lists.
const (
	InitContainers List = "initContainers"
	Containers     List = "containers"
)

func (l List) index() (int, error) {
	switch l {
	case InitContainers:
		return 0, nil
	case Containers:
		return 1, nil
	}
	return 0, fmt.Errorf("unknown container list %q (want %q or %q)", string(l), InitContainers, Containers)
}

// Mutation is an ordered list of edits to one PodSpec and its pod metadata.
// It is computed from the typed PodSpec, whose list lengths and indices equal
// those of the raw document it was decoded from, and is rendered as an
// RFC 6902 JSON patch ([Mutation.JSONPatch]), a strategic merge patch
// ([Mutation.StrategicMerge]) or applied in memory ([Mutation.Apply]).
//
// Each edit method validates the edit against the spec as the earlier edits
// left it, and returns an error (a *[field.Error] where a field is at fault)
// without recording anything when the edit cannot be made. Edits that would
// change nothing (an annotation that already has the value, removing a key
// that is absent) record nothing.
//
// A Mutation renders for the document it was made for: the object's root
// for [Object.Mutation] (a workload's pod template, say), the Pod's for
// [New] and [Diff]; pass a [Root] to render for another.
//
// A Mutation never modifies the PodSpec or ObjectMeta it was created from;
// they must not be modified while the Mutation is in use. The zero value is
// not usable: create one with [New] or [Diff].
type Mutation struct {
	root     Root               // where the pod spec is; "" is PodRoot
	baseSpec *corev1.PodSpec    // as given; never modified
	baseMeta *metav1.ObjectMeta // as given; never modified; nil when absent
	s        state
	edits    []edit
	ops      []relOp
}

// relOp is an operation relative to the PodSpec (or, when meta is set, to
// the pod metadata). path and from are escaped JSON Pointers relative to
// that root ("" is the root itself).
type relOp struct {
	meta bool
	// guarded: in a guarded patch the op is preceded by an RFC 6902
	// "test" that the name of element guardIndex of the list guardList
	// (a container list, or "volumes") is guardName. Its path and value
	// are built only when a guarded patch is rendered (guardPath), and a
	// guard is no op of its own: an injection records one op per edit.
	guarded bool
	// shared marks a value that other ops or mutations share (an
	// EncodedContainer's encoding, an item encoding reused): Ops get a
	// copy, as they do of every wrapped value.
	shared bool
	// wrap: the op's value is a one-element JSON array of value, written
	// as such when the op is rendered (an element added to an empty list
	// adds the whole list), so that no array is built per edit.
	wrap       bool
	op         string
	path       string
	from       string
	value      json.RawMessage
	guardList  List
	guardIndex int
	guardName  string
}

// guardPath is the path of the "test" that precedes a guarded r, relative
// to its base.
func (r *relOp) guardPath() string {
	return containerPath(r.guardList, r.guardIndex) + "/name"
}

// edit is one recorded edit. run validates it against s, appends the
// operations that make it to out (when out is not nil) and applies it to s.
// It changes nothing when it returns an error.
type edit interface {
	run(s *state, out *[]relOp) error
}

// New returns an empty Mutation of spec and its pod metadata meta. Pass a nil
// meta when the document has no metadata object at that place (for example a
// CronJob's pod template without "metadata"): metadata edits then add it.
// [Decode] tells which applies to a raw document.
func New(meta *metav1.ObjectMeta, spec *corev1.PodSpec) *Mutation {
	if spec == nil {
		spec = &corev1.PodSpec{}
	}
	m := &Mutation{baseSpec: spec, baseMeta: meta}
	m.s.reset(meta, spec)
	m.s.metaKnown = true
	return m
}

// NumOps returns the number of operations JSONPatch renders (without the
// tests its options add).
func (m *Mutation) NumOps() int { return len(m.ops) }

// Empty reports whether the mutation changes nothing.
func (m *Mutation) Empty() bool { return len(m.ops) == 0 }

func (m *Mutation) do(e edit) error {
	n := len(m.ops)
	if err := e.run(&m.s, &m.ops); err != nil {
		m.ops = m.ops[:n]
		return err
	}
	if len(m.ops) > n {
		if len(m.edits) == cap(m.edits) {
			// From 4, as the ops (see emit): append's growth from one
			// element would allocate the list four times for an
			// injection's few edits.
			m.edits = append(make([]edit, 0, 2*len(m.edits)+4), m.edits...)
		}
		m.edits = append(m.edits, e)
	}
	return nil
}

// JSONPatch renders the mutation as RFC 6902 operations for a document whose
// PodSpec is at root, changed by opts ([Guarded], [ResourceVersion]). An
// empty mutation gives an empty, non-nil Ops (or only the
// ResourceVersion test).
func (m *Mutation) JSONPatch(opts ...RenderOption) (Ops, error) {
	return m.render(m.renderConfigOf(opts))
}

// MarshalJSONPatch returns the encoding of m.JSONPatch(root, opts...), byte
// for byte what [Ops.MarshalJSON] writes for it, in one pass: a webhook that
// only needs the patch bytes skips the intermediate Ops and the
// re-validation of values the mutation encoded itself.
func (m *Mutation) MarshalJSONPatch(opts ...RenderOption) ([]byte, error) {
	return m.appendJSONPatch(nil, m.renderConfigOf(opts))
}

func (m *Mutation) appendJSONPatch(b []byte, c renderConfig) ([]byte, error) {
	return appendOps(b, m.ops, c)
}

// appendOps appends the JSON patch of ops, rendered by c, to b.
func appendOps(b []byte, ops []relOp, c renderConfig) ([]byte, error) {
	root, guards := c.root, c.guards
	metaRoot, hasMeta := root.Metadata()
	n := 2 + len(c.rv) + 60
	for i := range ops {
		r := &ops[i]
		n += len(r.op) + len(root) + len(r.path) + len(r.from) + len(r.value) + 42
		if r.from != "" {
			n += len(root)
		}
		if guards && r.guarded {
			n += 2*len(root) + len(r.guardList) + len(r.guardName) + 60
		}
	}
	if cap(b)-len(b) < n {
		b = append(make([]byte, 0, len(b)+n), b...)
	}
	b = append(b, '[')
	if c.hasRV {
		b = append(b, `{"op":"test","path":"/metadata/resourceVersion","value":`...)
		b = appendString(b, c.rv)
		b = append(b, '}')
	}
	for i := range ops {
		r := &ops[i]
		base, err := r.base(root, metaRoot, hasMeta)
		if err != nil {
			return nil, err
		}
		if i > 0 || c.hasRV {
			b = append(b, ',')
		}
		if guards && r.guarded {
			b = append(b, `{"op":"test","path":`...)
			b = appendPath(b, base, r.guardPath())
			b = append(b, `,"value":`...)
			b = appendString(b, r.guardName)
			b = append(b, "},"...)
		}
		b = append(b, `{"op":`...)
		b = appendString(b, r.op)
		if r.from != "" || r.op == opMove || r.op == opCopy {
			b = append(b, `,"from":`...)
			if r.from != "" {
				b = appendPath(b, base, r.from)
			} else {
				b = append(b, `""`...)
			}
		}
		b = append(b, `,"path":`...)
		b = appendPath(b, base, r.path)
		if r.op == opAdd || r.op == opReplace || r.op == opTest {
			if len(r.value) == 0 {
				return nil, fmt.Errorf("patch: op %s %s: missing value", r.op, base+r.path)
			}
			// Values are encoded by encoding/json in this package: valid
			// and compact.
			b = append(b, `,"value":`...)
			b = r.appendValue(b)
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendPath appends the JSON string of the pointer base+rel without
// concatenating them first: one string less per op.
func appendPath(b []byte, base, rel string) []byte {
	if !jsonstr.Plain(base) || !jsonstr.Plain(rel) {
		return appendString(b, base+rel)
	}
	b = append(b, '"')
	b = append(b, base...)
	b = append(b, rel...)
	return append(b, '"')
}

// base returns the pointer r's path is relative to: root, or for metadata
// ops the root's pod metadata (metaRoot, when hasMeta).
func (r *relOp) base(root Root, metaRoot string, hasMeta bool) (string, error) {
	if !r.meta {
		return string(root), nil
	}
	if !hasMeta {
		return "", fmt.Errorf("patch: root %q has no pod metadata for %s %s", string(root), r.op, r.path)
	}
	return metaRoot, nil
}

func (m *Mutation) render(c renderConfig) (Ops, error) {
	root, guards := c.root, c.guards
	n := len(m.ops)
	if c.hasRV {
		n++
	}
	if guards {
		for i := range m.ops {
			if m.ops[i].guarded {
				n++
			}
		}
	}
	ops := make(Ops, 0, n)
	if c.hasRV {
		ops = append(ops, Op{Op: opTest, Path: "/metadata/resourceVersion", Value: quote(c.rv)})
	}
	metaRoot, hasMeta := root.Metadata()
	for i := range m.ops {
		r := &m.ops[i]
		base, err := r.base(root, metaRoot, hasMeta)
		if err != nil {
			return nil, err
		}
		if guards && r.guarded {
			ops = append(ops, Op{Op: opTest, Path: base + r.guardPath(), Value: quote(r.guardName)})
		}
		op := Op{Op: r.op, Path: base + r.path, Value: r.value}
		if r.shared || r.wrap {
			op.Value = r.appendValue(make(json.RawMessage, 0, len(r.value)+2))
		}
		if r.from != "" {
			op.From = base + r.from
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// appendValue appends r's value to b: the value as encoded, or wrapped in
// a one-element array (see relOp.wrap).
func (r *relOp) appendValue(b []byte) []byte {
	if !r.wrap {
		return append(b, r.value...)
	}
	b = append(b, '[')
	b = append(b, r.value...)
	return append(b, ']')
}

// emit appends an operation to out when out is not nil.
func emit(out *[]relOp, r relOp) {
	if out == nil {
		return
	}
	if len(*out) == cap(*out) {
		// Doubling from 4 (a small Pod's injection): an injection into a
		// wide Pod records several ops per container, and append's slower
		// growth beyond 256 elements would copy the list about five
		// times over.
		n := 2 * cap(*out)
		if n < 4 {
			n = 4
		}
		next := make([]relOp, len(*out), n)
		copy(next, *out)
		*out = next
	}
	*out = append(*out, r)
}

// marshal encodes v for an operation value. Values are Kubernetes API types,
// which always encode; the error path is kept for totality.
func marshal(what string, v interface{}) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("patch: encode %s: %w", what, err)
	}
	if _, ok := v.(*corev1.Container); ok {
		b = dropEmptyResources(b)
	}
	return b, nil
}

// emptyResources is the member encoding/json writes for a container's
// ResourceRequirements when it is empty (the field has no omitempty).
const emptyResources = `,"resources":{}`

// dropEmptyResources removes the empty resources member from the JSON of
// containers: it means what its absence means, and a patch is easier to
// read without it. The sequence cannot occur inside a JSON string (its
// quotes would be escaped), and in the Kubernetes types an empty
// "resources" object means no requirements wherever it appears.
func dropEmptyResources(b []byte) []byte {
	if !bytes.Contains(b, []byte(emptyResources)) {
		return b
	}
	return bytes.ReplaceAll(b, []byte(emptyResources), nil)
}

// ptr joins escaped reference tokens for relative paths.
func ptr(tokens ...string) string { return jsonptr.Join(tokens...) }

func listPath(l List) *field.Path { return field.NewPath("spec", string(l)) }
