package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
)

func node(name, kubelet string, labels map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: kubelet}}}
}

// The node source answers the weakest node the Pod may land on, follows
// node changes, and joins the API server's capability from discovery.
func TestNodeSource(t *testing.T) {
	client := fake.NewSimpleClientset(node("a", "v1.33.2", map[string]string{"pool": "new"}), node("b", "v1.27.9", map[string]string{"pool": "old"}))
	client.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.33.2"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := newNodeSource(ctx, client, compat.Capability{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	capOf := func(selector map[string]string) compat.Capability {
		t.Helper()
		c, err := s.capability(ctx, &admission.Request{SchedulingSpec: &corev1.PodSpec{NodeSelector: selector}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.synced() || s.nodes.Load() == nil || len(*s.nodes.Load()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("informer did not sync")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c := capOf(nil); c.Kubelet != compat.KubeletStrips || c.APIServer != compat.APIServerStores {
		t.Errorf("whole cluster: %v, want the 1.27 node's (strips) and a storing API server", c)
	}
	if c := capOf(map[string]string{"pool": "new"}); c.Kubelet != compat.KubeletNative {
		t.Errorf("pool new: %v, want native", c)
	}
	if err := client.CoreV1().Nodes().Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for capOf(nil).Kubelet != compat.KubeletNative {
		if time.Now().After(deadline) {
			t.Fatalf("deleting the old node did not change the answer: %v", capOf(nil))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
