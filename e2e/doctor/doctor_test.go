package doctor_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

const timeout = 2 * time.Minute

// stripName is the name under which e2e/stripwebhook is registered; the
// doctor must name it.
const stripName = "legacy-injector.e2e.sidecarkit.io"

// report is the part of `doctor cluster -o json` the test reads.
type report struct {
	Namespace string `json:"namespace"`
	APIServer struct {
		Version    string `json:"version"`
		Metrics    string `json:"metrics"`
		Capability struct {
			APIServer string `json:"apiServer"`
		} `json:"capability"`
	} `json:"apiServer"`
	PoolLabel string `json:"poolLabel"`
	Pools     []struct {
		Name  string `json:"name"`
		Nodes []struct {
			Name       string `json:"name"`
			Metrics    string `json:"metrics"`
			Capability struct {
				Kubelet string `json:"kubelet"`
			} `json:"capability"`
		} `json:"nodes"`
		Recommendation struct {
			Mode string `json:"mode"`
			Code string `json:"code"`
		} `json:"recommendation"`
	} `json:"pools"`
	Admission struct {
		Webhooks []struct {
			Name  string `json:"name"`
			Match string `json:"match"`
			Calls *int64 `json:"calls"`
		} `json:"webhooks"`
		CallsObserved bool   `json:"callsObserved"`
		CallsNote     string `json:"callsNote"`
	} `json:"admission"`
	Probe struct {
		Result   string   `json:"result"`
		Culprit  string   `json:"culprit"`
		Proven   []string `json:"proven"`
		Inferred []string `json:"inferred"`
		Error    string   `json:"error"`
	} `json:"probe"`
	Pods struct {
		Pods []struct {
			Name     string `json:"name"`
			Findings []struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"findings"`
		} `json:"pods"`
	} `json:"pods"`
	Recommendation struct {
		Mode string `json:"mode"`
	} `json:"recommendation"`
	Verdict struct {
		Status   string `json:"status"`
		ExitCode int    `json:"exitCode"`
	} `json:"verdict"`
}

// TestDoctorCluster registers Nodes of three pools (one with a fake
// kubelet reachable through the API server's node proxy when the host has
// a non-loopback address), the v0.27 webhook that strips restartPolicy,
// two webhooks the probe must not select, and Pods stored through the
// stripping webhook; then runs the sidecarctl binary against the API
// server, as admin, as a user with the documented ClusterRole, and as one
// without nodes/proxy; and finally, with the old nodes gone and the
// webhook removed, expects a ready cluster.
func TestDoctorCluster(t *testing.T) {
	c := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	off := gateOff(c)

	ns, err := c.CreateNamespace(ctx, "doctor", map[string]string{"e2e.sidecarkit.io/test": "doctor"})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := c.CreateNamespace(ctx, "elsewhere", map[string]string{"e2e.sidecarkit.io/test": "elsewhere"})
	if err != nil {
		t.Fatal(err)
	}

	// Nodes: pool "current" (v1.33, v1.37), pool "legacy" (v1.27), and an
	// unlabelled v1.28 node (alpha gate, off by default: rejects).
	kubelet := startFakeKubelet(t)
	pool := func(name string) map[string]string { return map[string]string{"eks.amazonaws.com/nodegroup": name} }
	mkNode(t, c, "doctor-current-1", "v1.33.4", pool("current"), kubelet)
	mkNode(t, c, "doctor-current-2", "v1.37.2", pool("current"), nil)
	mkNode(t, c, "doctor-legacy-1", "v1.27.16", pool("legacy"), nil)
	mkNode(t, c, "doctor-edge-1", "v1.28.15", nil, nil)

	// The stripping webhook for the test namespace; one for another
	// namespace; one for Pods labelled to be injected.
	strip := serve(t, c, proxyTo(c, startStripWebhook(t, c)), cluster.WebhookOptions{Name: stripName,
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"e2e.sidecarkit.io/test": "doctor"}}, ProbeNamespace: ns})
	serve(t, c, allow(), cluster.WebhookOptions{Name: "other-namespace.e2e.sidecarkit.io",
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"e2e.sidecarkit.io/test": "elsewhere"}}, ProbeNamespace: elsewhere})
	serve(t, c, allow(), cluster.WebhookOptions{Name: "labelled-pods.e2e.sidecarkit.io",
		ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"sidecar.example.com/inject": "true"}},
		ProbeLabels:    map[string]string{"sidecar.example.com/inject": "true"}, ProbeNamespace: ns})

	// Pods: "web" on a current node, stuck in Init behind its sidecar
	// that lost restartPolicy; "cart", whose default container is its
	// sidecar.
	always := ptr.To(corev1.ContainerRestartPolicyAlways)
	web := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{
		NodeName: "doctor-current-1", AutomountServiceAccountToken: ptr.To(false),
		InitContainers: []corev1.Container{{Name: "log-shipper", Image: "registry.invalid/fluent-bit:3.1", RestartPolicy: always}},
		Containers:     []corev1.Container{{Name: "web", Image: "registry.invalid/web:2.4"}}}}
	stored, err := c.Client().CoreV1().Pods(ns).Create(ctx, web, metav1.CreateOptions{FieldManager: "deployer"})
	if err != nil {
		t.Fatal(err)
	}
	if rp := stored.Spec.InitContainers[0].RestartPolicy; rp != nil {
		t.Fatalf("the stripping webhook kept restartPolicy %q: the test cannot tell", *rp)
	}
	stored.Status = corev1.PodStatus{Phase: corev1.PodPending,
		InitContainerStatuses: []corev1.ContainerStatus{{Name: "log-shipper", Image: "registry.invalid/fluent-bit:3.1",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "web", Image: "registry.invalid/web:2.4",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}}}
	if _, err := c.Client().CoreV1().Pods(ns).UpdateStatus(ctx, stored, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cart := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "cart", Annotations: map[string]string{"kubectl.kubernetes.io/default-container": "mesh-proxy"}},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false),
			InitContainers: []corev1.Container{{Name: "mesh-proxy", Image: "registry.invalid/proxy:1.9", RestartPolicy: always}},
			Containers:     []corev1.Container{{Name: "cart", Image: "registry.invalid/cart:1.0"}}}}
	if _, err := c.Client().CoreV1().Pods(ns).Create(ctx, cart, metav1.CreateOptions{FieldManager: "deployer"}); err != nil {
		t.Fatal(err)
	}

	kubeconfig := writeKubeconfig(t, c, ns)
	text, code := doctor(t, kubeconfig, "doctor", "cluster")
	t.Logf("sidecarctl doctor cluster (exit %d):\n%s", code, text)
	if code != 3 {
		t.Errorf("exit %d, want 3 (not ready)", code)
	}
	r := doctorJSON(t, kubeconfig, 3)

	// The API server.
	if r.APIServer.Version != c.Options().KubeVersion || r.APIServer.Metrics != "read" {
		t.Errorf("API server %s, metrics %q; want %s, read", r.APIServer.Version, r.APIServer.Metrics, c.Options().KubeVersion)
	}
	wantAPI := "stores"
	if off {
		wantAPI = "drops"
	}
	if r.APIServer.Capability.APIServer != wantAPI {
		t.Errorf("API server capability %s, want %s", r.APIServer.Capability.APIServer, wantAPI)
	}

	// The pools.
	wantPools := map[string]string{
		"eks.amazonaws.com/nodegroup=current": "native",
		"eks.amazonaws.com/nodegroup=legacy":  "universal",
		"kubelet v1.28.15":                    "legacy",
	}
	if off {
		for k := range wantPools {
			wantPools[k] = "legacy"
		}
	}
	if r.PoolLabel != "eks.amazonaws.com/nodegroup" {
		t.Errorf("pool label %q", r.PoolLabel)
	}
	gotPools := map[string]string{}
	nodeMetrics := map[string]string{}
	for _, p := range r.Pools {
		gotPools[p.Name] = p.Recommendation.Mode
		for _, n := range p.Nodes {
			nodeMetrics[n.Name] = n.Metrics
		}
	}
	if fmt.Sprint(gotPools) != fmt.Sprint(wantPools) {
		t.Errorf("pools %v, want %v", gotPools, wantPools)
	}
	if kubelet != nil {
		if nodeMetrics["doctor-current-1"] != "read" || kubelet.requests.Load() == 0 {
			t.Errorf("doctor-current-1: metrics %q, %d requests reached the fake kubelet; want read through the node proxy", nodeMetrics["doctor-current-1"], kubelet.requests.Load())
		}
	} else {
		t.Logf("no non-loopback address: no fake kubelet behind the node proxy (node proxies refuse loopback)")
	}
	if m := nodeMetrics["doctor-legacy-1"]; !strings.HasPrefix(m, "unavailable: ") {
		t.Errorf("a node without a kubelet: metrics %q, want unavailable", m)
	}

	// The webhooks and the probe.
	match := map[string]string{}
	for _, w := range r.Admission.Webhooks {
		match[w.Name] = w.Match
	}
	if match[stripName] != "yes" || match["other-namespace.e2e.sidecarkit.io"] != "no" || match["labelled-pods.e2e.sidecarkit.io"] != "no" {
		t.Errorf("webhook matches %v: want the stripping one yes, the others no", match)
	}
	if !r.Admission.CallsObserved {
		t.Errorf("webhook calls not observed: %s", r.Admission.CallsNote)
	}
	if r.Probe.Result != "lost" {
		t.Fatalf("probe %s (%s), want lost", r.Probe.Result, r.Probe.Error)
	}
	if off {
		if r.Probe.Culprit != "kube-apiserver" {
			t.Errorf("gate off: culprit %q, want kube-apiserver", r.Probe.Culprit)
		}
	} else {
		if r.Probe.Culprit != stripName {
			t.Errorf("culprit %q, want %s", r.Probe.Culprit, stripName)
		}
		if !containsAll(r.Probe.Proven, "managedFields", "stores the field", stripName+" removed restartPolicy") {
			t.Errorf("proven %q: want the managedFields evidence, the API server storing the field, and the webhook named", r.Probe.Proven)
		}
	}

	// The Pods.
	found := map[string]bool{}
	for _, p := range r.Pods.Pods {
		for _, f := range p.Findings {
			found[p.Name+" "+f.Code] = true
			if p.Name == "web" && f.Code == "field-dropped" && !off && !strings.Contains(f.Message, "a mutating webhook removed it") {
				t.Errorf("web field-dropped: %q: want the webhook as the cause", f.Message)
			}
		}
	}
	for _, w := range []string{"web field-dropped", "web sidecar-blocks-init", "cart sidecar-default-container"} {
		if !found[w] {
			t.Errorf("pod finding %q missing; got %v", w, found)
		}
	}
	if r.Verdict.Status != "not-ready" || r.Verdict.ExitCode != 3 {
		t.Errorf("verdict %s, exit %d", r.Verdict.Status, r.Verdict.ExitCode)
	}

	// The probe labelled as the third webhook wants: it is selected too.
	out, _ := doctor(t, kubeconfig, "doctor", "cluster", "-o", "json", "--probe-label", "sidecar.example.com/inject=true", "--node-metrics=false")
	var labelled report
	if err := json.Unmarshal([]byte(out), &labelled); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, w := range labelled.Admission.Webhooks {
		if w.Name == "labelled-pods.e2e.sidecarkit.io" && w.Match != "yes" {
			t.Errorf("--probe-label: labelled-pods webhook %s, want yes", w.Match)
		}
	}
	if !off && labelled.Probe.Culprit != "" {
		t.Errorf("--probe-label: two webhooks select the probe, yet culprit %q is named", labelled.Probe.Culprit)
	}

	// doctor pod reads the Pod live.
	out, code = doctor(t, kubeconfig, "doctor", "pod", "web")
	t.Logf("sidecarctl doctor pod web (exit %d):\n%s", code, out)
	if code != 0 || !strings.Contains(out, "field-dropped") || !strings.Contains(out, "sidecar-blocks-init") || !strings.Contains(out, "node/doctor-current-1") {
		t.Errorf("doctor pod web: exit %d, want 0 and the field-dropped and sidecar-blocks-init findings with the node", code)
	}

	// RBAC: the documented ClusterRole, without and with the optional
	// node-metrics role, through impersonation.
	roles := applyRBAC(t, c)
	bind(t, c, "doctor-reader", roles[0])
	out, code = doctor(t, kubeconfig, "doctor", "cluster", "-o", "json", "--as", "doctor-reader")
	var reader report
	if err := json.Unmarshal([]byte(out), &reader); err != nil {
		t.Fatalf("as doctor-reader: %v\n%s", err, out)
	}
	if code != 3 || reader.APIServer.Metrics != "read" || reader.Probe.Result != "lost" || (!off && reader.Probe.Culprit != stripName) {
		t.Errorf("as doctor-reader: exit %d, metrics %q, probe %s (%s), culprit %q: the documented role must suffice", code, reader.APIServer.Metrics, reader.Probe.Result, reader.Probe.Error, reader.Probe.Culprit)
	}
	for _, p := range reader.Pools {
		for _, n := range p.Nodes {
			if !strings.HasPrefix(n.Metrics, "forbidden: ") || !strings.Contains(n.Metrics, "nodes/proxy") {
				t.Errorf("as doctor-reader without nodes/proxy: node %s metrics %q, want forbidden", n.Name, n.Metrics)
			}
		}
	}
	bind(t, c, "doctor-reader", roles[1])
	out, _ = doctor(t, kubeconfig, "doctor", "cluster", "-o", "json", "--as", "doctor-reader")
	if err := json.Unmarshal([]byte(out), &reader); err != nil {
		t.Fatalf("as doctor-reader with node metrics: %v\n%s", err, out)
	}
	for _, p := range reader.Pools {
		for _, n := range p.Nodes {
			if strings.HasPrefix(n.Metrics, "forbidden") {
				t.Errorf("with %s: node %s metrics %q", roles[1], n.Name, n.Metrics)
			}
			if n.Name == "doctor-current-1" && kubelet != nil && n.Metrics != "read" {
				t.Errorf("with %s: node %s metrics %q, want read", roles[1], n.Name, n.Metrics)
			}
		}
	}

	// Ready: the old nodes gone, the stripping webhook removed.
	if off {
		return // the API server drops the field: never ready
	}
	for _, n := range []string{"doctor-legacy-1", "doctor-edge-1"} {
		if err := c.Client().CoreV1().Nodes().Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := strip.Close(ctx); err != nil {
		t.Fatal(err)
	}
	text, code = doctor(t, kubeconfig, "doctor", "cluster")
	t.Logf("after the fixes, sidecarctl doctor cluster (exit %d):\n%s", code, text)
	if code != 0 || !strings.Contains(text, "verdict: ready (exit 0)") || !strings.Contains(text, "restartPolicy: Always kept") {
		t.Errorf("after the fixes: exit %d, want 0 with the probe kept", code)
	}
}

func containsAll(list []string, subs ...string) bool {
	all := strings.Join(list, "\n")
	for _, s := range subs {
		if !strings.Contains(all, s) {
			return false
		}
	}
	return true
}

// doctor runs the sidecarctl binary with a kubeconfig and returns its
// stdout and exit code; stderr must be empty.
func doctor(t *testing.T, kubeconfig string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "sidecarctl"), append(args, "--kubeconfig", kubeconfig)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("sidecarctl %s: %v", strings.Join(args, " "), err)
	}
	if stderr.Len() > 0 {
		t.Errorf("sidecarctl %s: stderr: %s", strings.Join(args, " "), stderr.String())
	}
	return stdout.String(), code
}

func doctorJSON(t *testing.T, kubeconfig string, wantCode int) report {
	t.Helper()
	out, code := doctor(t, kubeconfig, "doctor", "cluster", "-o", "json")
	if code != wantCode {
		t.Errorf("-o json: exit %d, want %d", code, wantCode)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	return r
}

// writeKubeconfig writes a kubeconfig for the admin of c, with namespace
// ns in its context.
func writeKubeconfig(t *testing.T, c *cluster.Cluster, ns string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := map[string]any{
		"apiVersion": "v1", "kind": "Config", "current-context": "e2e",
		"clusters": []any{map[string]any{"name": "e2e", "cluster": map[string]any{
			"server": c.Host, "certificate-authority-data": c.PKI.CACert}}},
		"users": []any{map[string]any{"name": "admin", "user": map[string]any{
			"client-certificate-data": c.PKI.AdminCert, "client-key-data": c.PKI.AdminKey}}},
		"contexts": []any{map[string]any{"name": "e2e", "context": map[string]any{"cluster": "e2e", "user": "admin", "namespace": ns}}},
	}
	// A kubeconfig is YAML, and JSON is YAML; []byte marshals as base64,
	// which is what the *-data fields hold.
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mkNode registers a Node with a kubelet version and labels; with a fake
// kubelet, its address and port point the node proxy at it.
func mkNode(t *testing.T, c *cluster.Cluster, name, version string, labels map[string]string, k *fakeKubelet) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	n, err := c.Client().CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Client().CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	n.Status.NodeInfo.KubeletVersion = version
	if k != nil {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: k.host}}
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(k.port)
	}
	if _, err := c.Client().CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// fakeKubelet serves a kubelet's /metrics over HTTPS on a global unicast
// address of this host (the API server's node proxy refuses loopback).
type fakeKubelet struct {
	host     string
	port     int
	requests atomic.Int64
}

// startFakeKubelet returns nil when the host has no global unicast IPv4
// address.
func startFakeKubelet(t *testing.T) *fakeKubelet {
	t.Helper()
	host := ""
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		// The node proxy only dials global unicast addresses (docs/doctor.md).
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
			host = ipn.IP.String()
			break
		}
	}
	if host == "" {
		return nil
	}
	c := env(t)
	tlsConfig, err := c.PKI.WebhookTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", net.JoinHostPort(host, "0"), tlsConfig)
	if err != nil {
		t.Logf("fake kubelet: %v", err)
		return nil
	}
	k := &fakeKubelet{host: host, port: ln.Addr().(*net.TCPAddr).Port}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		k.requests.Add(1)
		io.WriteString(w, "# HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.\n"+
			"# TYPE kubernetes_feature_enabled gauge\n"+
			`kubernetes_feature_enabled{name="SidecarContainers",stage=""} 1`+"\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return k
}

// startStripWebhook runs e2e/stripwebhook and returns its base URL.
func startStripWebhook(t *testing.T, c *cluster.Cluster) *url.URL {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "stripwebhook"), "-cert", c.PKI.WebhookCertFile, "-key", c.PKI.WebhookKeyFile)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return &url.URL{Scheme: "https", Host: a}
	case <-time.After(30 * time.Second):
		t.Fatal("stripwebhook did not report its address within 30s")
	}
	return nil
}

// proxyTo returns a reverse proxy to an out-of-process webhook that trusts
// the cluster's CA.
func proxyTo(c *cluster.Cluster, target *url.URL) http.Handler {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.PKI.CACert)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return rp
}

// allow answers every review: allowed, no patch.
func allow() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review struct {
			Request struct {
				UID string `json:"uid"`
			} `json:"request"`
		}
		json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&review)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":%q,"allowed":true}}`, review.Request.UID)
	})
}

