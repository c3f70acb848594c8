package facts_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/examples/operator/facts"
)

func node(name, kubelet string, labels map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: kubelet}}}
}

func TestCluster(t *testing.T) {
	api := func(v string) func(context.Context) (facts.APIServer, error) {
		return func(context.Context) (facts.APIServer, error) { return facts.APIServer{Version: v}, nil }
	}
	tests := []struct {
		name         string
		requireLabel bool
		api          func(context.Context) (facts.APIServer, error)
		nodes        []client.Object
		spec         *corev1.PodSpec
		want         string
		wantErr      string
	}{
		{name: "nodes decide", api: api("v1.33.0"), nodes: []client.Object{node("a", "v1.31.0", nil), node("b", "v1.28.1", nil)},
			spec: &corev1.PodSpec{}, want: "kubelet=rejects orderedTermination=unsupported apiServer=stores"},
		{name: "selector", api: api("v1.33.0"), nodes: []client.Object{node("a", "v1.31.0", map[string]string{"pool": "x"}), node("b", "v1.28.1", nil)},
			spec: &corev1.PodSpec{NodeSelector: map[string]string{"pool": "x"}}, want: "kubelet=native orderedTermination=supported apiServer=stores"},
		{name: "no nodes: skew policy", api: api("v1.29.0"), spec: &corev1.PodSpec{},
			want: "kubelet=rejects orderedTermination=unsupported apiServer=stores"},
		{name: "api unknown", api: func(context.Context) (facts.APIServer, error) { return facts.APIServer{}, errors.New("down") },
			nodes: []client.Object{node("a", "v1.31.0", nil)}, spec: &corev1.PodSpec{},
			want: "kubelet=native orderedTermination=supported apiServer=unknown", wantErr: "api server: down"},
		{name: "require label: unlabelled node unknown", api: api("v1.33.0"), requireLabel: true,
			nodes: []client.Object{node("a", "v1.31.0", map[string]string{compat.NodeLabel: "native"}), node("b", "v1.31.0", nil)},
			spec:  &corev1.PodSpec{}, want: "kubelet=unknown orderedTermination=unknown apiServer=stores", wantErr: `node "b"`},
		{name: "require label: all labelled", api: api("v1.33.0"), requireLabel: true,
			nodes: []client.Object{node("a", "v1.30.0", map[string]string{compat.NodeLabel: "rejects"})},
			spec:  &corev1.PodSpec{}, want: "kubelet=rejects orderedTermination=unsupported apiServer=stores"},
		{name: "require label: a known failure still wins", api: api("v1.33.0"), requireLabel: true,
			nodes: []client.Object{node("a", "v1.30.0", map[string]string{compat.NodeLabel: "rejects"}), node("b", "v1.31.0", nil)},
			spec:  &corev1.PodSpec{}, want: "kubelet=rejects orderedTermination=unsupported apiServer=stores", wantErr: `node "b"`},
		{name: "no node matches: skew policy", api: api("v1.33.0"), nodes: []client.Object{node("a", "v1.27.0", nil)},
			spec: &corev1.PodSpec{NodeSelector: map[string]string{"pool": "x"}}, want: "kubelet=native orderedTermination=supported apiServer=stores"},
		{name: "api metrics: gate off", api: func(context.Context) (facts.APIServer, error) {
			return facts.APIServer{Version: "v1.30.1", Gates: &compat.FeatureGates{Gates: []compat.FeatureGate{{Name: "SidecarContainers", Stage: "BETA", Value: 0}}}}, nil
		}, nodes: []client.Object{node("a", "v1.31.0", nil)}, spec: &corev1.PodSpec{},
			want: "kubelet=native orderedTermination=supported apiServer=drops"},
		{name: "unreadable node", api: api("v1.33.0"), nodes: []client.Object{node("a", "garbage", nil), node("b", "v1.31.0", nil)},
			spec: &corev1.PodSpec{}, want: "kubelet=unknown orderedTermination=unknown apiServer=stores", wantErr: `node "a": status.nodeInfo.kubeletVersion`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &facts.Cluster{Nodes: fake.NewClientBuilder().WithObjects(tt.nodes...).Build(), APIServer: tt.api, RequireLabel: tt.requireLabel}
			got, err := c.Capability(context.Background(), tt.spec)
			if got.String() != tt.want {
				t.Errorf("capability = %s, want %s", got, tt.want)
			}
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestClusterListError(t *testing.T) {
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
		return errors.New("cache not synced")
	}}).Build()
	got, err := (&facts.Cluster{Nodes: c, APIServer: func(context.Context) (facts.APIServer, error) { return facts.APIServer{Version: "v1.33.0"}, nil }}).
		Capability(context.Background(), &corev1.PodSpec{})
	if err == nil || !strings.Contains(err.Error(), "list nodes: cache not synced") {
		t.Errorf("err = %v", err)
	}
	if got.Kubelet != compat.KubeletUnknown || got.APIServer != compat.APIServerStores {
		t.Errorf("nodes that cannot be listed are unknown, not the skew policy's: %s", got)
	}
}

// apiFacts counts the reads and serves a version and metrics, or errors.
type apiFacts struct {
	version    string
	versionErr error
	metrics    string
	reads      int
}

func (a *apiFacts) Version(context.Context) (string, error) {
	a.reads++
	return a.version, a.versionErr
}

func (a *apiFacts) Metrics(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(a.metrics)), nil
}

func TestAPIServerCache(t *testing.T) {
	now := time.Unix(0, 0)
	f := &apiFacts{version: "v1.30.1", metrics: `kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"} 0` + "\n"}
	a := &facts.APIServerCache{Facts: f, ReadMetrics: true, TTL: time.Minute, RetryAfter: 10 * time.Second, Now: func() time.Time { return now }}
	step := func(d time.Duration, wantAPI compat.APIServer, wantErr bool, wantReads int) {
		t.Helper()
		now = now.Add(d)
		got, err := a.Read(context.Background())
		var c compat.Capability
		if got.Version != "" {
			c, _ = compat.Cluster{APIServerVersion: got.Version, APIServerMetrics: got.Gates}.For(nil)
		}
		if c.APIServer != wantAPI || (err != nil) != wantErr || f.reads != wantReads {
			t.Errorf("at %v: %s, err %v, %d reads; want %s, err %v, %d reads", now.Unix(), c, err, f.reads, wantAPI, wantErr, wantReads)
		}
	}
	step(0, compat.APIServerDrops, false, 1) // the gate is off: metrics over version
	step(30*time.Second, compat.APIServerDrops, false, 1)
	f.versionErr = errors.New("timeout")
	step(31*time.Second, compat.APIServerDrops, true, 2) // a failed refresh keeps the last good value
	step(5*time.Second, compat.APIServerDrops, true, 2)  // and is not retried before RetryAfter
	f.versionErr = nil
	f.metrics = `kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"} 1` + "\n"
	step(6*time.Second, compat.APIServerStores, false, 3)

	fresh := &facts.APIServerCache{Facts: &apiFacts{versionErr: errors.New("refused")}}
	if f, err := fresh.Read(context.Background()); err == nil || f.Version != "" || f.Gates != nil {
		t.Errorf("first read failing: %+v, %v; want nothing and an error", f, err)
	}
}
