package podgen

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/sidecarkit/sidecarkit/internal/schema"
)

// Options selects what Generate makes. The zero Options makes a Pod.
type Options struct {
	// Kind is the kind of object: "" or "Pod" for a Pod, or any kind that
	// carries a pod template (Deployment, StatefulSet, DaemonSet,
	// ReplicaSet, Job, CronJob, ReplicationController, PodTemplate).
	Kind string
	// AnyKind, when Kind is "", lets the input choose the kind.
	AnyKind bool
}

// Doc is a generated document. The zero Doc has no document.
type Doc struct {
	// JSON is the document, compact, object members sorted.
	JSON []byte
	// Kind is the object's kind.
	Kind string
	// Spec is the JSON Pointer of the PodSpec ("/spec",
	// "/spec/template/spec", "/spec/jobTemplate/spec/template/spec",
	// "/template/spec").
	Spec string
	// Meta is the JSON Pointer of the pod metadata next to Spec.
	Meta string
	// Unknown maps the identity path (internal/schema Path.String) of
	// every planted unknown field to its value as compact JSON with sorted
	// keys ([schema.Canonical]).
	Unknown map[string]json.RawMessage
}

// Generate builds a document from fuzz input. The same data and options
// always give the same document. It fails only for an unsupported kind.
func Generate(data []byte, o Options) (Doc, error) {
	g := &gen{s: newSource(data), unknown: map[string]json.RawMessage{}}
	kind := o.Kind
	if kind == "" {
		kind = "Pod"
		if o.AnyKind {
			kind = g.s.pick(schema.Kinds())
		}
	}
	spec, meta, ok := roots(kind)
	if !ok {
		return Doc{}, fmt.Errorf("podgen: unsupported kind %q", kind)
	}
	obj := g.object(kind)
	b, err := json.Marshal(obj)
	if err != nil {
		return Doc{}, fmt.Errorf("podgen: %w", err)
	}
	return Doc{JSON: b, Kind: kind, Spec: spec, Meta: meta, Unknown: g.unknown}, nil
}

func roots(kind string) (spec, meta string, ok bool) {
	switch kind {
	case "Pod":
		return "/spec", "/metadata", true
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController":
		return "/spec/template/spec", "/spec/template/metadata", true
	case "CronJob":
		return "/spec/jobTemplate/spec/template/spec", "/spec/jobTemplate/spec/template/metadata", true
	case "PodTemplate":
		return "/template/spec", "/template/metadata", true
	}
	return "", "", false
}

// obj and arr are the generic JSON shapes the generator builds.
type (
	obj = map[string]interface{}
	arr = []interface{}
)

// gen holds the state of one Generate call.
type gen struct {
	s       *source
	unknown map[string]json.RawMessage
	n       int
}

func (p0 pathB) m(name string) pathB { return pathB{p0.p.Child(schema.MemberSegment(name))} }

// pathB builds identity paths.
type pathB struct{ p schema.Path }

func (p0 pathB) key(k, v string) pathB {
	return pathB{p0.p.Child(schema.KeySegment(k, v, false))}
}
func (p0 pathB) num(k string, v int) pathB {
	return pathB{p0.p.Child(schema.KeySegment(k, strconv.Itoa(v), true))}
}
func (p0 pathB) idx(i int) pathB { return pathB{p0.p.Child(schema.IndexSegment(i))} }

var unknownNames = []string{"x-u", "x-future", "x-alpha/beta", "x-tilde~field", "xUnknown", "x-new.field"}

// plant adds zero, one or two unknown members to o, which sits at p.
func (g *gen) plant(o obj, p pathB) {
	if !g.s.chance(65) {
		return
	}
	for i := 1 + g.s.intn(2); i > 0; i-- {
		g.n++
		name := g.s.pick(unknownNames) + strconv.Itoa(g.n)
		v := g.value(2)
		o[name] = v
		g.unknown[p.m(name).p.String()] = schema.Canonical(v)
	}
}

// value returns a random JSON value nested at most depth levels.
func (g *gen) value(depth int) interface{} {
	switch r := g.s.intn(9); {
	case r == 0:
		return nil
	case r == 1:
		return g.s.chance(50)
	case r == 2:
		return g.s.intn(100000)
	case r == 3:
		return float64(g.s.intn(100)) + 0.5
	case r <= 5 || depth == 0:
		return g.s.pick([]string{"", "v", "with space", "a/b~c", "ünïcödé", `q"uote`, "<html>&"})
	case r <= 7:
		o := obj{}
		for i := g.s.intn(3); i > 0; i-- {
			o[g.s.pick([]string{"name", "k", "nested", "x", "a/b", "~"})] = g.value(depth - 1)
		}
		return o
	default:
		a := arr{}
		for i := g.s.intn(3); i > 0; i-- {
			a = append(a, g.value(depth-1))
		}
		return a
	}
}

// list sets o[key] to absent, null, [] or the elements build returns.
func (g *gen) list(o obj, key string, build func() arr) {
	switch g.s.intn(8) {
	case 0:
	case 1:
		o[key] = nil
	case 2:
		o[key] = arr{}
	default:
		o[key] = build()
	}
}
