package compat

import (
	"fmt"
	"strings"
)

// Capability describes what a node (or the weakest node a Pod may land on)
// and the API server do with an init container that carries
// restartPolicy: Always. It is a value type; the zero value knows nothing:
// every field is Unknown.
//
// Combine peers (several nodes, several API servers) with [Weakest]; refine
// one source with a stronger one (node versions over the skew policy, metrics
// over versions) with [Capability.Override].
type Capability struct {
	// Kubelet is what the kubelet does with the field.
	Kubelet Kubelet `json:"kubelet"`
	// OrderedTermination says whether native sidecars stop after the main
	// containers, in reverse order (1.29+). On 1.28 they get SIGTERM together
	// with the app (docs/native-sidecars.md#termination). Supported only with a native kubelet.
	OrderedTermination Support `json:"orderedTermination"`
	// APIServer is what the API server does with the field.
	APIServer APIServer `json:"apiServer"`
	// Evidence lists who said what, in the order it was gathered.
	Evidence []Evidence `json:"evidence,omitempty"`
}

// The evidence sources, the values of Evidence.Source.
const (
	sourceKubeletVersion   = "kubelet-version"   // status.nodeInfo.kubeletVersion or a kubelet version string
	sourceAPIServerVersion = "apiserver-version" // the API server's /version gitVersion
	sourceMetrics          = "metrics"           // kubernetes_feature_enabled in a component's /metrics
	sourceNodeLabel        = "node-label"        // our node label, see [NodeLabel]
	sourceSkewPolicy       = "skew-policy"       // the version-skew policy (docs/capability.md#version-skew)
	sourceNodeSelection    = "node-selection"    // which nodes a Pod may land on
)

// Evidence records one source's statement.
type Evidence struct {
	// Source is the kind of evidence: "kubelet-version" (a kubelet's
	// version), "apiserver-version" (the API server's /version),
	// "metrics" (kubernetes_feature_enabled in a component's /metrics),
	// "node-label" (the [NodeLabel] label), "skew-policy" (the
	// version-skew policy, docs/capability.md#version-skew) or
	// "node-selection" (which nodes a Pod may land on).
	Source string `json:"source"`
	// Subject is who the evidence is about: "node/<name>", "kubelet" or
	// "kube-apiserver".
	Subject string `json:"subject"`
	// Detail says what the source said and what was concluded.
	Detail string `json:"detail"`
}

// String formats e as "subject (source): detail".
func (e Evidence) String() string {
	return fmt.Sprintf("%s (%s): %s", e.Subject, e.Source, e.Detail)
}

// String formats the descriptor on one line, without the evidence, for
// example "kubelet=native orderedTermination=supported apiServer=stores".
func (c Capability) String() string {
	return fmt.Sprintf("kubelet=%s orderedTermination=%s apiServer=%s", c.Kubelet, c.OrderedTermination, c.APIServer)
}

// Explain formats the descriptor followed by one line per piece of evidence.
func (c Capability) Explain() string {
	var b strings.Builder
	b.WriteString(c.String())
	for _, e := range c.Evidence {
		b.WriteString("\n  ")
		b.WriteString(e.String())
	}
	return b.String()
}

// Weakest combines peers: the capability that holds for all of them, field by
// field, the weakest value (see [Kubelet] and [APIServer] for the order; an
// Unknown peer makes Unknown, except that a known failure is weaker than
// Unknown). The evidence of all peers is kept in order. Weakest of nothing is
// the zero Capability.
//
// Use it for several nodes or several API servers, not to join an API server
// with nodes: each peer's Unknown fields count. Join those with
// [Capability.Override].
func Weakest(cs ...Capability) Capability {
	if len(cs) == 0 {
		return Capability{}
	}
	out := Capability{
		Kubelet:            cs[0].Kubelet,
		OrderedTermination: cs[0].OrderedTermination,
		APIServer:          cs[0].APIServer,
	}
	n := 0
	for _, c := range cs {
		n += len(c.Evidence)
		if c.Kubelet.weakness() > out.Kubelet.weakness() {
			out.Kubelet = c.Kubelet
		}
		if c.OrderedTermination.weakness() > out.OrderedTermination.weakness() {
			out.OrderedTermination = c.OrderedTermination
		}
		if c.APIServer.weakness() > out.APIServer.weakness() {
			out.APIServer = c.APIServer
		}
	}
	if n > 0 {
		out.Evidence = make([]Evidence, 0, n)
		for _, c := range cs {
			out.Evidence = append(out.Evidence, c.Evidence...)
		}
	}
	return out
}

// Override returns c with every field that o knows (is not Unknown) replaced
// by o's value, and o's evidence appended to c's. Use it when o is the
// stronger source: actual node versions over the skew policy, metrics over
// versions, or simply to join an API server's capability with the nodes'.
// Unknown never replaces a known value.
func (c Capability) Override(o Capability) Capability {
	out := Capability{Kubelet: c.Kubelet, OrderedTermination: c.OrderedTermination, APIServer: c.APIServer}
	if o.Kubelet != KubeletUnknown {
		out.Kubelet = o.Kubelet
	}
	if o.OrderedTermination != Unknown {
		out.OrderedTermination = o.OrderedTermination
	}
	if o.APIServer != APIServerUnknown {
		out.APIServer = o.APIServer
	}
	if n := len(c.Evidence) + len(o.Evidence); n > 0 {
		out.Evidence = make([]Evidence, 0, n)
		out.Evidence = append(out.Evidence, c.Evidence...)
		out.Evidence = append(out.Evidence, o.Evidence...)
	}
	return out
}

// withEvidence returns c with e appended, never sharing c's backing array.
func (c Capability) withEvidence(e ...Evidence) Capability {
	ev := make([]Evidence, 0, len(c.Evidence)+len(e))
	ev = append(ev, c.Evidence...)
	c.Evidence = append(ev, e...)
	return c
}
