// Package compat describes what a node and an API server do with native
// sidecar containers (init containers with restartPolicy Always), detects
// it, and diagnoses Pods whose sidecars do not work.
//
// The flow: gather what you know about the cluster into a [Cluster] (the
// API server's version and /metrics, the Node objects, the kubelets'
// /metrics) and ask [Cluster.For] what it can do for a Pod; pass that
// [Capability] to package sidecar, whose Recommend and Injector turn it
// into an injection mode; when a Pod is stuck, [Diagnose] says why.
//
// Everything here is a pure function of its inputs: no I/O, no logging, no
// globals. Unknown is a first-class answer and is never treated as yes or
// no; a parse failure returns an error and an Unknown capability.
//
//   - The descriptor: [Capability] holds a [Kubelet] capability (native,
//     strips, rejects), whether termination is ordered ([Support]), an
//     [APIServer] capability (stores, drops, unknown field) and the
//     [Evidence] behind them. Peers combine with [Weakest]; a stronger
//     source refines a weaker one with [Capability.Override].
//   - The cluster: [Cluster.For] joins the API server's capability with
//     the weakest node a Pod may land on, honouring nodeName, nodeSelector
//     and required node affinity.
//   - Detectors of one component: [ParseKubeletVersion] and
//     [ParseAPIServerVersion] (any distribution suffix; major.minor only),
//     [ParseNode] (status.nodeInfo.kubeletVersion and our [NodeLabel]),
//     [ParseFeatureMetrics] with [FromKubeletMetrics],
//     [FromAPIServerMetrics] and [FromNodeMetrics] (the
//     kubernetes_feature_enabled series), and [FromSkewPolicy].
//   - Pinning: [NodeLabel], [NodeLabelValue] and
//     [NativeNodeSelectorRequirement].
//   - Diagnosis: [Diagnose] turns a stored Pod, optionally its intended
//     spec, and a Capability into [Finding] values (dropped restartPolicy,
//     the init container that blocks a Pod in Init, probes that get a Pod
//     rejected, gates that are off, unordered termination, ordering).
//
// The facts behind every rule are in the repository's docs/ folder
// (docs/native-sidecars.md, docs/capability.md, docs/modes.md,
// docs/field-stripping.md), each linked to the Kubernetes source; comments
// cite its sections.
package compat
