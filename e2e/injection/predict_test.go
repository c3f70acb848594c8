package injection_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// timeout bounds each test's requests.
const timeout = 2 * time.Minute

// How a prediction is compared with the stored object: the library's typed
// Apply turns the Pod the test sent into the Pod it expects, and the API
// server itself fills in that Pod's defaults in a dry-run create in a
// namespace without webhooks. The stored Pod must then equal the dry-run
// result in its labels, annotations and spec. No list of server defaults is
// kept here, so a new default in a later Kubernetes version cannot break
// the comparison, while any difference in what the webhook's JSON patch did
// shows. Test Pods set automountServiceAccountToken: false, since the
// ServiceAccount admission plugin adds a token volume with a random name.
var (
	plainOnce sync.Once
	plainNS   string
	plainErr  error
)

// plainNamespace returns the namespace without webhooks for dry runs.
func plainNamespace(t *testing.T, c *cluster.Cluster) string {
	t.Helper()
	plainOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		plainNS, plainErr = c.CreateNamespace(ctx, "plain", nil)
	})
	if plainErr != nil {
		t.Fatalf("plain namespace: %v", plainErr)
	}
	return plainNS
}

// predict applies m to a copy of pod with the typed Apply and returns what
// the API server makes of the result by itself (a dry-run create).
func predict(ctx context.Context, t *testing.T, c *cluster.Cluster, pod *corev1.Pod, m *patch.Mutation) *corev1.Pod {
	t.Helper()
	p := pod.DeepCopy()
	if err := m.Apply(&p.ObjectMeta, &p.Spec); err != nil {
		t.Fatalf("typed Apply: %v", err)
	}
	return dryRun(ctx, t, c, p)
}

// dryRun creates pod with ?dryRun=All in the plain namespace.
func dryRun(ctx context.Context, t *testing.T, c *cluster.Cluster, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	ns := plainNamespace(t, c)
	p := pod.DeepCopy()
	p.Namespace, p.ResourceVersion, p.UID = ns, "", ""
	got, err := c.Client().CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry-run create of the predicted pod: %v", err)
	}
	return got
}

// comparable is the part of a Pod that the comparison covers.
type comparable struct {
	Labels      map[string]string
	Annotations map[string]string
	Spec        corev1.PodSpec
}

// diffPods returns the differences between two Pods' labels, annotations
// and specs, "(-want +got)".
func diffPods(want, got *corev1.Pod) string {
	return cmp.Diff(
		comparable{want.Labels, want.Annotations, want.Spec},
		comparable{got.Labels, got.Annotations, got.Spec})
}

// names returns the containers' names in order.
func names(cs []corev1.Container) []string {
	out := make([]string, len(cs))
	for i := range cs {
		out[i] = cs[i].Name
	}
	return out
}

// serverCapability is what the API server's version says (and the oldest
// kubelet its skew policy allows).
func serverCapability(t *testing.T, c *cluster.Cluster) compat.Capability {
	t.Helper()
	v, err := c.Client().Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	api, err := compat.ParseAPIServerVersion(v.GitVersion)
	if err != nil {
		t.Fatal(err)
	}
	skew, err := compat.FromSkewPolicy(v.GitVersion)
	if err != nil {
		t.Fatal(err)
	}
	return skew.Override(api)
}

// proxySpec is the sidecar of most tests: probes, a volume shared with the
// application, a mount and an env var for every application container.
const proxySpec = `
container:
  name: proxy
  image: registry.invalid/mesh/proxy:1.9
  command: ["/proxy"]
  args: ["--listen=unix:///var/run/proxy/proxy.sock"]
  resources:
    requests: {cpu: 50m, memory: 32Mi}
    limits: {memory: 64Mi}
  startupProbe:
    exec: {command: ["/proxy", "--check"]}
    periodSeconds: 1
  readinessProbe:
    exec: {command: ["/proxy", "--ready"]}
  volumeMounts:
  - name: proxy-socket
    mountPath: /var/run/proxy
volumes:
- name: proxy-socket
  emptyDir: {medium: Memory}
appMounts:
- name: proxy-socket
  mountPath: /var/run/proxy
  readOnly: true
appEnv:
- name: DATABASE_SOCKET
  value: /var/run/proxy/proxy.sock
`

func loadSpec(t *testing.T, doc string, p sidecar.Placement) sidecar.Spec {
	t.Helper()
	s, err := sidecar.LoadSpec([]byte(doc))
	if err != nil {
		t.Fatalf("load sidecar spec: %v", err)
	}
	s.Placement = p
	return s
}

// container returns a plain container.
func container(name string) corev1.Container {
	return corev1.Container{Name: name, Image: "registry.invalid/" + name + ":v1"}
}

// testPod returns a Pod with the given init containers and containers.
func testPod(name string, init, containers []corev1.Container) *corev1.Pod {
	no := false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{"app": name},
			Annotations: map[string]string{"example.com/owner": "e2e"},
		},
		Spec: corev1.PodSpec{
			InitContainers:               init,
			Containers:                   containers,
			AutomountServiceAccountToken: &no,
		},
	}
}

// The defaults of most tests: the sidecar first, injected natively.
var (
	sidecarFirst = sidecar.Placement{}
	nativeOpts   = sidecar.Options{Mode: sidecar.Native}
)

// mustPod decodes a Pod.
func mustPod(t *testing.T, raw []byte) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("decode pod: %v", err)
	}
	return &p
}
