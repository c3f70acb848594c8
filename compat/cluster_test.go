package compat_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

// ptr returns a pointer to g.
func ptr(g compat.FeatureGates) *compat.FeatureGates { return &g }

// Cluster.For joins the API server (version, overridden by metrics) with
// the weakest node the Pod may land on (metrics, else label, else version);
// what is missing stays Unknown.
func TestClusterFor(t *testing.T) {
	onMain := &corev1.PodSpec{NodeSelector: map[string]string{"pool": "main"}}
	pool := func(n corev1.Node, p string) corev1.Node {
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels["pool"] = p
		return n
	}
	for _, tc := range []struct {
		name    string
		cl      compat.Cluster
		spec    *corev1.PodSpec
		api     compat.APIServer
		kubelet compat.Kubelet
		errText string
	}{
		{name: "nothing known", api: compat.APIServerUnknown, kubelet: compat.KubeletUnknown},
		{name: "version only", cl: compat.Cluster{APIServerVersion: "v1.31.2"}, api: compat.APIServerStores, kubelet: compat.KubeletUnknown},
		{name: "metrics override the version", cl: compat.Cluster{APIServerVersion: "v1.31.2", APIServerMetrics: ptr(gates("BETA", 0))},
			api: compat.APIServerDrops, kubelet: compat.KubeletUnknown},
		{name: "inconclusive metrics keep the version", cl: compat.Cluster{APIServerVersion: "v1.31.2", APIServerMetrics: ptr(gates("none", 0))},
			api: compat.APIServerStores, kubelet: compat.KubeletUnknown, errText: "API server metrics"},
		{name: "bad version", cl: compat.Cluster{APIServerVersion: "banana"}, api: compat.APIServerUnknown, kubelet: compat.KubeletUnknown, errText: "API server version"},
		{name: "weakest node", cl: compat.Cluster{APIServerVersion: "v1.31.2", Nodes: []corev1.Node{node("a", "v1.31.2", nil), node("b", "v1.27.3", nil)}},
			api: compat.APIServerStores, kubelet: compat.KubeletStrips},
		{name: "only the nodes the Pod may land on", cl: compat.Cluster{Nodes: []corev1.Node{pool(node("a", "v1.31.2", nil), "main"), pool(node("b", "v1.27.3", nil), "batch")}},
			spec: onMain, api: compat.APIServerUnknown, kubelet: compat.KubeletNative},
		{name: "no node matches", cl: compat.Cluster{Nodes: []corev1.Node{pool(node("b", "v1.27.3", nil), "batch")}},
			spec: onMain, api: compat.APIServerUnknown, kubelet: compat.KubeletUnknown},
		{name: "node metrics override its version", cl: compat.Cluster{Nodes: []corev1.Node{node("a", "v1.31.2", nil)}, NodeMetrics: map[string]compat.FeatureGates{"a": gates("BETA", 0)}},
			api: compat.APIServerUnknown, kubelet: compat.KubeletRejects},
		{name: "node label overrides its version", cl: compat.Cluster{Nodes: []corev1.Node{node("a", "v1.28.4", label("native"))}},
			api: compat.APIServerUnknown, kubelet: compat.KubeletNative},
		{name: "an unreadable node", cl: compat.Cluster{Nodes: []corev1.Node{node("a", "v1.31.2", nil), node("b", "", nil)}},
			api: compat.APIServerUnknown, kubelet: compat.KubeletUnknown, errText: `node "b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.cl.For(tc.spec)
			if c.APIServer != tc.api || c.Kubelet != tc.kubelet {
				t.Errorf("For = %v, want apiServer=%v kubelet=%v", c, tc.api, tc.kubelet)
			}
			switch {
			case tc.errText == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)):
				t.Errorf("error %v, want one containing %q", err, tc.errText)
			}
		})
	}
}
