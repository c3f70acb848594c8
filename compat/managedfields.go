package compat

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// restartPolicyManagers reads metadata.managedFields and returns, per init
// container name, the field managers whose fieldsV1 list f:restartPolicy
// under f:spec → f:initContainers → k:{"name":...}. A manager listing the
// field while the stored spec lacks it proves that the field was sent and
// then dropped by the API server
// (docs/field-stripping.md#who-dropped-it-the-managedfields-evidence). Entries
// that cannot be read are reported and skipped.
func restartPolicyManagers(entries []metav1.ManagedFieldsEntry) (map[string][]string, []error) {
	out := make(map[string][]string)
	var errs []error
	for i, e := range entries {
		if e.FieldsV1 == nil || len(e.FieldsV1.Raw) == 0 {
			continue
		}
		if e.FieldsType != "" && e.FieldsType != "FieldsV1" {
			continue
		}
		names, err := initContainersWithRestartPolicy(e.FieldsV1.Raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("metadata.managedFields[%d] (manager %q): %w", i, e.Manager, err))
			continue
		}
		for _, n := range names {
			out[n] = append(out[n], managerName(e))
		}
	}
	return out, errs
}

func managerName(e metav1.ManagedFieldsEntry) string {
	if e.Manager == "" {
		return "(unnamed)"
	}
	return e.Manager
}

func initContainersWithRestartPolicy(raw []byte) ([]string, error) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("fieldsV1: %w", err)
	}
	spec, ok := root["f:spec"]
	if !ok {
		return nil, nil
	}
	var specFields map[string]json.RawMessage
	if err := json.Unmarshal(spec, &specFields); err != nil {
		return nil, fmt.Errorf("fieldsV1 f:spec: %w", err)
	}
	inits, ok := specFields["f:initContainers"]
	if !ok {
		return nil, nil
	}
	var items map[string]map[string]json.RawMessage
	if err := json.Unmarshal(inits, &items); err != nil {
		return nil, fmt.Errorf("fieldsV1 f:spec.f:initContainers: %w", err)
	}
	var names []string
	for key, fields := range items {
		if !strings.HasPrefix(key, "k:") {
			continue
		}
		if _, set := fields["f:restartPolicy"]; !set {
			continue
		}
		var k struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal([]byte(key[2:]), &k); err != nil || k.Name == "" {
			return nil, fmt.Errorf("fieldsV1 f:spec.f:initContainers: key %q is not k:{\"name\":...}", key)
		}
		names = append(names, k.Name)
	}
	sort.Strings(names)
	return names, nil
}
