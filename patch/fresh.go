package patch

import (
	"errors"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/internal/encoded"
)

func init() {
	encoded.Fresh = func(inits []interface{}, volumes []interface{}, mounts []corev1.VolumeMount, env []corev1.EnvVar) (interface{}, error) {
		return newFreshPlan(inits, volumes, mounts, env)
	}
	encoded.AppendFresh = func(b []byte, plan, obj interface{}, at int, record interface{}) ([]byte, int, error) {
		f, _ := plan.(*freshPlan) // nil for anything else
		o, _ := obj.(*Object)
		ann, _ := record.(*preparedAnnotation)
		if f == nil || o == nil || ann == nil {
			return nil, 0, errors.New("patch: fresh: wrong arguments")
		}
		return f.appendPatch(b, o, at, ann)
	}
}

// freshPlan is an injection prepared once for the Pods that hold nothing
// of it (internal/encoded.Fresh; package sidecar decides which Pods those
// are): containers inserted into spec.initContainers, volumes appended to
// spec.volumes, and volume mounts and env variables appended to every
// regular container, each with its encoding. appendPatch renders the JSON
// patch that the same edits on a Mutation render, op for op, without
// recording them: no state, no edit, no copy of a container.
type freshPlan struct {
	inits   []*EncodedContainer
	volumes []*EncodedVolume
	mounts  []encodedItem // the app mounts, in order
	env     []encodedItem // the app env, in order
}

// newFreshPlan prepares the injection of the containers inits
// (*EncodedContainer) and the volumes (*EncodedVolume), and of mounts and
// env into every regular container.
func newFreshPlan(inits, volumes []interface{}, mounts []corev1.VolumeMount, env []corev1.EnvVar) (*freshPlan, error) {
	f := &freshPlan{}
	for _, x := range inits {
		c, ok := x.(*EncodedContainer)
		if !ok || c == nil {
			return nil, errors.New("patch: fresh: not an *EncodedContainer")
		}
		f.inits = append(f.inits, c)
	}
	for _, x := range volumes {
		v, ok := x.(*EncodedVolume)
		if !ok || v == nil {
			return nil, errors.New("patch: fresh: not an *EncodedVolume")
		}
		f.volumes = append(f.volumes, v)
	}
	for i := range mounts {
		c, err := newEncodedItem(&containerItem{kind: itemMount, mount: mounts[i]}, "volumeMounts")
		if err != nil {
			return nil, err
		}
		f.mounts = append(f.mounts, c)
	}
	for i := range env {
		c, err := newEncodedItem(&containerItem{kind: itemEnv, env: env[i]}, "env")
		if err != nil {
			return nil, err
		}
		f.env = append(f.env, c)
	}
	return f, nil
}

// appendPatch appends to b the JSON patch of the plan's injection into o,
// the plan's containers inserted at index at of spec.initContainers, with
// the record annotation ann, and returns it with the number of ops. The
// ops are those InsertEncoded, AddEncodedVolume, AddVolumeMount, AddEnv
// and SetAnnotation record, in that order (TestFreshPlan and admission's
// FuzzFresh hold the two to the same bytes); the caller has checked that
// none of those edits would fail or change anything else.
func (f *freshPlan) appendPatch(b []byte, o *Object, at int, ann *preparedAnnotation) ([]byte, int, error) {
	spec := o.Spec
	if spec == nil || at < 0 || at > len(spec.InitContainers) {
		return nil, 0, errors.New("patch: fresh: no spec, or an index out of range")
	}
	var inline [8]relOp
	ops := inline[:0]
	n := len(spec.InitContainers)
	for k, c := range f.inits {
		idx, cur := at+k, n+k
		switch {
		case cur == 0:
			ops = append(ops, relOp{op: opAdd, path: ptr(string(InitContainers)), value: c.json, wrap: true})
		case idx == cur:
			ops = append(ops, relOp{op: opAdd, path: ptr(string(InitContainers), "-"), value: c.json})
		default:
			ops = append(ops, relOp{op: opAdd, path: containerPath(InitContainers, idx), value: c.json})
		}
	}
	for j, v := range f.volumes {
		if len(spec.Volumes)+j == 0 {
			ops = append(ops, relOp{op: opAdd, path: "/volumes", value: v.json, wrap: true})
		} else {
			ops = append(ops, relOp{op: opAdd, path: "/volumes/-", value: v.json})
		}
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		ops = appendItems(ops, i, "volumeMounts", len(c.VolumeMounts), f.mounts)
		ops = appendItems(ops, i, "env", len(c.Env), f.env)
	}
	switch {
	case o.Meta == nil:
		ops = append(ops, newMapOp("annotations", ann.key, ann.quoted, true))
	case o.Meta.Annotations == nil:
		ops = append(ops, newMapOp("annotations", ann.key, ann.quoted, false))
	default:
		ops = append(ops, relOp{meta: true, op: opAdd, path: ann.path, value: ann.quoted})
	}
	root := o.Root
	if root == "" {
		root = PodRoot
	}
	b, err := appendOps(b, ops, renderConfig{root: root})
	if err != nil {
		return nil, 0, err
	}
	return b, len(ops), nil
}

// appendItems appends the ops that append items to the list jsonName of
// the i-th regular container, which has n elements: the first adds the
// whole list when it is empty (it may be absent or null), as
// containerItem does.
func appendItems(ops []relOp, i int, jsonName string, n int, items []encodedItem) []relOp {
	for k := range items {
		path := itemPath(Containers, i, jsonName, "/-")
		wrap := n+k == 0
		if wrap {
			path = path[:len(path)-2]
		}
		ops = append(ops, relOp{op: opAdd, path: path, value: items[k].json, wrap: wrap})
	}
	return ops
}
