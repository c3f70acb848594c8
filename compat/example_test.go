package compat_test

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

// A kubelet version with a distribution suffix: only major.minor counts.
func ExampleParseKubeletVersion() {
	for _, v := range []string{"v1.29.3-eks-ae9a62a", "v1.28.4+k0s.0", "v1.27.16", "unknown"} {
		c, err := compat.ParseKubeletVersion(v)
		fmt.Printf("%-20s %-8s termination %s (error: %v)\n", v, c.Kubelet, c.OrderedTermination, err != nil)
	}
	// Output:
	// v1.29.3-eks-ae9a62a  native   termination supported (error: false)
	// v1.28.4+k0s.0        rejects  termination unsupported (error: false)
	// v1.27.16             strips   termination unsupported (error: false)
	// unknown              unknown  termination unknown (error: true)
}

// The API server's version says whether it stores restartPolicy, by default.
func ExampleParseAPIServerVersion() {
	for _, v := range []string{"v1.27.9", "v1.28.15", "v1.30.2-gke.1100"} {
		c, _ := compat.ParseAPIServerVersion(v)
		fmt.Println(v, c.APIServer)
	}
	// Output:
	// v1.27.9 unknown-field
	// v1.28.15 drops
	// v1.30.2-gke.1100 stores
}

// Our node label, set by an operator from the node's metrics, overrides the
// version's default.
func ExampleParseNode() {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "pool-a-1", Labels: map[string]string{compat.NodeLabel: "native"}},
		Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.28.15"}},
	}
	c, _ := compat.ParseNode(n)
	fmt.Println(c.Explain())
	// Output:
	// kubelet=native orderedTermination=unsupported apiServer=unknown
	//   node/pool-a-1 (kubelet-version): version "v1.28.15" is 1.28: SidecarContainers is alpha and off by default: the kubelet rejects the Pod unless metrics show the gate on; even then termination is unordered
	//   node/pool-a-1 (node-label): label sidecarkit.io/native-sidecars="native": kubelet native
}

// The weakest node a Pod may land on, honouring its node selector.
func ExampleCluster_For() {
	mk := func(name, version, pool string) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"pool": pool}},
			Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: version}}}
	}
	nodes := []corev1.Node{mk("a", "v1.31.2", "main"), mk("b", "v1.27.9", "batch"), mk("c", "v1.33.1", "main")}
	all, _ := compat.Cluster{Nodes: nodes}.For(nil)
	main, _ := compat.Cluster{Nodes: nodes}.For(&corev1.PodSpec{NodeSelector: map[string]string{"pool": "main"}})
	fmt.Println("cluster:", all.Kubelet)
	fmt.Println("pool main:", main.Kubelet)
	// Output:
	// cluster: strips
	// pool main: native
}

// Reading a component's /metrics text.
func ExampleParseFeatureMetrics() {
	text := `# HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.
# TYPE kubernetes_feature_enabled gauge
kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"} 0
kubernetes_feature_enabled{name="WatchList",stage="BETA"} 1
`
	g, err := compat.ParseFeatureMetrics(strings.NewReader(text))
	if err != nil {
		fmt.Println(err)
		return
	}
	s, _ := g.Lookup(compat.GateSidecarContainers)
	fmt.Printf("%d gates; %s stage=%q enabled=%s\n", len(g.Gates), s.Name, s.Stage, s.Enabled())
	// Output:
	// 2 gates; SidecarContainers stage="BETA" enabled=unsupported
}

// A kubelet's metrics decide over its version; without a series, the
// version decides where it can.
func ExampleFromKubeletMetrics() {
	off, _ := compat.ParseFeatureMetrics(strings.NewReader(`kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"} 0`))
	c, _ := compat.FromKubeletMetrics(off, "v1.30.4")
	fmt.Println(c.Kubelet)

	removed, _ := compat.ParseFeatureMetrics(strings.NewReader(`kubernetes_feature_enabled{name="WatchList",stage=""} 1`))
	c, _ = compat.FromKubeletMetrics(removed, "v1.37.2")
	fmt.Println(c.Kubelet)
	_, err := compat.FromKubeletMetrics(removed, "v1.31.0")
	fmt.Println(err)
	// Output:
	// rejects
	// native
	// compat: kubelet metrics for version "v1.31.0": no SidecarContainers series although the component's version has the gate
}

// The API server's metrics (kubectl get --raw /metrics).
func ExampleFromAPIServerMetrics() {
	g, _ := compat.ParseFeatureMetrics(strings.NewReader(`kubernetes_feature_enabled{name="SidecarContainers",stage="ALPHA"} 1`))
	c, _ := compat.FromAPIServerMetrics(g, "v1.28.15")
	fmt.Println(c.APIServer)
	// Output:
	// stores
}

// An operator reads a node's kubelet metrics and labels the node.
func ExampleFromNodeMetrics() {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w1"},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.28.15"}}}
	g, _ := compat.ParseFeatureMetrics(strings.NewReader(`kubernetes_feature_enabled{name="SidecarContainers",stage="ALPHA"} 1`))
	c, _ := compat.FromNodeMetrics(n, g)
	if v, ok := compat.NodeLabelValue(c.Kubelet); ok {
		fmt.Printf("%s=%s (ordered termination: %s)\n", compat.NodeLabel, v, c.OrderedTermination)
	}
	// Output:
	// sidecarkit.io/native-sidecars=native (ordered termination: unsupported)
}

// Without node data, the skew policy bounds the weakest kubelet; real
// nodes then override it.
func ExampleFromSkewPolicy() {
	for _, v := range []string{"v1.29.0", "v1.31.5", "v1.32.0"} {
		c, _ := compat.FromSkewPolicy(v)
		fmt.Printf("%s: weakest kubelet %s\n", v, c.Kubelet)
	}
	// Output:
	// v1.29.0: weakest kubelet rejects
	// v1.31.5: weakest kubelet rejects
	// v1.32.0: weakest kubelet native
}

// Joining what is known about the API server and the nodes.
func ExampleCapability_Override() {
	api, _ := compat.FromSkewPolicy("v1.30.1")
	nodes := compat.Weakest(
		compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported},
		compat.Capability{Kubelet: compat.KubeletStrips, OrderedTermination: compat.Unsupported},
	)
	fmt.Println(api)
	fmt.Println(api.Override(nodes))
	// Output:
	// kubelet=rejects orderedTermination=unsupported apiServer=stores
	// kubelet=strips orderedTermination=unsupported apiServer=stores
}

// The requirement that keeps a Pinned Pod on native-capable nodes.
func ExampleNativeNodeSelectorRequirement() {
	r := compat.NativeNodeSelectorRequirement()
	fmt.Println(r.Key, r.Operator, r.Values)
	// Output:
	// sidecarkit.io/native-sidecars In [native]
}

// Diagnosing a stored Pod whose sidecar lost restartPolicy.
func ExampleDiagnose() {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{
			Manager: "kubectl", FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:initContainers":{"k:{\"name\":\"proxy\"}":{".":{},"f:restartPolicy":{}}}}}`)},
		}}},
		Spec: corev1.PodSpec{NodeName: "w1", InitContainers: []corev1.Container{{Name: "proxy"}}, Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
			{Name: "proxy", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
	for _, f := range compat.Diagnose(compat.Facts{Pod: pod}) {
		fmt.Println(f.Severity, f.Code, f.Path)
	}
	// Output:
	// error field-dropped spec.initContainers[0].restartPolicy
	// error sidecar-blocks-init spec.initContainers[0]
}