// serve registers a webhook and closes it when t ends.
func serve(t *testing.T, c *cluster.Cluster, h http.Handler, opts cluster.WebhookOptions) *cluster.Webhook {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	opts.ReinvocationPolicy = admissionregistrationv1.NeverReinvocationPolicy
	wh, err := c.ServeWebhook(ctx, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close(context.Background()) })
	return wh
}

// applyRBAC creates the ClusterRoles of examples/sidecarctl/doctor-rbac.yaml
// and returns their names.
func applyRBAC(t *testing.T, c *cluster.Cluster) []string {
	t.Helper()
	f, err := os.Open("../../examples/sidecarctl/doctor-rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var names []string
	for {
		var role rbacv1.ClusterRole
		if err := dec.Decode(&role); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Client().RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		names = append(names, role.Name)
		t.Cleanup(func() {
			_ = c.Client().RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
		})
	}
	if len(names) != 2 {
		t.Fatalf("doctor-rbac.yaml: %d ClusterRoles %v, want the doctor's and the node metrics'", len(names), names)
	}
	return names
}

// bind binds a ClusterRole to a user.
func bind(t *testing.T, c *cluster.Cluster, user, role string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role + "-" + user},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}}}
	if _, err := c.Client().RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Client().RbacV1().ClusterRoleBindings().Delete(context.Background(), b.Name, metav1.DeleteOptions{})
	})
	// The RBAC authorizer reads bindings from an informer: wait until it
	// grants what the role says.
	role0, err := c.Client().RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := role0.Rules[0]
	attrs := &authorizationv1.ResourceAttributes{Verb: r.Verbs[0], Group: r.APIGroups[0], Resource: r.Resources[0]}
	if res, sub, ok := strings.Cut(r.Resources[0], "/"); ok {
		attrs.Resource, attrs.Subresource = res, sub
	}
	for {
		sar, err := c.Client().AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: attrs}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("binding %s: %s is still not allowed %+v", b.Name, user, attrs)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
