package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// The exit codes of doctor cluster. 1 stays "the command failed" (bad
// flags, kubeconfig, API server unreachable) and 2 an internal error.
const (
	exitReady        = 0 // native sidecars work on every node, and survive admission
	exitNotReady     = 3 // something proven stands in the way somewhere
	exitUndetermined = 4 // nothing proven against them, but not everything could be checked
)

// clusterReport is what doctor cluster found. -o json prints it as is.
type clusterReport struct {
	Context   string           `json:"context,omitempty"`
	Namespace string           `json:"namespace"`
	APIServer *apiServerReport `json:"apiServer"`
	// PoolLabel is the node label pools are grouped by; nodes without it
	// are grouped by kubelet version ("" groups every node so).
	PoolLabel string       `json:"poolLabel"`
	Pools     []poolReport `json:"pools"`
	// NodesError says why the nodes could not be listed.
	NodesError string           `json:"nodesError,omitempty"`
	Admission  *admissionReport `json:"admission"`
	Probe      *probeReport     `json:"probe"`
	Pods       podsReport       `json:"pods"`
	// Capability and Recommendation are for a Pod that may land on any
	// node.
	Capability     compat.Capability      `json:"capability"`
	Recommendation sidecar.Recommendation `json:"recommendation"`
	Findings       []compat.Finding       `json:"findings"`
	Verdict        verdict                `json:"verdict"`
}

// verdict is the answer for a CI job.
type verdict struct {
	// Status is "ready", "not-ready" or "undetermined".
	Status   string   `json:"status"`
	ExitCode int      `json:"exitCode"`
	Reasons  []string `json:"reasons"`
}

// clusterOptions are doctor cluster's own flags.
type clusterOptions struct {
	poolLabel      string
	probe          bool
	probeLabels    map[string]string
	nodeMetrics    bool
	allNamespaces  bool
	allowUniversal bool
}

