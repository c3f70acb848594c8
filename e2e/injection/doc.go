// Package injection holds sidecarkit's end-to-end tests against a real
// kube-apiserver (see package cluster): sidecars injected by admission
// webhooks built from the library, in every mode and pod shape, compared with
// what the library's typed Apply predicts; fields unknown to an old webhook's
// compiled API; webhook reinvocation; pre-flight validation against the API
// server's; workload templates patched through client-go; and, on a
// kube-apiserver v1.32 with the SidecarContainers gate off, diagnosis of the
// dropped field and the automatic fallback to a legacy sidecar.
//
// Everything is in the tests; without SIDECARKIT_E2E=1 they skip. Run them
// with e2e/run.sh.
package injection
