package compat

import (
	"errors"

	corev1 "k8s.io/api/core/v1"
)

// Cluster is what a webhook, an operator or a CLI knows about a cluster:
// the API server's version and feature gates, the Node objects and the
// kubelets' feature gates. Each part may be missing; what is missing is
// Unknown, never assumed.
type Cluster struct {
	// APIServerVersion is the API server's version (discovery's
	// gitVersion, kubectl version), or "" when unknown.
	APIServerVersion string
	// APIServerMetrics are the feature gates of the API server's /metrics
	// (ParseFeatureMetrics), or nil when they cannot be read. They
	// override what the version says (a gate turned off).
	APIServerMetrics *FeatureGates
	// Nodes are the cluster's Node objects (an informer's cache, kubectl
	// get nodes). Nil or empty: no node is known, and the kubelet side is
	// Unknown.
	Nodes []corev1.Node
	// NodeMetrics are the feature gates of kubelets' /metrics (through
	// the API server's node proxy), by node name. A node without an entry
	// is judged by its compat.NodeLabel, else its kubelet version.
	NodeMetrics map[string]FeatureGates
}

// For returns what the cluster can do for a Pod with the given spec: the
// API server's capability (its version, overridden by its metrics)
// joined with the [Weakest] of the nodes the Pod may be placed on, each
// from its metrics where NodeMetrics has them, else from [ParseNode] (its
// [NodeLabel], else its kubelet version). It is the capability to pass to
// injection (sidecar.Injector.Inject) and diagnosis.
//
// With a nil spec every node counts (a pool, a cluster). Otherwise
// spec.nodeName, when set, selects that node alone
// (docs/capability.md#which-nodes-count), and spec.nodeSelector and the
// required node affinity filter the nodes the way the scheduler does;
// taints and tolerations are not considered, which can only make the
// answer more cautious. Judge a Pod that already carries a pinned sidecar
// by sidecar.SchedulingSpec, or its own pin makes it look all-native.
//
// Nodes are taken in name order, so the result does not depend on the
// order of the list. No matching node leaves the kubelet Unknown (an
// autoscaler may add nodes nobody has seen); to assume the version-skew
// policy's oldest kubelet there, start from [FromSkewPolicy] and
// Override it with For's answer. The error joins every part that could
// not be read (a version, metrics, a node, an invalid node-selector
// requirement); the capability is still computed from what could be read.
func (cl Cluster) For(spec *corev1.PodSpec) (Capability, error) {
	var out Capability
	var errs []error
	if cl.APIServerVersion != "" {
		c, err := ParseAPIServerVersion(cl.APIServerVersion)
		if err != nil {
			errs = append(errs, err)
		}
		out = c
	}
	if cl.APIServerMetrics != nil {
		c, err := FromAPIServerMetrics(*cl.APIServerMetrics, cl.APIServerVersion)
		if err != nil {
			errs = append(errs, err)
		}
		out = out.Override(c)
	}
	n, err := fromNodes(cl.Nodes, cl.NodeMetrics, spec)
	if err != nil {
		errs = append(errs, err)
	}
	return out.Override(n), errors.Join(errs...)
}
