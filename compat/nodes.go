package compat

import (
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// fromNodes returns the [Weakest] capability of the nodes that a Pod with
// the given spec may be placed on (see [Cluster.For]), each node read by
// [FromNodeMetrics] when metrics has its name, else by [ParseNode].
func fromNodes(nodes []corev1.Node, metrics map[string]FeatureGates, spec *corev1.PodSpec) (Capability, error) {
	p, errs := newPlacement(spec)
	order := make([]int, len(nodes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return nodes[order[a]].Name < nodes[order[b]].Name })

	var caps []Capability
	for _, i := range order {
		n := &nodes[i]
		if !p.matches(n) {
			continue
		}
		var c Capability
		var err error
		if g, ok := metrics[n.Name]; ok {
			c, err = FromNodeMetrics(n, g)
		} else {
			c, err = ParseNode(n)
		}
		if err != nil {
			errs = append(errs, err)
		}
		caps = append(caps, c)
	}
	out := Weakest(caps...)
	if spec != nil {
		out = out.withEvidence(Evidence{sourceNodeSelection, "pod", fmt.Sprintf(
			"%d of %d nodes match the Pod's nodeName, nodeSelector and required node affinity", len(caps), len(nodes))})
	}
	if len(caps) == 0 {
		out = out.withEvidence(Evidence{sourceNodeSelection, "pod", "no node to judge: capability unknown"})
	}
	return out, errors.Join(errs...)
}
