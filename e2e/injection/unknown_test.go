package injection_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	corev1 "k8s.io/api/core/v1"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

// oldWebhookSource is the module of the webhook built against k8s.io/api
// v0.28.0, relative to this package.
const oldWebhookSource = "../oldwebhook"

var (
	oldWebhookOnce sync.Once
	oldWebhookDir  string // removed by TestMain
	oldWebhookBin  string
	oldWebhookErr  error
)

// buildOldWebhook builds e2e/oldwebhook once per test binary and checks
// that the binary really embeds k8s.io/api v0.28.0.
func buildOldWebhook(t *testing.T) string {
	t.Helper()
	oldWebhookOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sidecarkit-oldwebhook-")
		if err != nil {
			oldWebhookErr = err
			return
		}
		oldWebhookDir = dir
		bin := filepath.Join(dir, "oldwebhook")
		start := time.Now()
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = oldWebhookSource
		if out, err := cmd.CombinedOutput(); err != nil {
			oldWebhookErr = fmt.Errorf("go build %s: %v\n%s", oldWebhookSource, err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "e2e: built oldwebhook in %v\n", time.Since(start).Round(time.Millisecond))
		oldWebhookBin = bin
	})
	if oldWebhookErr != nil {
		t.Fatal(oldWebhookErr)
	}
	info, err := buildinfo.ReadFile(oldWebhookBin)
	if err != nil {
		t.Fatalf("read build info of %s: %v", oldWebhookBin, err)
	}
	for _, d := range info.Deps {
		if d.Path == "k8s.io/api" && (d.Version != "v0.28.0" || d.Replace != nil) {
			t.Fatalf("oldwebhook embeds k8s.io/api %s (replace %v), want v0.28.0", d.Version, d.Replace)
		}
	}
	return oldWebhookBin
}

// startOldWebhook runs the binary with args and returns its base URL.
func startOldWebhook(t *testing.T, c *cluster.Cluster, args ...string) *url.URL {
	t.Helper()
	bin := buildOldWebhook(t)
	args = append([]string{"-cert", c.PKI.WebhookCertFile, "-key", c.PKI.WebhookKeyFile}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start oldwebhook: %v", err)
	}
	stopOnCleanup(t, cmd, 10*time.Second)
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
		t.Fatal("oldwebhook did not report its address within 30s")
	}
	return nil
}

// stopOnCleanup stops a started process when t ends: SIGTERM, then SIGKILL
// after grace.
func stopOnCleanup(t *testing.T, cmd *exec.Cmd, grace time.Duration) {
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(grace):
			cmd.Process.Kill()
			<-done
		}
	})
}

// proxyTo returns a reverse proxy to an out-of-process webhook that trusts
// the cluster's CA, for ServeWebhook.
func proxyTo(c *cluster.Cluster, target *url.URL) http.Handler {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.PKI.CACert)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}
	return rp
}

// newerPod has fields that kube-apiserver v1.37 stores with its default
// feature gates and k8s.io/api v0.28.0 does not know (this test checks it
// against kube-apiserver v1.37.2): restartPolicyRules on a regular container, pod-level
// resources, hostnameOverride; plus annotations with "/" and "~" (a key
// may hold one "/" but no "~": keys are qualified names, so "~" can only be
// tested in values, including one that looks like an escaped JSON Pointer).
// (A regular container's restartPolicy is known to v0.28 and valid on 1.37
// only with restartPolicyRules' ContainerRestartRules feature.)
const newerPod = `{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "name": "newer-fields",
    "annotations": {
      "example.com/team-owner": "payments~eu",
      "x.example.com/a.b_c": "a~1b/c~0d",
      "plain": "~/~"
    }
  },
  "spec": {
    "automountServiceAccountToken": false,
    "hostnameOverride": "custom-host",
    "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    "containers": [{
      "name": "app",
      "image": "registry.invalid/app:v1",
      "restartPolicy": "Never",
      "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "In", "values": [42, 43]}}]
    }]
  }
}`

// newerPaths are the JSON paths of newerPod's newer fields.
var newerPaths = [][]string{
	{"spec", "hostnameOverride"},
	{"spec", "resources"},
	{"spec", "containers", "0", "restartPolicy"},
	{"spec", "containers", "0", "restartPolicyRules"},
}

