// Package quickstart runs examples/quickstart, the program of
// crwebhook/README.md's "From zero", against a real kube-apiserver.
package quickstart

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

// TestQuickstart builds examples/quickstart as its README has a newcomer
// build it, runs it with a kubeconfig and a serving certificate, registers
// it for Pods of a test namespace with a MutatingWebhookConfiguration, and
// creates a Pod there (dry-run): the API server must return it with the
// sidecar, a native one (restartPolicy Always) where the API server keeps
// the field.
func TestQuickstart(t *testing.T) {
	c := cluster.ForTest(t, cluster.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "quickstart")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = "../../examples/quickstart"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/quickstart: %v\n%s", err, out)
	}

	// What the program needs: a kubeconfig and tls.crt/tls.key.
	for name, b := range map[string][]byte{"tls.crt": c.PKI.WebhookCert, "tls.key": c.PKI.WebhookKey} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rc := c.Config()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["e2e"] = &clientcmdapi.Cluster{Server: rc.Host, CertificateAuthorityData: rc.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: rc.CertData, ClientKeyData: rc.KeyData}
	kc.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "admin"}
	kc.CurrentContext = "e2e"
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	var logs bytes.Buffer
	cmd := exec.Command(bin, "-kubeconfig", kubeconfig, "-cert-dir", dir, "-port", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("quickstart's output:\n%s", logs.String())
		}
	})

	client := c.Client()
	ns := c.TestNamespace(t, map[string]string{"quickstart": "yes"})
	// A v1.33 node, so that the capability is known.
	node, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "quickstart-node"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.NodeInfo.KubeletVersion = "v1.33.1"
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/mutate-pods", port)
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "quickstart"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:         "inject.quickstart.example.com",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: c.PKI.CACert},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"quickstart": "yes"}},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			TimeoutSeconds:          ptr.To[int32](10),
		}},
	}
	if _, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}
	// Until the program serves and the API server's informer has the
	// configuration, a Pod is refused (failurePolicy Fail) or not sent.
	var got *corev1.Pod
	for {
		got, err = client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && len(got.Spec.InitContainers)+len(got.Spec.Containers) > 1 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("quickstart exited: %v", err)
		case <-ctx.Done():
			t.Fatalf("no Pod with the sidecar: last %v, %+v", err, got)
		case <-time.After(200 * time.Millisecond):
		}
	}
	var proxy *corev1.Container
	for i := range got.Spec.InitContainers {
		if got.Spec.InitContainers[i].Name == "proxy" {
			proxy = &got.Spec.InitContainers[i]
		}
	}
	for i := range got.Spec.Containers {
		if got.Spec.Containers[i].Name == "proxy" {
			proxy = &got.Spec.Containers[i]
		}
	}
	if proxy == nil || proxy.Image != "registry.example/proxy:1.9" {
		t.Fatalf("no proxy sidecar in %+v", got.Spec)
	}
	if enabled, set := c.Options().FeatureGate("SidecarContainers"); !set || enabled {
		if proxy.RestartPolicy == nil || *proxy.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			t.Errorf("the sidecar is not native: %+v", proxy)
		}
	} else if proxy.RestartPolicy != nil {
		// The quickstart judges the API server by its version alone
		// (crwebhook.Cluster), so with the gate off it still injects a
		// native sidecar, whose restartPolicy the API server drops: a
		// blocking init container (crwebhook/README.md#from-zero).
		t.Errorf("gate off, yet the API server kept restartPolicy %q", *proxy.RestartPolicy)
	}
	t.Logf("injected: %s (restartPolicy %v), annotations %v", proxy.Name, ptr.Deref(proxy.RestartPolicy, ""), got.Annotations)
}
