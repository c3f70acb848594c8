package patch

import (
	"strings"
)

// A RenderOption changes what a renderer (Mutation.JSONPatch,
// Mutation.MarshalJSONPatch, Mutation.StrategicMerge) writes: [Guarded],
// [ResourceVersion], or a [Root], which renders for a document whose pod
// spec is there instead of the mutation's own root (see [Mutation]).
type RenderOption interface {
	applyRender(*renderConfig)
}

type renderConfig struct {
	root   Root
	guards bool
	rv     string
	hasRV  bool
}

func (m *Mutation) renderConfigOf(opts []RenderOption) renderConfig {
	c := renderConfig{root: m.root}
	if c.root == "" {
		c.root = PodRoot
	}
	for _, o := range opts {
		if o != nil {
			o.applyRender(&c)
		}
	}
	return c
}

// applyRender makes a Root a RenderOption: the document's pod spec is at r.
func (r Root) applyRender(c *renderConfig) { c.root = r }

type guardedOption struct{}

func (guardedOption) applyRender(c *renderConfig) { c.guards = true }

// Guarded makes a JSON patch precede every operation that addresses an
// existing container or volume by index (a removal, a move, a field set or
// cleared, a mount, env var or envFrom source added to or removed from a
// container) with an RFC 6902 "test" that the element at that index has
// the expected name, so that a patch computed from a stale copy fails
// instead of editing the wrong element. Use it when patching live objects;
// admission webhooks do not need it. The edits of Mutation.Diff are not
// guarded (they address fields of elements matched by key); pair them
// with ResourceVersion. A strategic merge patch addresses elements by key
// and ignores it.
func Guarded() RenderOption { return guardedOption{} }

type resourceVersion string

func (rv resourceVersion) applyRender(c *renderConfig) { c.rv, c.hasRV = string(rv), true }

// ResourceVersion makes the patch apply only to the object at resource
// version rv, the optimistic-concurrency precondition of a live object
// that an operator read: a JSON patch starts with an RFC 6902 "test" of
// /metadata/resourceVersion (the API server answers 422 when it fails), a
// strategic merge patch carries metadata.resourceVersion (the API server
// answers 409 Conflict when it differs). The precondition is the object's
// own, also for a workload whose pod template is patched.
func ResourceVersion(rv string) RenderOption { return resourceVersion(rv) }

// HasMoves reports whether the mutation's JSON patch holds an RFC 6902
// "move": a container moved within or between lists (MoveContainer,
// sidecar.Migrate, a reordering found by Diff). Some consumers of JSON
// patches cannot carry one (controller-runtime's admission.Patched builds
// its operations without "from"); a strategic merge patch cannot express a
// move between lists without losing the element's unknown fields, and
// StrategicMerge refuses one.
func (m *Mutation) HasMoves() bool {
	for i := range m.ops {
		if m.ops[i].op == opMove {
			return true
		}
	}
	return false
}

// crossListMove returns the first move of a container between lists, if
// any: its from and path, relative to the root.
func (m *Mutation) crossListMove() (from, path string, ok bool) {
	for i := range m.ops {
		r := &m.ops[i]
		if r.op == opMove && firstToken(r.from) != firstToken(r.path) {
			return r.from, r.path, true
		}
	}
	return "", "", false
}

// firstToken returns the first reference token of a relative pointer
// ("/containers/2" → "containers").
func firstToken(p string) string {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return p
}
