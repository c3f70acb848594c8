package main

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestPools groups nodes by the chosen label, falls back to the kubelet
// version for nodes without it, and recommends per pool: pinned only where
// the pool has a node labelled native.
func TestPools(t *testing.T) {
	api, err := compat.ParseAPIServerVersion("v1.33.1")
	if err != nil {
		t.Fatal(err)
	}
	gke := func(pool string) map[string]string { return map[string]string{"cloud.google.com/gke-nodepool": pool} }
	nodes := []corev1.Node{
		fakeNode("b-new", "v1.33.1-gke.100", gke("new")),
		fakeNode("a-new", "v1.33.1-gke.100", gke("new")),
		fakeNode("mixed-old", "v1.27.9-gke.1", gke("mixed")),
		fakeNode("mixed-new", "v1.33.1-gke.100", map[string]string{"cloud.google.com/gke-nodepool": "mixed", compat.NodeLabel: "native"}),
		fakeNode("rejecting", "v1.28.4-gke.1", gke("alpha")),
		fakeNode("stray", "v1.27.9", nil),
		fakeNode("stray-2", "v1.27.9", nil),
	}
	if l := choosePoolLabel("", nodes); l != "cloud.google.com/gke-nodepool" {
		t.Fatalf("pool label %q, want the GKE one", l)
	}
	if l := choosePoolLabel("", nodes[5:]); l != "" {
		t.Errorf("no well-known label: %q, want none (by version)", l)
	}
	if l := choosePoolLabel("team", nodes); l != "team" {
		t.Errorf("--pool-label team: %q", l)
	}
	reports := make([]nodeReport, len(nodes))
	byName := map[string]*corev1.Node{}
	for i := range nodes {
		c, _ := compat.ParseNode(&nodes[i])
		reports[i] = nodeReport{Name: nodes[i].Name, Capability: c, labelledNative: nodes[i].Labels[compat.NodeLabel] == "native"}
		byName[nodes[i].Name] = &nodes[i]
	}
	for _, tc := range []struct {
		universal bool
		want      map[string]string
	}{
		{true, map[string]string{
			"cloud.google.com/gke-nodepool=alpha": "legacy",    // rejects, no labelled node to pin to
			"cloud.google.com/gke-nodepool=mixed": "universal", // strips: universal first
			"cloud.google.com/gke-nodepool=new":   "native",
			"kubelet v1.27.9":                     "universal",
		}},
		{false, map[string]string{
			"cloud.google.com/gke-nodepool=alpha": "legacy",
			"cloud.google.com/gke-nodepool=mixed": "pinned", // a node labelled native to pin to
			"cloud.google.com/gke-nodepool=new":   "native",
			"kubelet v1.27.9":                     "legacy",
		}},
	} {
		pools := groupPools("cloud.google.com/gke-nodepool", reports, byName, api, tc.universal)
		got := map[string]string{}
		var names []string
		for _, p := range pools {
			got[p.Name] = p.Recommendation.Mode.String()
			names = append(names, p.Name)
		}
		if !equalMaps(got, tc.want) {
			t.Errorf("universal %v: pools %v, want %v", tc.universal, got, tc.want)
		}
		if names[0] != "cloud.google.com/gke-nodepool=alpha" || names[3] != "kubelet v1.27.9" {
			t.Errorf("pools not sorted by name: %v", names)
		}
		if p := pools[2]; p.Nodes[0].Name != "a-new" {
			t.Errorf("nodes of pool %s not sorted: %s first", p.Name, p.Nodes[0].Name)
		}
	}
	// No nodes: the kubelet is unknown whatever the API server says.
	c, rec := recommendFor(nil, api, true)
	if c.Kubelet != compat.KubeletUnknown || rec.Code != compat.CodeKubeletUnknown {
		t.Errorf("no nodes: %v, %s", c, rec.Code)
	}
}
