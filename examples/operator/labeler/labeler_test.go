package labeler_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/examples/operator/labeler"
)

func node(name, kubelet string, labels map[string]string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: kubelet}},
	}
}

// metricsFunc serves fixed metrics text per node, or an error.
type metricsFunc func(node string) (string, error)

func (f metricsFunc) NodeMetrics(_ context.Context, node string) (io.ReadCloser, error) {
	s, err := f(node)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(strings.NewReader(s)), nil
}

func gate(stage string, value int) string {
	return "# HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.\n" +
		"# TYPE kubernetes_feature_enabled gauge\n" +
		`kubernetes_feature_enabled{name="AnonymousAuthConfigurableEndpoints",stage="BETA"} 1` + "\n" +
		`kubernetes_feature_enabled{name="SidecarContainers",stage="` + stage + `"} ` + string(rune('0'+value)) + "\n"
}

// recorder collects the patches the reconciler sends.
type recorder struct{ patches []string }

func (r *recorder) funcs() interceptor.Funcs {
	return interceptor.Funcs{Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
		body, err := p.Data(obj)
		if err != nil {
			return err
		}
		r.patches = append(r.patches, string(p.Type())+" "+string(body))
		return c.Patch(ctx, obj, p, opts...)
	}}
}

func TestReconcile(t *testing.T) {
	const notLabelled = "<none>"
	tests := []struct {
		name    string
		kubelet string
		label   string // the label before; "" means none
		metrics metricsFunc
		want    string // the label after; notLabelled means none
		wantErr bool
		// wantPatch is false when the reconcile must leave the node alone.
		wantPatch bool
		reason    string
	}{
		{name: "1.27 strips", kubelet: "v1.27.16", want: "strips", wantPatch: true},
		{name: "1.28 rejects", kubelet: "v1.28.15-gke.1", want: "rejects", wantPatch: true},
		{name: "1.29 eks native", kubelet: "v1.29.3-eks-ae9a62a", want: "native", wantPatch: true},
		{name: "1.37 native", kubelet: "v1.37.2", want: "native", wantPatch: true},
		{name: "already right", kubelet: "v1.31.0", label: "native", want: "native",
			reason: "a second reconcile, or a node already labelled, issues no patch"},
		{name: "stale label corrected", kubelet: "v1.27.3", label: "native", want: "strips", wantPatch: true,
			reason: "the label is ignored when computing: the labeler never reads back what it wrote"},
		{name: "hand-set label overruled", kubelet: "v1.28.4", label: "native", want: "rejects", wantPatch: true},
		{name: "unparsable version removes label", kubelet: "not-a-version", label: "native", want: notLabelled, wantPatch: true,
			reason: "unknown is never guessed: the label goes"},
		{name: "unparsable version, no label", kubelet: "", want: notLabelled},
		{name: "metrics: 1.30 gate off", kubelet: "v1.30.2", metrics: func(string) (string, error) { return gate("BETA", 0), nil },
			want: "rejects", wantPatch: true, reason: "the version alone says native; the kubelet's gate says otherwise"},
		{name: "metrics: 1.28 gate on", kubelet: "v1.28.9", metrics: func(string) (string, error) { return gate("ALPHA", 1), nil },
			want: "native", wantPatch: true},
		{name: "metrics: 1.33 GA", kubelet: "v1.33.1", metrics: func(string) (string, error) { return gate("", 1), nil },
			want: "native", wantPatch: true},
		{name: "metrics: 1.37 no series", kubelet: "v1.37.0", metrics: func(string) (string, error) { return "# no gates\nprocess_cpu_seconds_total 3\n", nil },
			want: "native", wantPatch: true, reason: "the gate was removed in 1.37: no series means native"},
		{name: "metrics unavailable keeps label", kubelet: "v1.30.2", label: "rejects",
			metrics: func(string) (string, error) { return "", errors.New("proxy: 503") },
			want:    "rejects", wantErr: true, reason: "an outage must not relabel nodes; the error requeues with backoff"},
		{name: "metrics not prometheus keeps label", kubelet: "v1.30.2", label: "rejects",
			metrics: func(string) (string, error) { return "<html>502 Bad Gateway</html>\n", nil },
			want:    "rejects", wantErr: true},
		{name: "metrics without series on 1.30", kubelet: "v1.30.2", metrics: func(string) (string, error) { return "up 1\n", nil },
			want: "native", wantPatch: true, reason: "inconclusive metrics: the version's default stands (with a warning event)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var labels map[string]string
			if tt.label != "" {
				labels = map[string]string{compat.NodeLabel: tt.label, "keep": "me"}
			}
			rec := &recorder{}
			c := fake.NewClientBuilder().WithObjects(node("n1", tt.kubelet, labels)).WithInterceptorFuncs(rec.funcs()).Build()
			ev := events.NewFakeRecorder(10)
			r := &labeler.Reconciler{Client: c, Recorder: ev, Resync: time.Hour}
			if tt.metrics != nil {
				r.Metrics = tt.metrics
			}
			res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: "n1"}})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Reconcile error = %v, want error %v (%s)", err, tt.wantErr, tt.reason)
			}
			var got corev1.Node
			if err := c.Get(context.Background(), types.NamespacedName{Name: "n1"}, &got); err != nil {
				t.Fatal(err)
			}
			v, ok := got.Labels[compat.NodeLabel]
			if !ok {
				v = notLabelled
			}
			if v != tt.want {
				t.Errorf("label = %q, want %q (%s)", v, tt.want, tt.reason)
			}
			if labels != nil && got.Labels["keep"] != "me" {
				t.Errorf("other labels changed: %v", got.Labels)
			}
			if (len(rec.patches) > 0) != tt.wantPatch {
				t.Errorf("patches = %q, want a patch: %v (%s)", rec.patches, tt.wantPatch, tt.reason)
			}
			for _, p := range rec.patches {
				if !strings.HasPrefix(p, "application/merge-patch+json {\"metadata\":{\"labels\":{\"sidecarkit.io/native-sidecars\":") {
					t.Errorf("patch %s touches more than the label", p)
				}
			}
			if !tt.wantErr && tt.metrics != nil && res.RequeueAfter != time.Hour {
				t.Errorf("RequeueAfter = %v, want the resync interval with metrics", res.RequeueAfter)
			}
			if tt.metrics == nil && res.RequeueAfter != 0 {
				t.Errorf("RequeueAfter = %v without metrics, want 0", res.RequeueAfter)
			}
			// Idempotence: a second reconcile issues no patch.
			if !tt.wantErr {
				n := len(rec.patches)
				if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: "n1"}}); err != nil {
					t.Fatal(err)
				}
				if len(rec.patches) != n {
					t.Errorf("second reconcile patched again: %q", rec.patches[n:])
				}
			}
		})
	}
}

