package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

// clusterFlags are the flags that say what the cluster can do.
type clusterFlags struct {
	kubeletVersion, apiserverVersion, nodeFile, metricsFile string
}

func (f *clusterFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.kubeletVersion, "kubelet-version", "", "the oldest kubelet version the Pod may run on, e.g. v1.29.3-eks-ae9a62a; alone, it implies an API server at least as new")
	fl.StringVar(&f.apiserverVersion, "apiserver-version", "", "the API server's version; without kubelet facts the version-skew policy gives the oldest kubelet")
	fl.StringVar(&f.nodeFile, "node", "", "a Node or a NodeList (kubectl get nodes -o json): the weakest node the Pod may land on decides")
	fl.StringVar(&f.metricsFile, "metrics", "", "the API server's metrics text (kubectl get --raw /metrics)")
}

// changed returns the first of the flags that was given, or "".
func (f *clusterFlags) changed(cmd *cobra.Command) string {
	for _, name := range []string{"kubelet-version", "apiserver-version", "node", "metrics"} {
		if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed {
			return "--" + name
		}
	}
	return ""
}

func (f *clusterFlags) load(stdin io.Reader) (*facts, error) {
	return loadFacts(f.apiserverVersion, f.kubeletVersion, f.nodeFile, f.metricsFile, stdin)
}

// facts are what the flags say about the cluster.
type facts struct {
	base  compat.Capability // the API server, and the skew policy's oldest kubelet
	nodes []corev1.Node
	// kubelet is the --kubelet-version capability, when given.
	kubelet *compat.Capability
}

func loadFacts(apiserverVersion, kubeletVersion, nodeFile, metricsFile string, stdin io.Reader) (*facts, error) {
	f := &facts{}
	if apiserverVersion != "" {
		// The API server's own capability, and the oldest kubelet the skew
		// policy allows.
		skew, err := compat.FromSkewPolicy(apiserverVersion)
		if err != nil {
			return nil, fmt.Errorf("--apiserver-version: %w", err)
		}
		f.base = skew
	}
	if metricsFile != "" {
		b, err := readInput(metricsFile, stdin)
		if err != nil {
			return nil, err
		}
		g, err := parseFeatureMetrics(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", metricsFile, err)
		}
		m, err := compat.FromAPIServerMetrics(g, apiserverVersion)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", metricsFile, err)
		}
		f.base = f.base.Override(m)
	}
	if kubeletVersion != "" {
		k, err := compat.ParseKubeletVersion(kubeletVersion)
		if err != nil {
			return nil, fmt.Errorf("--kubelet-version: %w", err)
		}
		if apiserverVersion == "" && metricsFile == "" {
			// The version-skew policy never lets a kubelet be newer than
			// its API server (docs/capability.md#version-skew), so the API
			// server is at least this new; judged at exactly this version
			// (with its default gates) it is judged at its weakest.
			if api, err := compat.ParseAPIServerVersion(kubeletVersion); err == nil {
				api.Evidence = append(api.Evidence, compat.Evidence{Source: "skew-policy", Subject: "kube-apiserver",
					Detail: "no --apiserver-version: at least as new as --kubelet-version " + kubeletVersion + ", since no kubelet is newer than its API server"})
				f.base = api
			}
		}
		f.kubelet = &k
	}
	if nodeFile != "" {
		nodes, err := readNodes(nodeFile, stdin)
		if err != nil {
			return nil, err
		}
		f.nodes = nodes
	}
	return f, nil
}

// apiServer returns what is known about the API server (and, from the
// skew policy, the oldest kubelet it allows).
func (f *facts) apiServer() compat.Capability { return f.base }

// capability returns what the cluster can do for a Pod with the given spec:
// the API server's capability joined with the weakest kubelet the Pod may
// run on (its nodes when given, else --kubelet-version, else the skew
// policy).
func (f *facts) capability(spec *corev1.PodSpec) (compat.Capability, error) {
	c := f.base
	if f.kubelet != nil {
		c = c.Override(*f.kubelet)
	}
	if f.nodes != nil {
		n, err := compat.Cluster{Nodes: f.nodes}.For(spec)
		if err != nil {
			return compat.Capability{}, fmt.Errorf("--node: %w", err)
		}
		c = c.Override(n)
	}
	return c, nil
}

// readNodes reads a Node, a NodeList or a List of Nodes.
func readNodes(name string, stdin io.Reader) ([]corev1.Node, error) {
	docs, err := readDocuments(name, stdin)
	if err != nil {
		return nil, err
	}
	var nodes []corev1.Node
	for _, d := range docs {
		var head struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(d.json, &head); err != nil {
			return nil, fmt.Errorf("%s: %w", d.source, err)
		}
		items := []json.RawMessage{d.json}
		if head.Kind == "NodeList" {
			items = head.Items
		} else if head.Kind != "Node" {
			return nil, fmt.Errorf("%s: kind %q is not a Node or NodeList", d.source, head.Kind)
		}
		for _, it := range items {
			var n corev1.Node
			if err := json.Unmarshal(it, &n); err != nil {
				return nil, fmt.Errorf("%s: %w", d.source, err)
			}
			nodes = append(nodes, n)
		}
	}
	return nodes, nil
}
