package main

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

// wellKnownPoolLabels are the node labels that name a node pool on the
// common managed offerings (docs/doctor.md#node-pools), tried in this
// order when --pool-label is not given: GKE (cloud.google.com/gke-nodepool), EKS managed node groups
// (eks.amazonaws.com/nodegroup), AKS (kubernetes.azure.com/agentpool) and
// Karpenter (karpenter.sh/nodepool). The first one that any node carries
// groups the nodes; nodes without it, and every node when none is found,
// are grouped by kubelet version.
var wellKnownPoolLabels = []string{
	"cloud.google.com/gke-nodepool",
	"eks.amazonaws.com/nodegroup",
	"kubernetes.azure.com/agentpool",
	"karpenter.sh/nodepool",
}

// nodeReport is one node: its kubelet version, where its capability
// comes from, and the capability.
type nodeReport struct {
	Name           string `json:"name"`
	KubeletVersion string `json:"kubeletVersion"`
	// Metrics says whether the kubelet's /metrics were read through the
	// API server's node proxy: "read", "forbidden: ...", "unavailable:
	// ..." or "not requested".
	Metrics    string            `json:"metrics"`
	Capability compat.Capability `json:"capability"`
	Error      string            `json:"error,omitempty"`
	// labelledNative: the node carries compat.NodeLabel=native, so pinned
	// Pods may land on it.
	labelledNative bool
}

// poolReport is one node pool and the mode for Pods that run on it.
type poolReport struct {
	// Name is "LABEL=VALUE", or "kubelet VERSION" for nodes grouped by
	// version.
	Name  string       `json:"name"`
	Nodes []nodeReport `json:"nodes"`
	// Capability is the API server's joined with the pool's weakest node.
	Capability     compat.Capability      `json:"capability"`
	Recommendation sidecar.Recommendation `json:"recommendation"`
}

// choosePoolLabel returns the label to group by: the flag's when given,
// else the first well-known pool label any node carries, else "".
func choosePoolLabel(flag string, nodes []corev1.Node) string {
	if flag != "" {
		return flag
	}
	for _, l := range wellKnownPoolLabels {
		for i := range nodes {
			if _, ok := nodes[i].Labels[l]; ok {
				return l
			}
		}
	}
	return ""
}

// poolName names the pool of a node.
func poolName(label string, n *corev1.Node) string {
	if v, ok := n.Labels[label]; ok && label != "" {
		return label + "=" + v
	}
	v := n.Status.NodeInfo.KubeletVersion
	if v == "" {
		v = "unknown"
	}
	return "kubelet " + v
}

// groupPools groups the nodes (in the order given) into pools sorted by
// name, and gives each pool the API server's capability joined with its
// weakest node, and a recommendation. allowUniversal is the caller's
// preference; pinning is allowed in a pool only when some node of it is
// labelled native (else pinned Pods would never schedule there).
func groupPools(label string, nodes []nodeReport, byName map[string]*corev1.Node, api compat.Capability, allowUniversal bool) []poolReport {
	index := map[string]int{}
	var pools []poolReport
	for _, n := range nodes {
		name := poolName(label, byName[n.Name])
		i, ok := index[name]
		if !ok {
			i = len(pools)
			index[name] = i
			pools = append(pools, poolReport{Name: name})
		}
		pools[i].Nodes = append(pools[i].Nodes, n)
	}
	sort.Slice(pools, func(i, j int) bool { return pools[i].Name < pools[j].Name })
	for i := range pools {
		p := &pools[i]
		sort.Slice(p.Nodes, func(a, b int) bool { return p.Nodes[a].Name < p.Nodes[b].Name })
		p.Capability, p.Recommendation = recommendFor(p.Nodes, api, allowUniversal)
	}
	return pools
}

// recommendFor joins the API server's capability with the weakest of the
// nodes and recommends a mode for Pods that may land on any of them.
func recommendFor(nodes []nodeReport, api compat.Capability, allowUniversal bool) (compat.Capability, sidecar.Recommendation) {
	caps := make([]compat.Capability, len(nodes))
	pinnable := false
	for i, n := range nodes {
		caps[i] = n.Capability
		pinnable = pinnable || n.labelledNative
	}
	c := api.Override(compat.Weakest(caps...))
	if len(nodes) == 0 {
		// No node: nothing is known about kubelets, whatever the API
		// server's version says.
		c = api
		c.Kubelet, c.OrderedTermination = compat.KubeletUnknown, compat.Unknown
	}
	o := sidecar.Options{AllowPinned: pinnable}
	if allowUniversal {
		o.Universal = universal.Planner{}
	}
	rec, _ := sidecar.Recommend(c, o) // Auto with no Fallback: no error
	if len(nodes) == 0 {
		rec.Reason = fmt.Sprintf("no nodes are registered: %s", rec.Reason)
	}
	return c, rec
}
