// Package patch renders Pod mutations as RFC 6902 JSON patches, strategic
// merge patches and in-memory edits, without ever dropping a field that the
// compiled Kubernetes API types do not know.
package patch
