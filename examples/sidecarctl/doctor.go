package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

// report is what a doctor command found. -o json prints it as is.
type report struct {
	// Subjects are the components or nodes examined, one by one.
	Subjects []subject `json:"subjects,omitempty"`
	// Capability is what holds for all of them together.
	Capability compat.Capability `json:"capability"`
	// Recommendation is the injection mode for that capability.
	Recommendation *sidecar.Recommendation `json:"recommendation,omitempty"`
	// Findings are the problems found, with their fixes.
	Findings []compat.Finding `json:"findings"`
}

// subject is one component or node.
type subject struct {
	Name       string            `json:"name"`
	Version    string            `json:"version,omitempty"`
	Capability compat.Capability `json:"capability"`
	Error      string            `json:"error,omitempty"`
}

var doctorOutputs = []string{"text", "json"}

func newDoctor(stdin io.Reader, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Diagnose native sidecar support of a cluster, an API server, nodes or a Pod",
		Long: `Diagnose native sidecar support, following the Kubernetes tutorial's
troubleshooting steps: check a live cluster through a kubeconfig (doctor
cluster: API server, node pools, webhooks with a dry-run probe, Pods), check
the SidecarContainers gate on the API server (doctor metrics) and on every
node (doctor nodes) from files, and explain a Pod whose sidecar does not work
(doctor pod, live by name or from a file): a restartPolicy dropped by a
webhook or by the API server, a Pod stuck in Init, a kubelet that rejected it.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newDoctorMetrics(stdin, stdout), newDoctorNodes(stdin, stdout), newDoctorPod(stdin, stdout), newDoctorCluster(stdout))
	return cmd
}

func newDoctorMetrics(stdin io.Reader, stdout io.Writer) *cobra.Command {
	var file, component, version, output string
	cmd := &cobra.Command{
		Use:   "metrics [-f FILE|-]",
		Short: "Read kubernetes_feature_enabled from an API server's or kubelet's /metrics",
		Example: `  kubectl get --raw /metrics | sidecarctl doctor metrics --version "$(kubectl version -o json | jq -r .serverVersion.gitVersion)"
  kubectl get --raw /api/v1/nodes/NODE/proxy/metrics | sidecarctl doctor metrics --component kubelet --version v1.30.2`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if component != "apiserver" && component != "kubelet" {
				return fmt.Errorf("doctor metrics: unknown --component %q (want apiserver or kubelet)", component)
			}
			b, err := readInput(file, stdin)
			if err != nil {
				return err
			}
			g, err := parseFeatureMetrics(b)
			if err != nil {
				return fmt.Errorf("%s: %w", displayName(file), err)
			}
			var c compat.Capability
			name := "kube-apiserver"
			if component == "kubelet" {
				name = "kubelet"
				c, err = compat.FromKubeletMetrics(g, version)
			} else {
				c, err = compat.FromAPIServerMetrics(g, version)
			}
			s := subject{Name: name, Version: version, Capability: c}
			if err != nil {
				s.Error = err.Error()
			}
			r := report{Subjects: []subject{s}, Capability: c, Findings: findings(c)}
			return write(stdout, output, &r)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "filename", "f", "-", "the metrics text; - reads stdin")
	fl.StringVar(&component, "component", "apiserver", "whose metrics: apiserver or kubelet")
	fl.StringVar(&version, "version", "", "the component's version, which decides when the metrics have no SidecarContainers series")
	fl.StringVarP(&output, "output", "o", "text", "output: text|json")
	return cmd
}

func newDoctorNodes(stdin io.Reader, stdout io.Writer) *cobra.Command {
	var file, apiserverVersion, metricsFile, output string
	cmd := &cobra.Command{
		Use:     "nodes [-f FILE|-]",
		Short:   "Read each Node's kubelet version and capability label; recommend a mode",
		Example: `  kubectl get nodes -o json | sidecarctl doctor nodes --apiserver-version v1.31.4`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if file == "-" && metricsFile == "-" {
				return fmt.Errorf("doctor nodes: -f and --metrics cannot both read stdin")
			}
			nodes, err := readNodes(file, stdin)
			if err != nil {
				return err
			}
			if len(nodes) == 0 {
				return fmt.Errorf("%s: no nodes", displayName(file))
			}
			api, err := loadFacts(apiserverVersion, "", "", metricsFile, stdin)
			if err != nil {
				return err
			}
			var r report
			caps := make([]compat.Capability, 0, len(nodes))
			for i := range nodes {
				n := &nodes[i]
				c, err := compat.ParseNode(n)
				s := subject{Name: "node/" + n.Name, Version: n.Status.NodeInfo.KubeletVersion, Capability: c}
				if err != nil {
					s.Error = err.Error()
				}
				r.Subjects = append(r.Subjects, s)
				caps = append(caps, c)
			}
			// The API server's capability joined with the weakest node.
			r.Capability = api.apiServer().Override(compat.Weakest(caps...))
			rec, err := sidecar.Recommend(r.Capability, sidecar.Options{AllowPinned: true, Universal: universal.Planner{}})
			if err != nil {
				return err
			}
			r.Recommendation = &rec
			r.Findings = findings(r.Capability)
			return write(stdout, output, &r)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "filename", "f", "-", "a Node, NodeList or List (kubectl get nodes -o json); - reads stdin")
	fl.StringVar(&apiserverVersion, "apiserver-version", "", "the API server's version")
	fl.StringVar(&metricsFile, "metrics", "", "the API server's metrics text (kubectl get --raw /metrics)")
	fl.StringVarP(&output, "output", "o", "text", "output: text|json")
	return cmd
}

func newDoctorPod(stdin io.Reader, stdout io.Writer) *cobra.Command {
	var file, intended, output string
	var cf clusterFlags
	var kf kubeFlags
	cmd := &cobra.Command{
		Use:   "pod NAME | -f STORED [--intended FILE]",
		Short: "Explain why a Pod's sidecars do not work",
		Long: `Explain why a Pod's sidecars do not work, from the Pod as stored (with its
status and managed fields), optionally the Pod as its author or injector meant
it, and what is known about the cluster.

