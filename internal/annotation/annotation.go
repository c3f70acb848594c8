// Package annotation holds the annotation keys that more than one of the
// library's packages read.
package annotation

// RecordPrefix prefixes the annotation in which package sidecar records an
// injection ("sidecar.sidecarkit.io/<sidecar name>"; sidecar.AnnotationPrefix,
// docs/injection-record.md). Package compat's Diagnose reads it as evidence
// of intent.
const RecordPrefix = "sidecar.sidecarkit.io/"
