package compat

import (
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// FromNodes returns the [Weakest] capability of the nodes that a Pod with
// the given spec may be placed on, each node read by [ParseNode] (so the
// [NodeLabel] counts), with the evidence of every node kept. With a nil
// spec every node counts (a pool, a cluster). Otherwise spec.nodeName, when
// set, selects that node alone (docs/capability.md#which-nodes-count), and
// spec.nodeSelector and the required node affinity filter the nodes the way
// the scheduler does; taints and tolerations are not considered, which can
// only make the answer more cautious.
//
// Nodes are taken in name order, so the result does not depend on the order
// of the list. No matching node gives Unknown (an autoscaler may add nodes
// nobody has seen). The error joins every node that could not be read and
// every invalid node-selector requirement; the capability is still
// computed from what could be read.
func FromNodes(nodes []corev1.Node, spec *corev1.PodSpec) (Capability, error) {
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
		c, err := ParseNode(n)
		if err != nil {
			errs = append(errs, err)
		}
		caps = append(caps, c)
	}
	out := Weakest(caps...)
	if spec != nil {
		out = out.withEvidence(Evidence{SourceNodeSelection, "pod", fmt.Sprintf(
			"%d of %d nodes match the Pod's nodeName, nodeSelector and required node affinity", len(caps), len(nodes))})
	}
	if len(caps) == 0 {
		out = out.withEvidence(Evidence{SourceNodeSelection, "pod", "no node to judge: capability unknown"})
	}
	return out, errors.Join(errs...)
}
