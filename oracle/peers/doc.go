// Package peers compares how patch producers of other projects keep the
// fields that the compiled Kubernetes API types do not know. It holds
// tests only; see peers_test.go.
package peers
