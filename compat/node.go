package compat

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// NodeLabel is the node label that records a node's kubelet capability. An
// operator sets it after checking the node's /metrics (see
// [FromNodeMetrics] and [NodeLabelValue]); [ParseNode] honours it, and
// [NativeNodeSelectorRequirement] pins Pods to nodes that carry
// NodeLabel=native.
const NodeLabel = "sidecarkit.io/native-sidecars"

// The values of [NodeLabel], one per known [Kubelet] capability.
const (
	nodeLabelNative  = "native"
	nodeLabelStrips  = "strips"
	nodeLabelRejects = "rejects"
)

// NodeLabelValue returns the [NodeLabel] value for a kubelet capability:
// "native", "strips" or "rejects". For KubeletUnknown it returns "",
// false: the label should be removed rather than set.
func NodeLabelValue(k Kubelet) (string, bool) {
	switch k {
	case KubeletNative:
		return nodeLabelNative, true
	case KubeletStrips:
		return nodeLabelStrips, true
	case KubeletRejects:
		return nodeLabelRejects, true
	}
	return "", false
}

func kubeletFromLabel(v string) (Kubelet, bool) {
	switch v {
	case nodeLabelNative:
		return KubeletNative, true
	case nodeLabelStrips:
		return KubeletStrips, true
	case nodeLabelRejects:
		return KubeletRejects, true
	}
	return KubeletUnknown, false
}

// NativeNodeSelectorRequirement returns the requirement
// "sidecarkit.io/native-sidecars In (native)" that pins a Pod to nodes
// labelled native-capable. Required node affinity terms are ORed, so add it
// to every term of requiredDuringSchedulingIgnoredDuringExecution (or make
// it the only term when there is none).
func NativeNodeSelectorRequirement() corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{
		Key:      NodeLabel,
		Operator: corev1.NodeSelectorOpIn,
		Values:   []string{nodeLabelNative},
	}
}

// ParseNode infers a node's capability from status.nodeInfo.kubeletVersion
// (see [ParseKubeletVersion]) and lets the [NodeLabel] override it, since an
// operator sets that label from the node's metrics. A label that claims
// native on a kubelet ≤1.27, which cannot run native sidecars, is ignored
// with an error, as is a label value other than native, strips or rejects.
// The API server fields stay Unknown.
func ParseNode(n *corev1.Node) (Capability, error) {
	if n == nil {
		return Capability{}, errors.New("compat: node is nil")
	}
	subject := "node/" + n.Name
	var errs []error
	v := n.Status.NodeInfo.KubeletVersion
	c, err := kubeletFromVersion(subject, v)
	if err != nil {
		errs = append(errs, fmt.Errorf("compat: node %q: status.nodeInfo.kubeletVersion: %w", n.Name, err))
	}
	if lv, ok := n.Labels[NodeLabel]; ok {
		k, known := kubeletFromLabel(lv)
		switch {
		case !known:
			errs = append(errs, fmt.Errorf("compat: node %q: label %s=%q: want %q, %q or %q",
				n.Name, NodeLabel, lv, nodeLabelNative, nodeLabelStrips, nodeLabelRejects))
			c = c.withEvidence(Evidence{sourceNodeLabel, subject, fmt.Sprintf("label %s=%q is not a known value: ignored", NodeLabel, lv)})
		case k == KubeletNative && c.Kubelet == KubeletStrips:
			errs = append(errs, fmt.Errorf("compat: node %q: label %s=%q contradicts kubelet version %q, which cannot run native sidecars",
				n.Name, NodeLabel, lv, v))
			c = c.withEvidence(Evidence{sourceNodeLabel, subject, fmt.Sprintf("label %s=%q contradicts the version: ignored", NodeLabel, lv)})
		default:
			c = labelled(c, k).withEvidence(Evidence{sourceNodeLabel, subject,
				fmt.Sprintf("label %s=%q: kubelet %s", NodeLabel, lv, k)})
		}
	}
	return c, errors.Join(errs...)
}

// labelled applies a label's kubelet capability to c. Ordered termination
// still comes from the version (1.28 is unordered even when native).
func labelled(c Capability, k Kubelet) Capability {
	c.Kubelet = k
	if k != KubeletNative {
		c.OrderedTermination = Unsupported
	}
	return c
}