With a NAME the Pod is read live through the kubeconfig (as kubectl does),
and so are the API server's version and /metrics and the Pod's node (its
kubelet's /metrics through the node proxy where RBAC allows; for a Pod not
yet scheduled, the weakest node it may land on). With -f the Pod comes
from a file and the cluster from --apiserver-version, --kubelet-version,
--node and --metrics.`,
		Example: `  sidecarctl doctor pod web -n shop --intended web.yaml
  kubectl get pod web -o json --show-managed-fields > stored.json
  sidecarctl doctor pod -f stored.json --intended web.yaml --apiserver-version v1.32.1`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if len(args) == 1 {
				if file != "" {
					return fmt.Errorf("doctor pod: give a Pod NAME to read live or -f for a file, not both")
				}
				if f := cf.changed(cmd); f != "" {
					return fmt.Errorf("doctor pod: %s describes the cluster for -f; with a Pod NAME the cluster is read live", f)
				}
				return doctorPodLive(&kf, args[0], intended, output, stdin, stdout)
			}
			if f := kf.changed(cmd); f != "" {
				return fmt.Errorf("doctor pod: %s needs a Pod NAME to read live (with -f the Pod comes from a file)", f)
			}
			if file == "" {
				return fmt.Errorf("doctor pod: a Pod NAME (read live) or -f is required (the stored Pod, or - for stdin)")
			}
			pod, err := readPod(file, stdin)
			if err != nil {
				return err
			}
			facts := compat.Facts{Pod: pod}
			if intended != "" {
				if intended == "-" && file == "-" {
					return fmt.Errorf("doctor pod: -f and --intended cannot both read stdin")
				}
				if facts.Intended, err = readIntended(intended, stdin); err != nil {
					return err
				}
			}
			f, err := cf.load(stdin)
			if err != nil {
				return err
			}
			if facts.Capability, err = f.capability(&pod.Spec); err != nil {
				return err
			}
			r := report{Capability: facts.Capability, Findings: compat.Diagnose(facts)}
			return write(stdout, output, &r)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "filename", "f", "", "the Pod as stored (kubectl get pod -o json --show-managed-fields); - reads stdin")
	fl.StringVar(&intended, "intended", "", "the Pod or workload as meant, before admission")
	cf.register(cmd)
	kf.register(cmd)
	fl.StringVarP(&output, "output", "o", "text", "output: text|json")
	return cmd
}

// readIntended reads the Pod or workload as meant and returns its Pod spec.
func readIntended(name string, stdin io.Reader) (*corev1.PodSpec, error) {
	docs, err := readDocuments(name, stdin)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("%s: want one Pod or workload, found %d documents", displayName(name), len(docs))
	}
	obj, err := patch.Decode(docs[0].json)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", docs[0].source, err)
	}
	return obj.Spec, nil
}

// readPod reads one stored Pod.
func readPod(name string, stdin io.Reader) (*corev1.Pod, error) {
	docs, err := readDocuments(name, stdin)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("%s: want one Pod, found %d documents", displayName(name), len(docs))
	}
	var head struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(docs[0].json, &head); err != nil {
		return nil, fmt.Errorf("%s: %w", docs[0].source, err)
	}
	if head.Kind != "Pod" {
		return nil, fmt.Errorf("%s: kind %q is not a Pod", docs[0].source, head.Kind)
	}
	var pod corev1.Pod
	if err := json.Unmarshal(docs[0].json, &pod); err != nil {
		return nil, fmt.Errorf("%s: %w", docs[0].source, err)
	}
	return &pod, nil
}

// findings returns the capability's findings, never nil (so that -o json
// prints [] rather than null).
func findings(c compat.Capability) []compat.Finding {
	f := compat.DiagnoseCapability(c)
	if f == nil {
		f = []compat.Finding{}
	}
	return f
}

func checkOutput(o string) error {
	if !contains(doctorOutputs, o) {
		return fmt.Errorf("unknown output %q (want one of %s)", o, strings.Join(doctorOutputs, ", "))
	}
	return nil
}

// printJSON prints v as indented JSON, the -o json of the doctor commands.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// write prints r as text or JSON.
func write(w io.Writer, output string, r *report) error {
	if r.Findings == nil {
		r.Findings = []compat.Finding{}
	}
	if output == "json" {
		return printJSON(w, r)
	}
	var b strings.Builder
	for _, s := range r.Subjects {
		fmt.Fprintf(&b, "%s", s.Name)
		if s.Version != "" {
			fmt.Fprintf(&b, " %s", s.Version)
		}
		fmt.Fprintf(&b, ": %s\n", s.Capability)
		if s.Error != "" {
			fmt.Fprintf(&b, "  error: %s\n", s.Error)
		}
	}
	if len(r.Subjects) > 1 || len(r.Subjects) == 0 {
		fmt.Fprintf(&b, "capability: %s\n", r.Capability)
	}
	if len(r.Capability.Evidence) > 0 {
		b.WriteString("evidence:\n")
		for _, e := range r.Capability.Evidence {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	if rec := r.Recommendation; rec != nil {
		fmt.Fprintf(&b, "recommended mode: %s (%s): %s\n", rec.Mode, rec.Code, rec.Reason)
		for _, w := range rec.Warnings {
			fmt.Fprintf(&b, "  warning: %s\n", warningText(w))
		}
	}
	if len(r.Findings) == 0 {
		b.WriteString("findings: none\n")
	} else {
		b.WriteString("findings:\n")
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "  %s\n", f)
			if f.Fix != "" {
				fmt.Fprintf(&b, "    fix: %s\n", f.Fix)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// warningText formats a warning of an injection or a recommendation as
// "[code] path: message", or "[code] message" when it has no path.
func warningText(w compat.Finding) string {
	if w.Path == "" {
		return fmt.Sprintf("[%s] %s", w.Code, w.Message)
	}
	return fmt.Sprintf("[%s] %s: %s", w.Code, w.Path, w.Message)
}
