// Command quickstart is the whole program of crwebhook/README.md's "From
// zero" section: a controller-runtime manager whose webhook server injects
// a sidecar into every Pod sent to /mutate-pods. It is a module of its own,
// set up as a new project would be (go mod init, then the two sidecarkit
// modules), so that CI builds exactly what the README shows.
//
//	go run . -kubeconfig ~/.kube/config -cert-dir DIR   # DIR holds tls.crt and tls.key
//
// The MutatingWebhookConfiguration that sends Pods to it (its Service or
// URL, path /mutate-pods, caBundle) is yours; e2e/quickstart registers one
// with a real kube-apiserver and creates a Pod through it.
package main

import (
	"flag"
	"fmt"
	"os"

	"k8s.io/client-go/discovery"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/sidecarkit/sidecarkit/crwebhook"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// sidecarYAML is the sidecar: a plain container, or a full sidecar spec
// with volumes, app mounts and env (see sidecar.LoadSpec).
var sidecarYAML = []byte(`
name: proxy
image: registry.example/proxy:1.9
`)

func main() {
	certDir := flag.String("cert-dir", "/tmp/k8s-webhook-server/serving-certs", "the directory of the serving certificate, tls.crt and tls.key")
	port := flag.Int("port", 9443, "the webhook server's HTTPS port")
	flag.Parse() // also --kubeconfig, registered by controller-runtime
	ctrl.SetLogger(zap.New())
	if err := run(*certDir, *port); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(certDir string, port int) error {
	cfg, err := ctrl.GetConfig() // --kubeconfig, $KUBECONFIG, in-cluster or ~/.kube/config
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		WebhookServer: webhook.NewServer(webhook.Options{Port: port, CertDir: certDir}),
	})
	if err != nil {
		return err
	}
	// The API server's version: whether it keeps restartPolicy on init
	// containers (native sidecars).
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return err
	}
	serverVersion := v.GitVersion

	spec, err := sidecar.LoadSpec(sidecarYAML)
	if err != nil {
		return err
	}
	injector, err := sidecar.NewInjector(spec)
	if err != nil {
		return err
	}
	h, err := crwebhook.NewHandler(crwebhook.Config{
		Injector: injector,
		Options:  sidecar.Options{AllowPinned: true},
		// The Nodes of the manager's cache, judged for each Pod's node selection.
		Capability:             crwebhook.Cluster{Nodes: mgr.GetClient(), APIServerVersion: serverVersion}.Capability,
		AllowPartialCapability: true,  // an unreadable node: inject in the fallback mode, with a warning
		Workloads:              false, // true: also Deployments, Jobs, ... on CREATE
	})
	if err != nil {
		return err
	}
	if err := crwebhook.Register(mgr.GetWebhookServer(), "/mutate-pods", h); err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
