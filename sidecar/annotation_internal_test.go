package sidecar

import (
	"testing"

	"github.com/sidecarkit/sidecarkit/internal/annotation"
)

// The record's prefix is the one compat's Diagnose reads.
func TestAnnotationPrefix(t *testing.T) {
	if AnnotationPrefix != annotation.RecordPrefix {
		t.Errorf("AnnotationPrefix %q, internal/annotation.RecordPrefix %q", AnnotationPrefix, annotation.RecordPrefix)
	}
}
