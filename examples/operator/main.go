// Command operator runs sidecarkit on controller-runtime: a node labeler
// that records each node's native-sidecar capability in a label, a workload
// injector that patches the pod templates of opted-in Deployments,
// StatefulSets, DaemonSets and CronJobs, and an admission webhook that
// injects into Pods. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/sidecarkit/sidecarkit/crwebhook"
	"github.com/sidecarkit/sidecarkit/examples/operator/facts"
	"github.com/sidecarkit/sidecarkit/examples/operator/injector"
	"github.com/sidecarkit/sidecarkit/examples/operator/inplace"
	"github.com/sidecarkit/sidecarkit/examples/operator/labeler"
	"github.com/sidecarkit/sidecarkit/examples/operator/metrics"
	"github.com/sidecarkit/sidecarkit/examples/operator/repair"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

const name = "sidecarkit-operator"

func main() {
	c := bindFlags(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	s, err := c.settings(os.ReadFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
	restCfg, err := ctrl.GetConfig()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	if err := run(ctrl.SetupSignalHandler(), restCfg, c, s); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, restCfg *rest.Config, c *config, s *settings) error {
	log := ctrl.Log.WithName(name)
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	byObject := map[client.Object]cache.ByObject{
		// Cluster.For needs names, labels and kubelet versions; the image
		// lists are the bulk of a Node.
		&corev1.Node{}: {Transform: trimNode},
	}
	if s.injector {
		for _, k := range s.kinds {
			u := &unstructured.Unstructured{}
			gvk, _ := injector.Kind(k) // checked by settings
			u.SetGroupVersionKind(gvk)
			byObject[u] = cache.ByObject{Label: s.selector}
		}
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                  scheme,
		Controller:              ctrlconfig.Controller{SkipNameValidation: &c.restartable},
		Metrics:                 metricsserver.Options{BindAddress: c.metricsAddr},
		HealthProbeBindAddress:  c.probeAddr,
		LeaderElection:          c.leaderElect,
		LeaderElectionID:        c.leaderElectionID,
		LeaderElectionNamespace: c.leaderElectionNamespace,
		WebhookServer:           ctrlwebhook.NewServer(ctrlwebhook.Options{Port: c.webhookPort, CertDir: c.webhookCertDir}),
		Cache: cache.Options{
			ByObject:         byObject,
			DefaultTransform: cache.TransformStripManagedFields(),
		},
		// Workloads are read as unstructured objects (so that fields the
		// compiled types lack survive); read them from the cache too.
		Client: client.Options{Cache: &client.CacheOptions{Unstructured: true}},
	})
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	api := &facts.APIServerCache{
		Facts:       facts.REST{Discovery: cs.Discovery(), Client: cs.CoreV1().RESTClient()},
		ReadMetrics: c.apiserverMetrics,
		TTL:         c.factsTTL,
	}
	source := &facts.Cluster{Nodes: mgr.GetCache(), APIServer: api.Read, RequireLabel: c.requireNodeLabel}
	recorder := mgr.GetEventRecorder(name)
	// The counters are served with controller-runtime's own on the
	// manager's metrics endpoint.
	counters, err := metrics.New(ctrlmetrics.Registry)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}

	if s.labeler {
		r := &labeler.Reconciler{Client: mgr.GetClient(), Recorder: recorder}
		if c.nodeMetrics {
			r.Metrics, r.Resync = labeler.ProxyMetrics{Client: cs.CoreV1().RESTClient()}, c.nodeMetricsInterval
		}
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("labeler: %w", err)
		}
	}
	if s.injector {
		for _, k := range s.kinds {
			gvk, _ := injector.Kind(k)
			r := &injector.Reconciler{
				Client: mgr.GetClient(), Kind: gvk, Selector: s.selector,
				Spec: s.spec, Options: s.options, Facts: source, PatchType: s.patch, Recorder: recorder,
				KeepOnOptOut: s.keepOnOptOut, Reader: mgr.GetAPIReader(), Metrics: counters, Resync: c.resync,
			}
			if err := r.SetupWithManager(mgr); err != nil {
				return fmt.Errorf("injector: %w", err)
			}
		}
	}
	if s.repair {
		r := &repair.Reconciler{
			Client: mgr.GetClient(), Owners: mgr.GetAPIReader(), Sidecar: s.spec.Container.Name, Namespaces: s.repairNamespaces, Pods: s.repairPods,
			Restart: s.repairRestart, Cooldown: c.repairCooldown, Recorder: recorder, Metrics: counters,
		}
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("repair: %w", err)
		}
	}
	if c.inplace {
		u := &inplace.Upgrader{
			Client: mgr.GetClient(), Spec: s.spec, MaxUnavailable: c.inplaceMax, Interval: c.inplaceInterval,
			ReadyTimeout: c.inplaceReadyTimeout, Recorder: recorder, Metrics: counters,
		}
		// A plain Runnable runs on the leader only.
		if err := mgr.Add(manager.RunnableFunc(u.Run)); err != nil {
			return fmt.Errorf("in-place upgrade: %w", err)
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	ready := healthz.Ping
	if s.webhook {
		in, err := sidecar.NewInjector(s.spec)
		if err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
		h, err := crwebhook.NewHandler(crwebhook.Config{
			Injector: in, Options: s.options, Capability: source.Capability,
			// A node or the API server that cannot be read: inject in the
			// fallback mode with a warning rather than reject the Pod.
			AllowPartialCapability: true,
			Workloads:              true,
		})
		if err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
		srv := mgr.GetWebhookServer()
		if err := crwebhook.Register(srv, c.webhookPath, h); err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
		ready = srv.StartedChecker()
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		return err
	}
	log.Info("starting", "labeler", s.labeler, "nodeMetrics", c.nodeMetrics, "injector", s.injector, "kinds", s.kinds,
		"optIn", s.selector, "patchType", s.patch, "webhook", s.webhook, "repair", c.repair, "inplaceUpgrade", c.inplace, "mode", s.options.Mode.String())
	return mgr.Start(ctx)
}

// trimNode drops what no controller here reads from a cached Node.
func trimNode(obj interface{}) (interface{}, error) {
	if n, ok := obj.(*corev1.Node); ok {
		n.ManagedFields = nil
		n.Status.Images = nil
	}
	return obj, nil
}