func newDoctorCluster(stdout io.Writer) *cobra.Command {
	var kf kubeFlags
	var o clusterOptions
	var output string
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Check a live cluster for native sidecars: API server, node pools, webhooks, Pods",
		Long: `Check a live cluster, through a kubeconfig as kubectl does, for native sidecars:

  - the API server's version and the SidecarContainers gate in its /metrics;
  - every node's kubelet version and, where RBAC allows (nodes/proxy), its
    kubelet's /metrics through the API server's node proxy; nodes grouped
    into pools by a label (--pool-label; by default the first of
    ` + strings.Join(wellKnownPoolLabels, ", ") + `
    that any node carries; nodes without it by kubelet version);
  - the mutating webhooks and MutatingAdmissionPolicies that cover Pod
    CREATE, and whether they select a probe Pod in the namespace;
  - a server-side dry run (?dryRun=All, never stored) of that probe Pod,
    which carries a native sidecar: if the result lost restartPolicy, who
    removed it, saying what is proven and what is inferred;
  - the namespace's Pods (-A: all) stuck in Init behind a sidecar, with a
    lost restartPolicy, refused by a kubelet, or whose kubectl default
    container is a sidecar.

It recommends a mode (native, pinned, universal, legacy) per pool and
for the whole cluster.

Exit codes: 0 ready (every node runs native sidecars, the API server
stores the field, and the probe kept it); 3 not ready (something stands in
the way: the report says what); 4 undetermined (nothing against, but
something could not be checked: no nodes, an unknown capability, the
probe refused); 1 the command failed (flags, kubeconfig, API server
unreachable).`,
		Example: `  sidecarctl doctor cluster
  sidecarctl doctor cluster --context prod -n payments --probe-label sidecar.istio.io/inject=true
  sidecarctl doctor cluster --pool-label node.kubernetes.io/instance-type -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			k, err := kf.connect()
			if err != nil {
				return err
			}
			r, err := diagnoseCluster(context.Background(), k, o)
			if err != nil {
				return err
			}
			if err := writeCluster(stdout, output, r); err != nil {
				return err
			}
			if r.Verdict.ExitCode != exitReady {
				return exitCode(r.Verdict.ExitCode)
			}
			return nil
		},
	}
	kf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.poolLabel, "pool-label", "", "node label that names a node's pool (default: the first well-known pool label any node carries; nodes without it are grouped by kubelet version)")
	fl.BoolVar(&o.probe, "probe", true, "send the dry-run probe Pod (needs RBAC: create pods in the namespace)")
	fl.StringToStringVar(&o.probeLabels, "probe-label", nil, "extra labels of the probe Pod, KEY=VALUE, to match webhooks' objectSelectors as your Pods do")
	fl.BoolVar(&o.nodeMetrics, "node-metrics", true, "read each kubelet's /metrics through the API server's node proxy (needs RBAC: get nodes/proxy)")
	fl.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "scan the Pods of every namespace, not only the namespace's (the probe stays in the namespace)")
	fl.BoolVar(&o.allowUniversal, "allow-universal", true, "the sidecar image can run the universal pair's handshake, so universal may be recommended")
	fl.StringVarP(&output, "output", "o", "text", "output: text|json")
	return cmd
}

// diagnoseCluster gathers everything and decides.
func diagnoseCluster(ctx context.Context, k *kube, o clusterOptions) (*clusterReport, error) {
	r := &clusterReport{Context: k.context, Namespace: k.namespace, Pools: []poolReport{}}
	api, err := readAPIServer(ctx, k)
	if err != nil {
		return nil, err
	}
	r.APIServer = api
	apiCap := api.Capability

	nodes, err := listNodes(ctx, k)
	var reports []nodeReport
	if err != nil {
		r.NodesError = describe(err)
	} else {
		reports = readNodeReports(ctx, k, nodes, o.nodeMetrics)
		byName := make(map[string]*corev1.Node, len(nodes))
		for i := range nodes {
			byName[nodes[i].Name] = &nodes[i]
		}
		r.PoolLabel = choosePoolLabel(o.poolLabel, nodes)
		r.Pools = groupPools(r.PoolLabel, reports, byName, apiCap, o.allowUniversal)
	}
	r.Capability, r.Recommendation = recommendFor(reports, apiCap, o.allowUniversal)
	if err != nil {
		r.Recommendation.Reason = "the nodes cannot be listed (" + r.NodesError + "): " + r.Recommendation.Reason
	}
	r.Findings = findings(r.Capability)

	target := probeTarget{namespace: k.namespace, labels: probePod(k.namespace, o.probeLabels).Labels}
	r.Admission = readAdmission(ctx, k, &target)
	if o.probe {
		r.Probe = runProbe(ctx, k, api, r.Admission, target, o.probeLabels)
	} else {
		r.Probe = &probeReport{Namespace: k.namespace, Labels: target.labels, Result: probeSkipped, Proven: []string{}, Inferred: []string{}}
		r.Admission.CallsNote = "no probe was sent (--probe=false)"
	}

	nodeCaps := make(map[string]compat.Capability, len(reports))
	for _, n := range reports {
		nodeCaps[n.Name] = n.Capability
	}
	ns := k.namespace
	if o.allNamespaces {
		ns = ""
	}
	r.Pods = scanPods(ctx, k, ns, apiCap, nodeCaps)
	r.Verdict = decide(r)
	return r, nil
}

// decide turns the report into the verdict and its exit code.
func decide(r *clusterReport) verdict {
	var against, unknown []string
	switch r.APIServer.Capability.APIServer {
	case compat.APIServerDrops, compat.APIServerUnknownField:
		against = append(against, "the API server "+r.APIServer.Capability.APIServer.Description())
	case compat.APIServerUnknown:
		unknown = append(unknown, "the API server's capability is unknown")
	}
	switch {
	case r.NodesError != "":
		unknown = append(unknown, "the nodes cannot be listed: "+r.NodesError)
	case len(r.Pools) == 0:
		unknown = append(unknown, "no nodes are registered")
	}
	for _, p := range r.Pools {
		switch {
		case p.Recommendation.Mode == sidecar.Native:
		case p.Capability.Kubelet == compat.KubeletUnknown && p.Capability.APIServer == compat.APIServerStores:
			unknown = append(unknown, fmt.Sprintf("pool %s: the kubelet capability is unknown", p.Name))
		case p.Capability.APIServer == compat.APIServerStores:
			against = append(against, fmt.Sprintf("pool %s: %s (%s), not native", p.Name, p.Recommendation.Mode, p.Recommendation.Code))
		}
	}
	switch pr := r.Probe; pr.Result {
	case probeLost, probeMissing:
		who := ""
		if pr.Culprit != "" {
			who = ", removed by " + pr.Culprit
		} else if len(pr.Candidates) > 0 {
			who = ", removed by one of " + strings.Join(pr.Candidates, ", ")
		}
		what := "lost restartPolicy: Always"
		if pr.Result == probeMissing {
			what = "lost its native sidecar"
		}
		against = append(against, fmt.Sprintf("the probe Pod %s in admission (namespace %q%s)", what, pr.Namespace, who))
	case probeRejected:
		unknown = append(unknown, fmt.Sprintf("the probe Pod was refused (%s): whether admission keeps the field is not checked", pr.Error))
	case probeSkipped:
		unknown = append(unknown, "no probe Pod was sent (--probe=false): whether admission keeps the field is not checked")
	}
	switch {
	case len(against) > 0:
		return verdict{Status: "not-ready", ExitCode: exitNotReady, Reasons: append(against, unknown...)}
	case len(unknown) > 0:
		return verdict{Status: "undetermined", ExitCode: exitUndetermined, Reasons: unknown}
	}
	return verdict{Status: "ready", ExitCode: exitReady, Reasons: []string{
		fmt.Sprintf("every node runs native sidecars, the API server stores restartPolicy, and the probe Pod kept it in namespace %q", r.Probe.Namespace)}}
}

// writeCluster prints the report as text or JSON.
func writeCluster(w io.Writer, output string, r *clusterReport) error {
	if r.Findings == nil {
		r.Findings = []compat.Finding{}
	}
	if output == "json" {
		return printJSON(w, r)
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	ctxName := r.Context
	if ctxName == "" {
		ctxName = "(none)"
	}
	p("context %q, namespace %q\n\n", ctxName, r.Namespace)

	a := r.APIServer
	p("API server %s: apiServer=%s\n", a.Version, a.Capability.APIServer)
	p("  metrics: %s\n", a.Metrics)
	for _, e := range a.Capability.Evidence {
		p("  evidence: %s\n", e)
	}
	if a.Error != "" {
		p("  error: %s\n", a.Error)
	}

	p("\nnode pools")
	switch {
	case r.NodesError != "":
		p(": %s\n", r.NodesError)
	case r.PoolLabel == "":
		p(" (by kubelet version):\n")
	default:
		p(" (by label %s; nodes without it by kubelet version):\n", r.PoolLabel)
	}
	if r.NodesError == "" && len(r.Pools) == 0 {
		p("  no nodes\n")
	}
	for _, pool := range r.Pools {
		rec := pool.Recommendation
		p("  pool %s: %s (%s): %s\n", pool.Name, rec.Mode, rec.Code, rec.Reason)
		for _, w := range rec.Warnings {
			p("    warning: %s\n", warningText(w))
		}
		for _, n := range pool.Nodes {
			p("    node/%s %s: kubelet=%s orderedTermination=%s; metrics: %s\n", n.Name, n.KubeletVersion, n.Capability.Kubelet, n.Capability.OrderedTermination, n.Metrics)
			if n.Error != "" {
				p("      error: %s\n", n.Error)
			}
		}
	}

	adm := r.Admission
	p("\nmutating webhooks that cover Pod CREATE, in the order the API server calls them")
	if adm.WebhooksError != "" {
		p(": %s\n", adm.WebhooksError)
	} else {
		switch adm.OtherWebhooks {
		case 0:
			p(":\n")
		case 1:
			p(" (1 other webhook does not):\n")
		default:
			p(" (%d other webhooks do not):\n", adm.OtherWebhooks)
		}
		if len(adm.Webhooks) == 0 {
			p("  none\n")
		}
	}
	for _, m := range adm.Webhooks {
		p("  %s (configuration %s, reinvocation %s): selects the probe: %s\n", m.Name, m.Configuration, m.ReinvocationPolicy, m.Match)
		for _, why := range m.Reasons {
			p("    - %s\n", why)
		}
	}
	if adm.CallsNote != "" {
		p("  calls not observed: %s\n", adm.CallsNote)
	}
	p("mutating admission policies that cover Pod CREATE")
	switch {
	case adm.PoliciesError != "":
		p(": %s\n", adm.PoliciesError)
	case len(adm.Policies) == 0:
		p(": none\n")
	default:
		p(":\n")
	}
	for _, pm := range adm.Policies {
		p("  %s (bindings: %s): selects the probe: %s\n", pm.Name, orNone(pm.Bindings), pm.Match)
		for _, why := range pm.Reasons {
			p("    - %s\n", why)
		}
	}

	pr := r.Probe
	p("\nprobe: server-side dry run of a Pod with a native sidecar in namespace %q", pr.Namespace)
	if pr.Name != "" {
		p(" (%s)", pr.Name)
	}
	p(": %s\n", probeResultText(pr))
	if pr.Error != "" {
		p("  error: %s\n", pr.Error)
	}
	p("  labels: %s\n", labelsText(pr.Labels))
	for _, s := range pr.Proven {
		p("  proven: %s\n", s)
	}
	for _, s := range pr.Inferred {
		p("  inferred: %s\n", s)
	}
	if pr.Culprit != "" {
		p("  removed by: %s\n", pr.Culprit)
	} else if len(pr.Candidates) > 0 && (pr.Result == probeLost || pr.Result == probeMissing) {
		p("  removed by one of: %s\n", strings.Join(pr.Candidates, ", "))
	}
	if len(pr.AddedInitContainers) > 0 {
		p("  init containers added by admission: %s\n", strings.Join(pr.AddedInitContainers, ", "))
	}

	pods := r.Pods
	where := fmt.Sprintf("namespace %q", pods.Namespace)
	if pods.Namespace == "" {
		where = "all namespaces"
	}
	p("\nPods in %s", where)
	if pods.Error != "" {
		p(": %s\n", pods.Error)
	} else {
		p(" (%d scanned): %d with findings\n", pods.Scanned, len(pods.Pods)+pods.Omitted)
	}
	for _, pod := range pods.Pods {
		p("  pod %s/%s", pod.Namespace, pod.Name)
		if pod.Node != "" {
			p(" on node/%s", pod.Node)
		}
		p(":\n")
		for _, f := range pod.Findings {
			p("    %s\n", f)
			if f.Fix != "" {
				p("      fix: %s\n", f.Fix)
			}
		}
	}
	if pods.Omitted > 0 {
		p("  ... and %d more Pods with findings\n", pods.Omitted)
	}

	rec := r.Recommendation
	p("\ncluster-wide: %s (%s): %s\n", rec.Mode, rec.Code, rec.Reason)
	for _, w := range rec.Warnings {
		p("  warning: %s\n", warningText(w))
	}
	if len(r.Findings) == 0 {
		p("findings: none\n")
	} else {
		p("findings:\n")
		for _, f := range r.Findings {
			p("  %s\n", f)
			if f.Fix != "" {
				p("    fix: %s\n", f.Fix)
			}
		}
	}
	v := r.Verdict
	p("\nverdict: %s (exit %d)\n", v.Status, v.ExitCode)
	for _, why := range v.Reasons {
		p("  - %s\n", why)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func probeResultText(pr *probeReport) string {
	switch pr.Result {
	case probeKept:
		return "restartPolicy: Always kept"
	case probeLost:
		return "restartPolicy: Always lost"
	case probeMissing:
		return "the native sidecar is gone"
	case probeRejected:
		return "refused"
	case probeSkipped:
		return "not sent (--probe=false)"
	}
	return pr.Result
}

func labelsText(l map[string]string) string {
	parts := make([]string, 0, len(l))
	for _, k := range sortedKeys(l) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}
