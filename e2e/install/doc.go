// Package install applies the repository's install manifests to a real
// kube-apiserver with server-side dry-run (install_test.go).
package install