// TestUnknownFieldsSurvive runs the webhook built against k8s.io/api v0.28.0
// in front of kube-apiserver v1.37 and creates a Pod carrying fields that
// only the API server knows: with the library's guarded JSON patch every one
// is stored as sent; the naive spec replacement, the control, loses them.
func TestUnknownFieldsSurvive(t *testing.T) {
	c := env(t)
	if gateOff(c) {
		t.Skip("the fields are those of v1.37; this leg runs an older API server")
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(newerPod), &sent); err != nil {
		t.Fatal(err)
	}
	specFile := filepath.Join(t.TempDir(), "sidecar.yaml")
	// No appMounts/appEnv: they would touch the app container, whose
	// restartPolicy the library refuses (see TestRestartPolicyOnRegularContainer).
	if err := os.WriteFile(specFile, []byte(`
container:
  name: proxy
  image: registry.invalid/mesh/proxy:1.9
  startupProbe:
    exec: {command: ["/proxy", "--check"]}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		mode     string
		naive    bool
		wantKept bool
		// newerAt is the index of the app container after the injection.
		newerAt int
	}{
		{name: "guarded-json-patch-native", mode: "native", wantKept: true},
		{name: "guarded-json-patch-legacy", mode: "legacy", wantKept: true, newerAt: 1},
		{name: "naive-control", mode: "native", naive: true, wantKept: false},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			ns := namespace(t, c)
			args := []string{"-sidecar", specFile, "-mode", tc.mode, "-apiserver-version", c.Options().KubeVersion}
			if tc.naive {
				args = append(args, "-naive")
			}
			wh := serve(t, c, ns, proxyTo(c, startOldWebhook(t, c, args...)), cluster.WebhookOptions{})

			raw, err := c.Client().CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").
				SetHeader("Content-Type", "application/json").Body([]byte(newerPod)).DoRaw(ctx)
			if err != nil {
				t.Fatalf("create pod: %v\n%s", err, raw)
			}
			if wh.Calls() != 1 {
				t.Errorf("webhook called %d times, want 1", wh.Calls())
			}
			var stored map[string]any
			if err := json.Unmarshal(raw, &stored); err != nil {
				t.Fatal(err)
			}
			wantInit, wantContainers := []string{"proxy"}, []string{"app"}
			if tc.mode == "legacy" {
				wantInit, wantContainers = nil, []string{"proxy", "app"}
			}
			storedPod := mustPod(t, raw)
			if got := names(storedPod.Spec.InitContainers); !cmp.Equal(got, wantInit, cmpopts.EquateEmpty()) {
				t.Errorf("stored init containers %v, want %v", got, wantInit)
			}
			if got := names(storedPod.Spec.Containers); !cmp.Equal(got, wantContainers) {
				t.Errorf("stored containers %v, want %v", got, wantContainers)
			}
			var lost []string
			for _, p := range newerPaths {
				sp := p
				if p[1] == "containers" {
					sp = append([]string{"spec", "containers", fmt.Sprint(tc.newerAt)}, p[3:]...)
				}
				want, got := lookup(sent, p), lookup(stored, sp)
				if want == nil {
					t.Fatalf("test pod lacks %s", strings.Join(p, "."))
				}
				if !cmp.Equal(want, got) {
					lost = append(lost, fmt.Sprintf("%s: sent %v, stored %v", strings.Join(p, "."), want, got))
				}
			}
			sentAnn := lookup(sent, []string{"metadata", "annotations"}).(map[string]any)
			storedAnn, _ := lookup(stored, []string{"metadata", "annotations"}).(map[string]any)
			for k, v := range sentAnn {
				if storedAnn[k] != v {
					lost = append(lost, fmt.Sprintf("annotation %q: sent %v, stored %v", k, v, storedAnn[k]))
				}
			}
			if tc.wantKept && len(lost) > 0 {
				t.Errorf("fields lost on the way through the v0.28 webhook:\n%s", strings.Join(lost, "\n"))
			}
			if !tc.wantKept && len(lost) == 0 {
				t.Errorf("the naive control kept every newer field: the check cannot tell (are the fields unknown to k8s.io/api v0.28.0?)")
			}
			t.Logf("%d of %d newer fields and annotations differ from what was sent%s", len(lost), len(newerPaths)+len(sentAnn),
				strings.Join(append([]string{""}, lost...), "\n  "))
		})
	}
}

// lookup walks a decoded JSON document.
func lookup(doc any, path []string) any {
	for _, k := range path {
		switch d := doc.(type) {
		case map[string]any:
			doc = d[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i < 0 || i >= len(d) {
				return nil
			}
			doc = d[i]
		default:
			return nil
		}
	}
	return doc
}

// TestRestartPolicyOnRegularContainer: a regular container with
// restartPolicy plus restartPolicyRules (the ContainerRestartRules feature,
// on by default in v1.37) is a valid Pod there, and the library injects
// into it, adding its appMounts and appEnv to that container, without
// refusing or dropping either field. (Until the library left that gate to
// the API server, its pre-flight refused the Pod with
// "spec.containers[0].restartPolicy: Forbidden".)
func TestRestartPolicyOnRegularContainer(t *testing.T) {
	c := env(t)
	if gateOff(c) {
		t.Skip("ContainerRestartRules is a v1.37 feature")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	pod := mustPod(t, []byte(newerPod))
	if _, err := c.Client().CoreV1().Pods(plainNamespace(t, c)).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("the API server refuses the pod itself: %v", err)
	}
	ns := namespace(t, c)
	inj := &injector{spec: loadSpec(t, proxySpec, sidecarFirst), capability: serverCapability(t, c), opts: nativeOpts}
	serve(t, c, ns, admissionHandler(inj.admit), cluster.WebhookOptions{})
	stored, err := c.Client().CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v; the API server takes the pod, so the library must inject into it", err)
	}
	if len(stored.Spec.InitContainers) == 0 || stored.Spec.InitContainers[0].Name != "proxy" {
		t.Errorf("stored init containers %v: want the proxy sidecar first", names(stored.Spec.InitContainers))
	}
	app := stored.Spec.Containers[len(stored.Spec.Containers)-1]
	if app.RestartPolicy == nil || *app.RestartPolicy != corev1.ContainerRestartPolicy("Never") || len(app.RestartPolicyRules) != 1 {
		t.Errorf("stored app container: restartPolicy %v, %d restartPolicyRules; want Never and the one rule sent", app.RestartPolicy, len(app.RestartPolicyRules))
	}
}