func TestReconcileMissingNode(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	r := &labeler.Reconciler{Client: c}
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: "gone"}}); err != nil {
		t.Fatalf("a deleted node is not an error: %v", err)
	}
}

func TestReconcileEvents(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(node("n1", "v1.30.1", nil)).Build()
	ev := events.NewFakeRecorder(10)
	r := &labeler.Reconciler{Client: c, Recorder: ev,
		Metrics: metricsFunc(func(string) (string, error) { return gate("BETA", 0), nil })}
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-ev.Events:
		if !strings.HasPrefix(e, "Normal "+labeler.ReasonLabeled+" sidecarkit.io/native-sidecars=rejects") {
			t.Errorf("event = %q", e)
		}
	default:
		t.Error("no event recorded")
	}
}

func TestChanged(t *testing.T) {
	base := node("n1", "v1.29.1", map[string]string{"a": "b"})
	tests := []struct {
		name   string
		change func(n *corev1.Node)
		want   bool
	}{
		{name: "status heartbeat", change: func(n *corev1.Node) {
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		}, want: false},
		{name: "other label", change: func(n *corev1.Node) { n.Labels["x"] = "y" }, want: false},
		{name: "kubelet upgraded", change: func(n *corev1.Node) { n.Status.NodeInfo.KubeletVersion = "v1.30.0" }, want: true},
		{name: "our label edited", change: func(n *corev1.Node) { n.Labels[compat.NodeLabel] = "native" }, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := base.DeepCopy()
			tt.change(n)
			if got := labeler.Changed().Update(event.UpdateEvent{ObjectOld: base, ObjectNew: n}); got != tt.want {
				t.Errorf("Update = %v, want %v", got, tt.want)
			}
		})
	}
	if !labeler.Changed().Create(event.CreateEvent{Object: base}) {
		t.Error("Create = false, want true")
	}
}

// TestProxyMetrics checks the URL the node proxy is reached at, against a
// stand-in API server.
func TestProxyMetrics(t *testing.T) {
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		io.WriteString(w, gate("BETA", 1))
	}))
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	body, err := labeler.ProxyMetrics{Client: cs.CoreV1().RESTClient()}.NodeMetrics(context.Background(), "worker-1")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	g, err := compat.ParseFeatureMetrics(body)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/api/v1/nodes/worker-1/proxy/metrics"; path != want {
		t.Errorf("path = %q, want %q", path, want)
	}
	if s, ok := g.Lookup(compat.GateSidecarContainers); !ok || s.Value != 1 {
		t.Errorf("gate = %+v, %v", s, ok)
	}
}
