package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/sidecarkit/sidecarkit/examples/operator/injector"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

// The controllers the binary can run.
const (
	ctlLabeler  = "labeler"
	ctlInjector = "injector"
	ctlWebhook  = "webhook"
)

// config is what the flags say.
type config struct {
	controllers string

	sidecarFile    string
	mode           string
	fallback       string
	allowPinned    bool
	keepOnOptOut   bool
	avoidUnordered bool
	handshake      string
	handshakeImage string
	handshakeCmd   string
	handshakeDir   string

	optIn     string
	kinds     string
	patchType string
	resync    time.Duration

	repair           string
	repairNamespaces string
	repairPods       string
	repairCooldown   time.Duration

	inplace             bool
	inplaceMax          int
	inplaceInterval     time.Duration
	inplaceReadyTimeout time.Duration

	nodeMetrics         bool
	nodeMetricsInterval time.Duration
	apiserverMetrics    bool
	factsTTL            time.Duration
	requireNodeLabel    bool

	leaderElect             bool
	leaderElectionID        string
	leaderElectionNamespace string
	metricsAddr             string
	probeAddr               string

	// restartable lets run start a second manager in the process (tests):
	// controller names then need not be unique process-wide.
	restartable bool

	webhookPort    int
	webhookCertDir string
	webhookPath    string
}

// settings are the flags, checked and decoded.
type settings struct {
	labeler, injector, webhook bool

	spec     sidecar.Spec
	options  sidecar.Options
	selector labels.Selector
	kinds    []string
	patch    injector.PatchType
	// keepOnOptOut: see injector.Reconciler.KeepOnOptOut.
	keepOnOptOut bool

	// repair runs the repair controller; repairRestart lets it restart
	// owners (see repair.Reconciler).
	repair, repairRestart bool
	repairNamespaces      labels.Selector
	repairPods            labels.Selector
}

