package admission

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// Outcome is what a review asked and what it answered, for logs and
// metrics. It holds no object data.
type Outcome struct {
	// UID, Kind, Namespace, Name, Operation and DryRun are the request's.
	UID             string
	Kind            metav1.GroupVersionKind
	Namespace, Name string
	Operation       string
	DryRun          bool
	// Allowed is the answer; Ops is the number of patch operations (0
	// when nothing changes).
	Allowed bool
	Ops     int
	// Mode is the mode injected and Code compat's reason for it when Auto
	// chose; empty when nothing was injected.
	Mode sidecar.Mode
	Code compat.Code
	// Skipped says why nothing was injected, and Reason explains the mode
	// or the skip.
	Skipped sidecar.Skip
	Reason  string
	// Warnings are the warnings of the response: the injection's (at most
	// MaxWarnings), or CodeSidecarMissing's when AllowOnError let a Pod
	// through without its sidecar. The response carries each as text,
	// "path: message" (or the message when there is no path), cut to
	// MaxWarningLength runes.
	Warnings []compat.Finding
	// Err is the injection error of a denied request (or of an allowed
	// one under Config.AllowOnError).
	Err error
}

// The reasons a review skips, besides sidecar's ("",
// sidecar.SkipDeclined, sidecar.SkipAlreadyInjected): Outcome.Skipped is a
// sidecar.Skip, so one switch covers both.
const (
	// SkipOperation: not a CREATE.
	SkipOperation sidecar.Skip = "Operation"
	// SkipSubResource: a request of a subresource (such as
	// pods/ephemeralcontainers).
	SkipSubResource sidecar.Skip = "SubResource"
	// SkipKind: not a Pod, or a workload without Config.Workloads.
	SkipKind sidecar.Skip = "Kind"
	// SkipNamespace: a namespace in Config.ExcludeNamespaces.
	SkipNamespace sidecar.Skip = "Namespace"
	// SkipError: the injection failed and Config.AllowOnError admitted
	// the Pod unchanged.
	SkipError sidecar.Skip = "Error"
)
