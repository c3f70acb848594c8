package crwebhook

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sidecarkit/sidecarkit/compat"
)

// Cluster is a capability source over a client.Reader: what compat.Cluster
// says for the Nodes the reader lists and the API server facts given here.
// Its Capability method is a CapabilityFunc.
//
// Use the manager's cache as the reader (mgr.GetClient() or
// mgr.GetCache(), which watch Nodes once asked): a webhook asks for every
// request, and a live List per request would put the whole node list on the
// API server each time.
type Cluster struct {
	// Nodes lists the cluster's Nodes. Required.
	Nodes client.Reader
	// ListOptions narrow the list (a label selector of the node pools the
	// sidecar may run on, say). Nodes left out do not count.
	ListOptions []client.ListOption
	// APIServerVersion is the API server's gitVersion (discovery's
	// ServerVersion), or "" when unknown.
	APIServerVersion string
	// APIServerMetrics are the API server's feature gates
	// (compat.ParseFeatureMetrics of its /metrics), or nil.
	APIServerMetrics *compat.FeatureGates
	// NodeMetrics are kubelets' feature gates by node name, or nil.
	NodeMetrics map[string]compat.FeatureGates
}

// Capability lists the Nodes and returns compat.Cluster.For(spec) for them
// and the API server facts. When the list fails, the kubelet side is
// Unknown and the error says why; otherwise the error is For's (it names
// every part that could not be read). In both cases the capability is
// computed from what could be read, as For does.
func (c Cluster) Capability(ctx context.Context, spec *corev1.PodSpec) (compat.Capability, error) {
	cl := compat.Cluster{
		APIServerVersion: c.APIServerVersion,
		APIServerMetrics: c.APIServerMetrics,
		NodeMetrics:      c.NodeMetrics,
	}
	var listErr error
	if c.Nodes == nil {
		listErr = errors.New("crwebhook: list nodes: Cluster.Nodes is nil")
	} else {
		var nodes corev1.NodeList
		if err := c.Nodes.List(ctx, &nodes, c.ListOptions...); err != nil {
			listErr = fmt.Errorf("crwebhook: list nodes: %w", err)
		} else {
			cl.Nodes = nodes.Items
		}
	}
	capability, err := cl.For(spec)
	if err != nil {
		err = fmt.Errorf("crwebhook: %w", err)
	}
	return capability, errors.Join(listErr, err)
}
