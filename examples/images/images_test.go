package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestImages builds both images as OCI layouts, reads each back from its
// layout, checks its config (entrypoint, non-root user, linux on this
// architecture) and files (a static binary, passwd, CA bundle), unpacks it
// and runs the entrypoint: the webhook serves an AdmissionReview over TLS
// and its /metrics; the operator prints its usage, then labels a Node of a
// real kube-apiserver (runOperator). As root, the binaries run as the
// image's user, 65532.
//
// It builds two static binaries (CGO_ENABLED=0: a build cache of its own,
// minutes cold), so it runs only with SIDECARKIT_IMAGES=1, as .ci/run's
// images step sets it.
func TestImages(t *testing.T) {
	if os.Getenv("SIDECARKIT_IMAGES") != "1" {
		t.Skip("set SIDECARKIT_IMAGES=1 to build the images and run them (.ci/run does)")
	}
	if runtime.GOOS != "linux" {
		t.Fatal("the images are linux images; their binaries run here only on linux")
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	out := t.TempDir()
	res, err := buildAll(context.Background(), goTool, "..", out, images, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("%d images built, want 2", len(res))
	}
	for _, b := range res {
		t.Run(b.name, func(t *testing.T) {
			img := fromLayout(t, b.dir)
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || cf.Config.User != "65532:65532" ||
				len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/"+b.name {
				t.Errorf("config: os %s arch %s user %q entrypoint %q", cf.OS, cf.Architecture, cf.Config.User, cf.Config.Entrypoint)
			}
			if d, err := img.Digest(); err != nil || d != b.digest {
				t.Errorf("digest in the layout %v (%v), want %v", d, err, b.digest)
			}
			root := unpack(t, img)
			bin := filepath.Join(root, cf.Config.Entrypoint[0])
			checkStatic(t, bin)
			passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
			if err != nil || !strings.Contains(string(passwd), "nonroot:x:65532:65532:") {
				t.Errorf("etc/passwd: %v\n%s", err, passwd)
			}
			if st, err := os.Stat(filepath.Join(root, caBundle)); err != nil || st.Size() == 0 {
				t.Errorf("the CA bundle: %v", err)
			}
			switch b.name {
			case "webhook":
				runWebhook(t, bin)
			case "operator":
				out, err := asImageUser(exec.Command(bin, "-help")).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "-kubeconfig") {
					t.Errorf("operator -help: %v\n%s", err, out)
				}
				runOperator(t, bin)
			}
		})
	}
}

// fromLayout reads the image tagged latest from an OCI image layout.
func fromLayout(t *testing.T, dir string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == "latest" {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("%s: no image tagged latest", dir)
	return nil
}

// unpack writes the image's flattened filesystem to a new directory that
// the image's user can read, and returns it.
func unpack(t *testing.T, img v1.Image) string {
	t.Helper()
	root := t.TempDir()
	for d := root; d != "/" && d != "."; d = filepath.Dir(d) {
		if strings.HasPrefix(d, os.TempDir()+string(filepath.Separator)) {
			_ = os.Chmod(d, 0o755)
		}
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Clean("/" + h.Name)
		p := filepath.Join(root, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, os.FileMode(h.Mode).Perm()|0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		default:
			t.Errorf("unexpected entry %s (type %c)", h.Name, h.Typeflag)
		}
	}
	return root
}

// checkStatic fails t unless bin is an executable ELF without an
// interpreter: it runs in an image with no libc.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s is not executable: %v", bin, st.Mode())
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: not a static binary", bin)
		}
	}
}

// asImageUser runs cmd as the image's user when the test runs as root.
func asImageUser(cmd *exec.Cmd) *exec.Cmd {
	if os.Getuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	}
	return cmd
}

