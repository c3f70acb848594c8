package main

import (
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

// doctorPodLive diagnoses a Pod read through the kubeconfig, with the API
// server's capability (version and /metrics) joined with its node's (the
// Node object, and its kubelet's /metrics where RBAC allows), or, for a
// Pod not scheduled yet, the weakest node it may land on.
func doctorPodLive(kf *kubeFlags, name, intended, output string, stdin io.Reader, stdout io.Writer) error {
	k, err := kf.connect()
	if err != nil {
		return err
	}
	ctx := context.Background()
	pod, err := call(ctx, k, func(ctx context.Context) (*corev1.Pod, error) {
		return k.client.CoreV1().Pods(k.namespace).Get(ctx, name, metav1.GetOptions{})
	})
	if err != nil {
		return fmt.Errorf("pod %s/%s: %w", k.namespace, name, err)
	}
	facts := compat.Facts{Pod: pod}
	if intended != "" {
		if facts.Intended, err = readIntended(intended, stdin); err != nil {
			return err
		}
	}
	api, err := readAPIServer(ctx, k)
	if err != nil {
		return err
	}
	apiSubject := subject{Name: "kube-apiserver", Version: api.Version, Capability: api.Capability, Error: api.Error}
	if api.Metrics != "read" {
		apiSubject.Error = joinNonEmpty(apiSubject.Error, "metrics "+api.Metrics)
	}
	r := report{Subjects: []subject{apiSubject}}
	facts.Capability = api.Capability
	if pod.Spec.NodeName != "" {
		node, err := call(ctx, k, func(ctx context.Context) (*corev1.Node, error) {
			return k.client.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
		})
		s := subject{Name: "node/" + pod.Spec.NodeName}
		if err != nil {
			s.Error = "the node cannot be read: " + describe(err)
		} else {
			var nr nodeReport
			readNodeMetrics(ctx, k, node, &nr)
			s.Version, s.Capability = node.Status.NodeInfo.KubeletVersion, nr.Capability
			if nr.Metrics != "read" {
				s.Error = joinNonEmpty(nr.Error, "metrics "+nr.Metrics)
			} else {
				s.Error = nr.Error
			}
			facts.Capability = facts.Capability.Override(nr.Capability)
		}
		r.Subjects = append(r.Subjects, s)
	} else {
		nodes, err := listNodes(ctx, k)
		s := subject{Name: "nodes the Pod may land on"}
		if err != nil {
			s.Error = "the nodes cannot be listed: " + describe(err)
		} else {
			c, err := compat.Cluster{Nodes: nodes}.For(&pod.Spec)
			if err != nil {
				s.Error = oneLine(err.Error())
			}
			s.Capability = c
			facts.Capability = facts.Capability.Override(c)
		}
		r.Subjects = append(r.Subjects, s)
	}
	r.Capability = facts.Capability
	r.Findings = compat.Diagnose(facts)
	return write(stdout, output, &r)
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