func bindFlags(fs *flag.FlagSet) *config {
	c := &config{}
	fs.StringVar(&c.controllers, "controllers", ctlLabeler+","+ctlInjector, "controllers to run, comma-separated: "+ctlLabeler+", "+ctlInjector+", "+ctlWebhook)

	fs.StringVar(&c.sidecarFile, "sidecar", "", "the sidecar: a plain container or a full sidecar spec, YAML or JSON (injector, webhook)")
	fs.StringVar(&c.mode, "mode", "auto", "injection mode: "+"auto|native|legacy|pinned|universal")
	fs.StringVar(&c.fallback, "fallback", "legacy", "the mode auto chooses when the capability is unknown: legacy|native|pinned|universal")
	fs.BoolVar(&c.keepOnOptOut, "keep-on-opt-out", false, "injector: leave the sidecar in workloads that stop matching --opt-in (by default it is removed: exactly what was injected, nothing else)")
	fs.BoolVar(&c.allowPinned, "allow-pinned", false, "let auto pin pod templates to nodes labelled native where other nodes cannot run native sidecars (run the labeler)")
	fs.BoolVar(&c.avoidUnordered, "avoid-unordered-termination", false, "let auto choose legacy over native sidecars on 1.28 nodes, which terminate them with the app")
	fs.StringVar(&c.handshake, "handshake", "", `universal pair: the handshake runner in the sidecar image, e.g. "/usr/local/bin/sidecarctl handshake"`)
	fs.StringVar(&c.handshakeImage, "handshake-image", "", "universal pair: an image an init container copies the handshake runner from")
	fs.StringVar(&c.handshakeCmd, "handshake-image-command", "/sidecarctl handshake", "universal pair: the runner's command in --handshake-image")
	fs.StringVar(&c.handshakeDir, "handshake-dir", "", "universal pair: where the twins mount the handshake volume (default "+universal.DefaultMountPath+")")

	fs.StringVar(&c.optIn, "opt-in", "sidecarkit.io/inject=true", "label selector of the workloads the injector patches")
	fs.StringVar(&c.kinds, "kinds", "Deployment,StatefulSet,DaemonSet,CronJob,ReplicaSet,Job", "workload kinds the injector watches, comma-separated")
	fs.DurationVar(&c.resync, "resync", 10*time.Minute, "injector: how often every workload of each kind is listed from the API server (paged), to find those that opted out while the operator was down; 0 disables")
	fs.StringVar(&c.patchType, "patch-type", string(injector.StrategicMerge), "how the injector patches workloads: strategic|json (moves are always JSON patches)")

	fs.StringVar(&c.repair, "repair", "off", "Pods that should carry the sidecar and do not (created while the webhook was down): off, report (Events, metrics), or restart (also a rollout restart of their Deployment, StatefulSet or DaemonSet, checked against PodDisruptionBudgets)")
	fs.StringVar(&c.repairNamespaces, "repair-namespaces", "sidecarkit.io/inject=enabled", "repair: label selector of the namespaces whose Pods must carry the sidecar (the webhook's namespaceSelector)")
	fs.StringVar(&c.repairPods, "repair-pods", "", "repair: label selector narrowing the Pods (the webhook's objectSelector); empty is every Pod of those namespaces")
	fs.DurationVar(&c.repairCooldown, "repair-cooldown", 10*time.Minute, "repair: the least time between two restarts of one owner")
	fs.BoolVar(&c.inplace, "inplace-upgrade", false, "upgrade the sidecar image of running Pods in place when the sidecar spec changes only its image (native or legacy sidecars; RBAC: pods patch)")
	fs.IntVar(&c.inplaceMax, "inplace-max-unavailable", 1, "in-place upgrade: how many Pods may be upgrading (not ready with the new sidecar) at once")
	fs.DurationVar(&c.inplaceInterval, "inplace-interval", 10*time.Second, "in-place upgrade: the least time between two Pod patches")
	fs.DurationVar(&c.inplaceReadyTimeout, "inplace-ready-timeout", 2*time.Minute, "in-place upgrade: how long a Pod has to be ready with the new sidecar before the rollout halts")
	fs.BoolVar(&c.nodeMetrics, "node-metrics", false, "label nodes from their kubelet's /metrics via the API server's node proxy (RBAC: nodes/proxy get)")
	fs.DurationVar(&c.nodeMetricsInterval, "node-metrics-interval", 10*time.Minute, "with --node-metrics, how often each node's metrics are read again")
	fs.BoolVar(&c.requireNodeLabel, "require-node-label", false, "injector and webhook: a node without the labeler's label counts as unknown, not judged by its version (use with a labeler running --node-metrics)")
	fs.BoolVar(&c.apiserverMetrics, "apiserver-metrics", false, "read the API server's /metrics for its SidecarContainers gate (RBAC: get on /metrics)")
	fs.DurationVar(&c.factsTTL, "apiserver-facts-ttl", 10*time.Minute, "how long the API server's version (and metrics) are cached")

	fs.BoolVar(&c.leaderElect, "leader-elect", false, "elect a leader among replicas; only the leader runs the controllers (the webhook runs on all)")
	fs.StringVar(&c.leaderElectionID, "leader-election-id", "sidecarkit-operator.sidecarkit.io", "the leader election Lease's name")
	fs.StringVar(&c.leaderElectionNamespace, "leader-election-namespace", "", "the leader election Lease's namespace (default: the pod's own)")
	fs.StringVar(&c.metricsAddr, "metrics-bind-address", ":8080", `address of the operator's Prometheus metrics; "0" disables`)
	fs.StringVar(&c.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")

	fs.IntVar(&c.webhookPort, "webhook-port", 9443, "port of the admission webhook (TLS)")
	fs.StringVar(&c.webhookCertDir, "webhook-cert-dir", "", "directory with tls.crt and tls.key (default: controller-runtime's, <tmp>/k8s-webhook-server/serving-certs)")
	fs.StringVar(&c.webhookPath, "webhook-path", "/inject", "path the admission webhook serves")
	return c
}

// settings checks the flags and reads the sidecar spec.
func (c *config) settings(readFile func(string) ([]byte, error)) (*settings, error) {
	s := &settings{}
	var errs []error
	for _, name := range splitList(c.controllers) {
		switch name {
		case ctlLabeler:
			s.labeler = true
		case ctlInjector:
			s.injector = true
		case ctlWebhook:
			s.webhook = true
		default:
			errs = append(errs, fmt.Errorf("--controllers: unknown controller %q (want %s, %s or %s)", name, ctlLabeler, ctlInjector, ctlWebhook))
		}
	}
	switch c.repair {
	case "off":
	case "report":
		s.repair = true
	case "restart":
		s.repair, s.repairRestart = true, true
	default:
		errs = append(errs, fmt.Errorf("--repair %q: want off, report or restart", c.repair))
	}
	if s.repair {
		var err error
		if s.repairNamespaces, err = labels.Parse(c.repairNamespaces); err != nil {
			errs = append(errs, fmt.Errorf("--repair-namespaces: %w", err))
		} else if s.repairNamespaces.Empty() {
			errs = append(errs, errors.New("--repair-namespaces: an empty selector would demand the sidecar in every namespace"))
		}
		if s.repairPods, err = labels.Parse(c.repairPods); err != nil {
			errs = append(errs, fmt.Errorf("--repair-pods: %w", err))
		}
	}
	if c.inplaceMax < 1 || c.inplaceInterval <= 0 || c.inplaceReadyTimeout <= 0 {
		errs = append(errs, errors.New("--inplace-max-unavailable must be at least 1, --inplace-interval and --inplace-ready-timeout positive"))
	}
	if !s.labeler && !s.injector && !s.webhook && !s.repair && !c.inplace {
		errs = append(errs, errors.New("--controllers: nothing to run"))
	}
	if c.nodeMetrics && !s.labeler {
		errs = append(errs, errors.New("--node-metrics needs the labeler"))
	}
	if c.nodeMetricsInterval < 0 || c.factsTTL < 0 || c.resync < 0 || c.repairCooldown < 0 {
		errs = append(errs, errors.New("intervals must not be negative"))
	}
	if !s.injector && !s.webhook && !s.repair && !c.inplace {
		return s, errors.Join(errs...)
	}

	if c.sidecarFile == "" {
		errs = append(errs, errors.New("--sidecar is required by the injector, the webhook, the repair and the in-place upgrade"))
	} else if b, err := readFile(c.sidecarFile); err != nil {
		errs = append(errs, fmt.Errorf("--sidecar: %w", err))
	} else if s.spec, err = sidecar.LoadSpec(b); err != nil {
		errs = append(errs, fmt.Errorf("--sidecar %s: %w", c.sidecarFile, err))
	}
	mode, err := sidecar.ParseMode(c.mode)
	if err != nil {
		errs = append(errs, fmt.Errorf("--mode: %w", err))
	}
	fallback, err := sidecar.ParseMode(c.fallback)
	if err != nil || fallback == sidecar.Auto {
		errs = append(errs, fmt.Errorf("--fallback %q: want legacy, native, pinned or universal", c.fallback))
	}
	planner, err := c.planner()
	if err != nil {
		errs = append(errs, err)
	}
	if (mode == sidecar.Universal || fallback == sidecar.Universal) && planner == nil {
		errs = append(errs, errors.New("universal mode needs --handshake (the runner is in the sidecar image) or --handshake-image (an init container copies it)"))
	}
	s.keepOnOptOut = c.keepOnOptOut
	s.options = sidecar.Options{Mode: mode, Fallback: fallback, AllowPinned: c.allowPinned, AvoidUnorderedTermination: c.avoidUnordered, Universal: planner}

	if s.injector {
		if s.selector, err = labels.Parse(c.optIn); err != nil {
			errs = append(errs, fmt.Errorf("--opt-in: %w", err))
		} else if s.selector.Empty() {
			errs = append(errs, errors.New("--opt-in: an empty selector would patch every workload"))
		}
		for _, k := range splitList(c.kinds) {
			if _, ok := injector.Kind(k); !ok {
				errs = append(errs, fmt.Errorf("--kinds: unknown kind %q (want %s)", k, strings.Join(injector.KindNames(), ", ")))
				continue
			}
			s.kinds = append(s.kinds, k)
		}
		if len(s.kinds) == 0 {
			errs = append(errs, errors.New("--kinds: no kind"))
		}
		switch p := injector.PatchType(c.patchType); p {
		case injector.StrategicMerge, injector.JSONPatch:
			s.patch = p
		default:
			errs = append(errs, fmt.Errorf("--patch-type %q: want strategic or json", c.patchType))
		}
	}
	return s, errors.Join(errs...)
}

// planner is the universal planner the flags describe, or nil.
func (c *config) planner() (sidecar.Planner, error) {
	p := universal.Planner{MountPath: c.handshakeDir}
	switch {
	case c.handshake != "" && c.handshakeImage != "":
		return nil, errors.New("--handshake and --handshake-image exclude each other")
	case c.handshake != "":
		p.Handshake = strings.Fields(c.handshake)
	case c.handshakeImage != "":
		p.Copier = &universal.Copier{Image: c.handshakeImage, Handshake: strings.Fields(c.handshakeCmd)}
	default:
		return nil, nil
	}
	return p, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