const review = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",
"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
"namespace":"shop","operation":"CREATE","userInfo":{"username":"alice"},
"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx"}]}},"dryRun":false}}`

// runWebhook starts the image's webhook binary with a serving certificate,
// a configuration and a static capability, sends it an AdmissionReview
// over TLS, scrapes its /metrics, and stops it with SIGTERM.
func runWebhook(t *testing.T, bin string) {
	dir := filepath.Dir(bin) // the image's root: readable by its user
	conf := filepath.Join(dir, "tmp", "webhook")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	pool := writeServingCert(t, conf)
	if err := os.WriteFile(filepath.Join(conf, "config.yaml"), []byte("sidecar:\n  name: proxy\n  image: registry.example/proxy:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := asImageUser(exec.Command(bin, "--config", filepath.Join(conf, "config.yaml"),
		"--tls-cert-file", filepath.Join(conf, "tls.crt"), "--tls-key-file", filepath.Join(conf, "tls.key"),
		"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
		"--apiserver-version", "v1.33.1", "--kubelet-version", "v1.33.1"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	addrs := make(chan [2]string, 1)
	var logs bytes.Buffer
	go func() {
		var a [2]string
		sent := false
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write(sc.Bytes())
			logs.WriteByte('\n')
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				switch rec.Msg {
				case "serving":
					a[0] = rec.Addr
				case "serving metrics":
					a[1] = rec.Addr
				}
				if a[0] != "" && a[1] != "" && !sent {
					addrs <- a
					sent = true
				}
			}
		}
		exited <- cmd.Wait()
	}()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-exited:
		t.Fatalf("webhook exited: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("webhook did not start serving:\n%s", logs.String())
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Post("https://"+a[0]+"/mutate", "application/json", strings.NewReader(review))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"allowed":true,"patch":`) {
		t.Errorf("review: %d %s", resp.StatusCode, body)
	}
	// The review is counted once its answer is written, which the client
	// may see first.
	const series = `sidecarkit_webhook_reviews_total{mode="native",outcome="injected"} 1`
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err = http.Get("http://" + a[1] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(metrics), series) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics does not count the review (%s):\n%s", series, metrics)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("webhook after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("webhook did not stop on SIGTERM:\n%s", logs.String())
	}
}

// writeServingCert writes a self-signed serving certificate for
// 127.0.0.1 to dir/tls.crt and dir/tls.key, readable by the image's
// user, and returns a pool that trusts it.
func writeServingCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "webhook"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{"tls.crt": {Type: "CERTIFICATE", Bytes: der}, "tls.key": {Type: "EC PRIVATE KEY", Bytes: kb}} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if os.Getuid() == 0 {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// runOperator runs the image's operator binary (its labeler) against a
// real kube-apiserver, the e2e suite's (envtest with e2e/build.sh's
// binaries), and waits until it labels a v1.33 Node native. Without the
// binaries it fails under SIDECARKIT_E2E_REQUIRE=1 (CI's images step, after
// the e2e step built them) and is skipped otherwise.
func runOperator(t *testing.T, bin string) {
	apiserver, etcd, err := e2eBinaries()
	if err != nil {
		if os.Getenv("SIDECARKIT_E2E_REQUIRE") == "1" {
			t.Fatalf("the operator against a kube-apiserver: %v", err)
		}
		t.Skipf("the operator against a kube-apiserver: %v (e2e/build.sh builds them)", err)
	}
	env := &envtest.Environment{}
	env.ControlPlane.GetAPIServer().Path = apiserver
	env.ControlPlane.Etcd = &envtest.Etcd{Path: etcd}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kc := clientcmdapi.NewConfig()
	kc.Clusters["e2e"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "admin"}
	kc.CurrentContext = "e2e"
	kubeconfig := filepath.Join(filepath.Dir(bin), "tmp", "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		if err := os.Chown(kubeconfig, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "new-1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.NodeInfo.KubeletVersion = "v1.33.4"
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := asImageUser(exec.Command(bin, "--kubeconfig", kubeconfig, "--controllers=labeler",
		"--metrics-bind-address=0", "--health-probe-bind-address=0"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	for {
		got, err := cs.CoreV1().Nodes().Get(ctx, "new-1", metav1.GetOptions{})
		if err == nil && got.Labels[compat.NodeLabel] == "native" {
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("operator exited: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("node new-1 not labelled %s=native: %v\n%s", compat.NodeLabel, got.GetLabels(), logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// e2eBinaries returns the kube-apiserver and etcd the e2e suite runs:
// $SIDECARKIT_E2E_KUBE_APISERVER and $SIDECARKIT_E2E_ETCD when both are
// set, otherwise the paths `e2e/build.sh --print` names, which must exist.
func e2eBinaries() (apiserver, etcd string, err error) {
	apiserver, etcd = os.Getenv("SIDECARKIT_E2E_KUBE_APISERVER"), os.Getenv("SIDECARKIT_E2E_ETCD")
	if apiserver == "" || etcd == "" {
		out, _ := exec.Command("bash", filepath.Join("..", "..", "e2e", "build.sh"), "--print").Output()
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "KUBE_APISERVER="); ok {
				apiserver = v
			} else if v, ok := strings.CutPrefix(line, "ETCD="); ok {
				etcd = v
			}
		}
	}
	for _, p := range []string{apiserver, etcd} {
		if st, err := os.Stat(p); p == "" || err != nil || st.IsDir() {
			return "", "", fmt.Errorf("kube-apiserver %q and etcd %q: not built", apiserver, etcd)
		}
	}
	return apiserver, etcd, nil
}
