package injection_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// exampleWebhookConfig is examples/webhook's configuration, as in its
// deploy/configmap.yaml: mode auto, so that the Node informer decides.
const exampleWebhookConfig = `
sidecar:
  container:
    name: proxy
    image: registry.invalid/mesh/proxy:1.9
    args: ["--listen=unix:///var/run/proxy/proxy.sock"]
    volumeMounts:
    - {name: proxy-socket, mountPath: /var/run/proxy}
  volumes:
  - name: proxy-socket
    emptyDir: {medium: Memory}
  appMounts:
  - {name: proxy-socket, mountPath: /var/run/proxy, readOnly: true}
  appEnv:
  - {name: PROXY_SOCKET, value: /var/run/proxy/proxy.sock}
mode: auto
fallback: legacy
selection:
  policy: opt-out
  key: sidecar.sidecarkit.io/inject
`

// TestExampleWebhook runs examples/webhook, the binary users deploy, with
// its Node informer (--watch-nodes) in front of the real API server: a Pod
// whose nodes all run native sidecars gets a native sidecar, with every
// field the API server knows and k8s.io/api does not kept; once an old
// node joins the Pod's pool, the next Pod gets a legacy one; a Pod that
// opts out is left alone.
func TestExampleWebhook(t *testing.T) {
	c := env(t)
	if gateOff(c) {
		t.Skip("the Pod carries fields of v1.37; this leg runs an older API server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ns := namespace(t, c)
	dir := t.TempDir()

	// Build the binary from the examples module (its own go.mod).
	bin := filepath.Join(dir, "webhook")
	start := time.Now()
	build := exec.Command("go", "build", "-o", bin, "./webhook")
	build.Dir = "../../examples"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/webhook: %v\n%s", err, out)
	}
	t.Logf("built examples/webhook in %v", time.Since(start).Round(time.Millisecond))

	// A kubeconfig for its informer: the cluster's admin credentials.
	cfg := c.Config()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"e2e": {Server: cfg.Host, CertificateAuthorityData: c.PKI.CACert}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"admin": {ClientCertificateData: c.PKI.AdminCert, ClientKeyData: c.PKI.AdminKey}},
		Contexts:       map[string]*clientcmdapi.Context{"e2e": {Cluster: "e2e", AuthInfo: "admin"}},
		CurrentContext: "e2e",
	}, kubeconfig); err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(configFile, []byte(exampleWebhookConfig), 0o600); err != nil {
		t.Fatal(err)
	}

	// The Pods select a pool of Nodes of this test's own, so that the
	// Nodes other tests may create do not count.
	pool := map[string]string{"e2e.sidecarkit.io/pool": ns}
	mkNode := func(name, version string) {
		t.Helper()
		n, err := c.Client().CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: pool}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Client().CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
		n.Status.NodeInfo.KubeletVersion = version
		if _, err := c.Client().CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mkNode(ns+"-new", "v1.33.4")

	base := startExampleWebhook(t, c, bin, "--config", configFile,
		"--tls-cert-file", c.PKI.WebhookCertFile, "--tls-key-file", c.PKI.WebhookKeyFile,
		"--watch-nodes", "--kubeconfig", kubeconfig)
	wh := serve(t, c, ns, proxyTo(c, base), cluster.WebhookOptions{})

	// newerPod's fields (v1.37 knows them, the webhook's k8s.io/api does
	// not), on a Pod that selects the pool.
	var sent map[string]any
	if err := json.Unmarshal([]byte(newerPod), &sent); err != nil {
		t.Fatal(err)
	}
	create := func(name string, annotations map[string]string) (*corev1.Pod, map[string]any) {
		t.Helper()
		var doc map[string]any
		if err := json.Unmarshal([]byte(newerPod), &doc); err != nil {
			t.Fatal(err)
		}
		meta := doc["metadata"].(map[string]any)
		meta["name"] = name
		ann := meta["annotations"].(map[string]any)
		for k, v := range annotations {
			ann[k] = v
		}
		doc["spec"].(map[string]any)["nodeSelector"] = map[string]any{"e2e.sidecarkit.io/pool": ns}
		body, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := c.Client().CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").
			SetHeader("Content-Type", "application/json").Body(body).DoRaw(ctx)
		if err != nil {
			t.Fatalf("create pod %s: %v\n%s", name, err, raw)
		}
		var stored map[string]any
		if err := json.Unmarshal(raw, &stored); err != nil {
			t.Fatal(err)
		}
		return mustPod(t, raw), stored
	}
	kept := func(stored map[string]any, appIndex int) []string {
		var lost []string
		for _, p := range newerPaths {
			sp := p
			if p[1] == "containers" {
				sp = append([]string{"spec", "containers", fmt.Sprint(appIndex)}, p[3:]...)
			}
			if want, got := lookup(sent, p), lookup(stored, sp); fmt.Sprint(want) != fmt.Sprint(got) {
				lost = append(lost, fmt.Sprintf("%s: sent %v, stored %v", strings.Join(p, "."), want, got))
			}
		}
		return lost
	}
	record := func(p *corev1.Pod) sidecar.Record {
		t.Helper()
		rec, has, err := sidecar.ReadRecord(&p.ObjectMeta, "proxy")
		if err != nil || !has {
			t.Fatalf("pod %s: record %v, %v", p.Name, has, err)
		}
		return rec
	}

	// Only a 1.33 node: native.
	p, stored := create("native", nil)
	if got := names(p.Spec.InitContainers); len(got) != 1 || got[0] != "proxy" || p.Spec.InitContainers[0].RestartPolicy == nil {
		t.Errorf("native: init containers %v, want the proxy with restartPolicy Always", got)
	}
	if m := record(p).Mode; m != sidecar.Native {
		t.Errorf("native: recorded mode %s", m)
	}
	if app := p.Spec.Containers[0]; len(app.VolumeMounts) != 1 || len(app.Env) != 1 {
		t.Errorf("native: the app container lacks the mount or env: %+v", app)
	}
	if lost := kept(stored, 0); len(lost) > 0 {
		t.Errorf("native: fields lost through examples/webhook:\n%s", strings.Join(lost, "\n"))
	}

	// A 1.27 node joins the pool: the informer sees it, and Pods get the
	// legacy form (the field would be stripped there).
	mkNode(ns+"-old", "v1.27.9")
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		p, stored = create(fmt.Sprintf("after-old-node-%d", i), nil)
		if record(p).Mode == sidecar.Legacy || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := names(p.Spec.Containers); len(p.Spec.InitContainers) != 0 || len(got) != 2 || got[0] != "proxy" {
		t.Errorf("with an old node: init containers %v, containers %v; want the proxy first among the containers", names(p.Spec.InitContainers), got)
	}
	if lost := kept(stored, 1); len(lost) > 0 {
		t.Errorf("legacy: fields lost through examples/webhook:\n%s", strings.Join(lost, "\n"))
	}

	// Opted out by annotation: untouched.
	p, _ = create("opted-out", map[string]string{"sidecar.sidecarkit.io/inject": "false"})
	if len(p.Spec.InitContainers)+len(p.Spec.Containers) != 1 {
		t.Errorf("opted out: init containers %v, containers %v; want the app alone", names(p.Spec.InitContainers), names(p.Spec.Containers))
	}
	t.Logf("examples/webhook answered %d reviews", wh.Calls())
}

// startExampleWebhook runs examples/webhook on a free loopback port and
// returns its base URL once /readyz answers (its Node informer synced).
func startExampleWebhook(t *testing.T, c *cluster.Cluster, bin string, args ...string) *url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, append([]string{"--addr", addr}, args...)...)
	logs, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start examples/webhook: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			t.Log("webhook: " + sc.Text())
		}
	}()
	stopOnCleanup(t, cmd, 30*time.Second)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.PKI.CACert)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	base := &url.URL{Scheme: "https", Host: addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(base.String() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("examples/webhook not ready at %s within 30s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
