package crwebhook_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/crwebhook"
)

func node(name, kubelet string, labels map[string]string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: kubelet}},
	}
}

func TestCluster(t *testing.T) {
	nodes := []corev1.Node{
		*node("new", "v1.33.1", map[string]string{"pool": "new"}),
		*node("old", "v1.27.9", map[string]string{"pool": "old"}),
	}
	reader := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(&nodes[0], &nodes[1]).Build()
	failing := interceptor.NewClient(fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).Build(), interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("nodes is forbidden")
		},
	})
	want := func(nodes []corev1.Node, spec *corev1.PodSpec) compat.Capability {
		c, err := compat.Cluster{APIServerVersion: "v1.33.1", Nodes: nodes}.For(spec)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	newPool := &corev1.PodSpec{NodeSelector: map[string]string{"pool": "new"}}
	if a, b := want(nodes, newPool), want(nodes, nil); a.Kubelet == b.Kubelet {
		t.Fatalf("the node selector does not change the kubelet side: %v", a.Kubelet)
	}
	tests := []struct {
		name    string
		cl      crwebhook.Cluster
		spec    *corev1.PodSpec
		want    compat.Capability
		wantErr string
	}{
		{
			name: "every node", cl: crwebhook.Cluster{Nodes: reader, APIServerVersion: "v1.33.1"},
			want: want(nodes, nil),
		},
		{
			name: "the node the pod selects", cl: crwebhook.Cluster{Nodes: reader, APIServerVersion: "v1.33.1"},
			spec: newPool,
			want: want(nodes, newPool),
		},
		{
			name: "list options narrow the nodes", cl: crwebhook.Cluster{Nodes: reader, APIServerVersion: "v1.33.1", ListOptions: []client.ListOption{client.MatchingLabels{"pool": "old"}}},
			want: want(nodes[1:], nil),
		},
		{
			name: "list fails: kubelet unknown", cl: crwebhook.Cluster{Nodes: failing, APIServerVersion: "v1.33.1"},
			want: want(nil, nil), wantErr: "crwebhook: list nodes: nodes is forbidden",
		},
		{
			name: "no reader", cl: crwebhook.Cluster{APIServerVersion: "v1.33.1"},
			want: want(nil, nil), wantErr: "Cluster.Nodes is nil",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cl.Capability(context.Background(), tt.spec)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("capability (-want +got):\n%s", d)
			}
		})
	}
	if n, o := want(nodes[:1], nil), want(nodes[1:], nil); n.Kubelet == o.Kubelet {
		t.Fatalf("test nodes do not differ: %v", n.Kubelet)
	}
}
