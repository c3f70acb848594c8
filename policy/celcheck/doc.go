// Package celcheck holds a test only: it compiles and type-checks every CEL
// expression of the admission policies package policy compiles, with the
// compiler the Kubernetes API server uses for them (k8s.io/apiserver's
// admission/plugin/cel, the environment of package cel/environment), at
// the compatibility versions of the API servers the policies are for.
package celcheck
