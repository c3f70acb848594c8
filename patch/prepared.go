package patch

import (
	"errors"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/internal/encoded"
)

func init() {
	encoded.Items = func(mounts []corev1.VolumeMount, env []corev1.EnvVar) (interface{}, error) {
		return prepareItems(mounts, env)
	}
	encoded.Annotation = func(key, value string) interface{} { return prepareAnnotation(key, value) }
	encoded.AppendJSONPatch = func(x interface{}, b []byte) ([]byte, error) {
		m, ok := x.(*Mutation)
		if !ok || m == nil {
			return nil, errors.New("patch: not a *Mutation")
		}
		return m.appendJSONPatch(b, m.renderConfigOf(nil))
	}
	encoded.Use = func(x interface{}, prepared interface{}) {
		m, ok := x.(*Mutation)
		if !ok || m == nil {
			return
		}
		switch p := prepared.(type) {
		case *preparedItems:
			m.s.known = p
		case *preparedAnnotation:
			m.s.knownAnn = p
		}
	}
}

// preparedItems are volume mounts and env variables encoded once for many
// Mutations (internal/encoded.Items): encodeItem looks an added item up
// by its mountPath or name and uses the encoding when the item is equal.
type preparedItems struct {
	mounts map[string]*encodedItem // by mountPath
	env    map[string]*encodedItem // by name
}

// prepareItems encodes mounts and env as encodeItem does.
func prepareItems(mounts []corev1.VolumeMount, env []corev1.EnvVar) (*preparedItems, error) {
	p := &preparedItems{mounts: make(map[string]*encodedItem, len(mounts)), env: make(map[string]*encodedItem, len(env))}
	add := func(e *containerItem, jsonName, key string, to map[string]*encodedItem) error {
		c, err := newEncodedItem(e, jsonName)
		if err != nil {
			return err
		}
		to[key] = &c
		return nil
	}
	for i := range mounts {
		if err := add(&containerItem{kind: itemMount, mount: mounts[i]}, "volumeMounts", mounts[i].MountPath, p.mounts); err != nil {
			return nil, err
		}
	}
	for i := range env {
		if err := add(&containerItem{kind: itemEnv, env: env[i]}, "env", env[i].Name, p.env); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// lookup returns the prepared encoding of the item e adds, when one is
// prepared for an equal item.
func (p *preparedItems) lookup(e *containerItem) ([]byte, bool) {
	switch e.kind {
	case itemMount:
		if c, ok := p.mounts[e.mount.MountPath]; ok && sameMount(&c.mount, &e.mount) {
			return c.json, true
		}
	case itemEnv:
		if c, ok := p.env[e.env.Name]; ok && sameEnv(&c.env, &e.env) {
			return c.json, true
		}
	}
	return nil, false
}

// preparedAnnotation is the setting of an annotation encoded once for
// many Mutations (internal/encoded.Annotation): the key's path relative
// to the metadata and the value as a JSON string, as metaEdit encodes
// them.
type preparedAnnotation struct {
	key, value, path string
	quoted           []byte
}

func prepareAnnotation(key, value string) *preparedAnnotation {
	return &preparedAnnotation{key: key, value: value, path: ptr("annotations", key), quoted: quote(value)}
}

// encodings returns the path and JSON value of e when it sets the
// prepared annotation to its value.
func (p *preparedAnnotation) encodings(e *metaEdit) (string, []byte, bool) {
	if p == nil || e.labels || e.remove || e.key != p.key || e.value != p.value {
		return "", nil, false
	}
	return p.path, p.quoted, true
}
