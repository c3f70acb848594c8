package sidecar

import (
	"bytes"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// LoadSpec decodes a Spec from YAML or JSON, strictly: unknown or duplicate
// fields are errors. Two forms are accepted:
//
//   - the full form, an object with a "container" member and optionally
//     "volumes", "appMounts", "appEnv" and "placement";
//   - the simplest form, a plain corev1.Container document (an object with
//     a "name" and no "container" member).
//
// The Spec is validated (see [Spec.Validate]).
func LoadSpec(data []byte) (Spec, error) {
	js, err := yaml.ToJSON(data)
	if err != nil {
		return Spec{}, fmt.Errorf("sidecar: load spec: %w", err)
	}
	js = bytes.TrimSpace(js)
	if len(js) == 0 || bytes.Equal(js, []byte("null")) {
		return Spec{}, fmt.Errorf("sidecar: load spec: empty document")
	}
	var probe map[string]interface{}
	if err := yaml.Unmarshal(js, &probe); err != nil {
		return Spec{}, fmt.Errorf("sidecar: load spec: want an object: %w", err)
	}
	var s Spec
	if _, full := probe["container"]; full {
		if err := yaml.UnmarshalStrict(js, &s); err != nil {
			return Spec{}, fmt.Errorf("sidecar: load spec: %w", err)
		}
	} else {
		var c corev1.Container
		if err := yaml.UnmarshalStrict(js, &c); err != nil {
			return Spec{}, fmt.Errorf("sidecar: load spec (a plain container): %w", err)
		}
		s.Container = c
	}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("sidecar: load spec: %w", err)
	}
	return s, nil
}
