package compat

import (
	"encoding/json"
	"strings"

	"github.com/sidecarkit/sidecarkit/internal/annotation"
)

// recordAnnotationPrefix prefixes the annotation in which package sidecar
// records an injection (sidecar.AnnotationPrefix). Diagnose reads it as
// evidence of intent: a field that a mutating webhook adds gets no
// metadata.managedFields entry, so without the record a restartPolicy that
// sidecarkit injected and the API server dropped leaves no trace.
const recordAnnotationPrefix = annotation.RecordPrefix

// nativeRecords returns, for each sidecar that a record annotation says was
// injected as an init container with restartPolicy: Always (modes native,
// pinned and universal, whose native twin has the sidecar's name), the
// annotation's key. Records that cannot be read are ignored: Diagnose
// reports what it can prove.
func nativeRecords(annotations map[string]string) map[string]string {
	var out map[string]string
	for k, v := range annotations {
		name := strings.TrimPrefix(k, recordAnnotationPrefix)
		if name == k || name == "" {
			continue
		}
		var r struct {
			Mode           string            `json:"mode"`
			InitContainers map[string]string `json:"initContainers"`
		}
		if json.Unmarshal([]byte(v), &r) != nil {
			continue
		}
		switch r.Mode {
		case "native", "pinned", "universal":
		default:
			continue
		}
		if _, ok := r.InitContainers[name]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = k
		}
	}
	return out
}

// legacyRecords returns, for each regular container that a record
// annotation says sidecarkit injected (the legacy mode's sidecar, the
// universal pair's legacy twin), the annotation's key. Like
// [nativeRecords] it is a hint, never trust: unreadable records are
// ignored.
func legacyRecords(annotations map[string]string) map[string]string {
	var out map[string]string
	for k, v := range annotations {
		name := strings.TrimPrefix(k, recordAnnotationPrefix)
		if name == k || name == "" {
			continue
		}
		var r struct {
			Containers map[string]string `json:"containers"`
		}
		if json.Unmarshal([]byte(v), &r) != nil {
			continue
		}
		for c := range r.Containers {
			if out == nil {
				out = map[string]string{}
			}
			out[c] = k
		}
	}
	return out
}
