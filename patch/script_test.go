package patch_test

import (
	"encoding/json"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/patch"
)

// step is one edit of a test script (testdata/golden/*.edits.json). The
// fields used depend on Op.
type step struct {
	Op          string                          `json:"op"`
	List        patch.List                      `json:"list,omitempty"`
	To          patch.List                      `json:"to,omitempty"`
	Index       int                             `json:"index,omitempty"`
	Name        string                          `json:"name,omitempty"`
	Field       string                          `json:"field,omitempty"`
	Value       json.RawMessage                 `json:"value,omitempty"`
	Key         string                          `json:"key,omitempty"`
	Container   *corev1.Container               `json:"container,omitempty"`
	Volume      *corev1.Volume                  `json:"volume,omitempty"`
	Mount       *corev1.VolumeMount             `json:"mount,omitempty"`
	Env         *corev1.EnvVar                  `json:"env,omitempty"`
	EnvFrom     *corev1.EnvFromSource           `json:"envFrom,omitempty"`
	Requirement *corev1.NodeSelectorRequirement `json:"requirement,omitempty"`
	// Ops, for "diff", are RFC 6902 operations applied to the typed JSON of
	// the current spec to make the "after" spec.
	Ops json.RawMessage `json:"ops,omitempty"`
}

// run performs the step on m.
func (s step) run(m *patch.Mutation) error {
	switch s.Op {
	case "insert":
		return m.InsertContainer(s.List, s.Index, deref(s.Container))
	case "append":
		return m.AppendContainer(s.List, deref(s.Container))
	case "remove":
		return m.RemoveContainer(s.List, s.Name)
	case "move":
		return m.MoveContainer(s.List, s.Name, s.To, s.Index)
	case "set":
		var v interface{}
		if err := json.Unmarshal(s.Value, &v); err != nil {
			return err
		}
		return m.SetContainerField(s.List, s.Name, s.Field, v)
	case "clear":
		return m.ClearContainerField(s.List, s.Name, s.Field)
	case "addVolume":
		return m.AddVolume(*s.Volume)
	case "removeVolume":
		return m.RemoveVolume(s.Name)
	case "addMount":
		return m.AddVolumeMount(s.List, s.Name, *s.Mount)
	case "removeMount":
		return m.RemoveVolumeMount(s.List, s.Name, s.Key)
	case "addEnv":
		return m.AddEnv(s.List, s.Name, *s.Env)
	case "removeEnv":
		return m.RemoveEnv(s.List, s.Name, s.Key)
	case "addEnvFrom":
		return m.AddEnvFrom(s.List, s.Name, *s.EnvFrom)
	case "removeEnvFrom":
		return m.RemoveEnvFrom(s.List, s.Name, *s.EnvFrom)
	case "setAnnotation":
		return m.SetAnnotation(s.Key, string(unquote(s.Value)))
	case "removeAnnotation":
		return m.RemoveAnnotation(s.Key)
	case "setLabel":
		return m.SetLabel(s.Key, string(unquote(s.Value)))
	case "removeLabel":
		return m.RemoveLabel(s.Key)
	case "requireNode":
		return m.RequireNode(*s.Requirement)
	case "removeNodeRequirement":
		return m.RemoveNodeRequirement(*s.Requirement)
	case "diff":
		_, cur := m.Result()
		b, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		p, err := jsonpatch.DecodePatch(s.Ops)
		if err != nil {
			return err
		}
		if b, err = p.Apply(b); err != nil {
			return fmt.Errorf("diff step ops: %w", err)
		}
		var after corev1.PodSpec
		if err := json.Unmarshal(b, &after); err != nil {
			return err
		}
		return m.Diff(&after)
	}
	return fmt.Errorf("unknown step op %q", s.Op)
}

func deref(c *corev1.Container) corev1.Container {
	if c == nil {
		return corev1.Container{}
	}
	return *c
}

func unquote(v json.RawMessage) []byte {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return v
	}
	return []byte(s)
}
