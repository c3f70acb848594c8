// Package podgen generates realistic raw Pod and workload documents from
// fuzz input, carrying fields unknown to the compiled Kubernetes API types
// at every level, and reports exactly which unknown fields it planted.
//
// It is used by tests and fuzzers across packages and depends on nothing
// that is test-only. Generated documents decode into the typed objects with
// encoding/json; container, volume, env, port and mount names are valid and
// unique so that list elements have keyed identities.
package podgen
