package compat

// TEMPORARY: a stand-in for the compat API until the compat branch lands.

import corev1 "k8s.io/api/core/v1"

type Kubelet int

const (
	KubeletUnknown Kubelet = iota
	KubeletNative
	KubeletStrips
	KubeletRejects
)

type APIServer int

const (
	APIServerUnknown APIServer = iota
	APIServerStores
	APIServerDrops
	APIServerUnknownField
)

type Capability struct {
	Kubelet   Kubelet
	APIServer APIServer
}

type Strategy int

const (
	StrategyUnknown Strategy = iota
	Native
	Legacy
	Pinned
	Universal
)

type Preference struct {
	AllowPinned    bool
	AllowUniversal bool
	Fallback       Strategy
}

type Recommendation struct {
	Strategy Strategy
	Reason   string
	Warnings []string
}

func Recommend(c Capability, p Preference) Recommendation {
	switch {
	case c.APIServer == APIServerDrops || c.APIServer == APIServerUnknownField:
		return Recommendation{Strategy: Legacy, Reason: "api server cannot store restartPolicy on init containers"}
	case c.Kubelet == KubeletNative:
		return Recommendation{Strategy: Native, Reason: "every node runs native sidecars"}
	case c.Kubelet == KubeletRejects && p.AllowPinned:
		return Recommendation{Strategy: Pinned, Reason: "some nodes reject native sidecars"}
	case c.Kubelet == KubeletStrips && p.AllowUniversal:
		return Recommendation{Strategy: Universal, Reason: "some nodes strip restartPolicy"}
	}
	f := p.Fallback
	if f == StrategyUnknown {
		f = Legacy
	}
	return Recommendation{Strategy: f, Reason: "capability unknown"}
}

const NodeLabel = "sidecarkit.io/native-sidecars"

func NativeNodeSelectorRequirement() corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: NodeLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{"native"}}
}
