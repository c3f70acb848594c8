package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sidecarkit/sidecarkit/policy"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

type policyFlags struct {
	sidecarFile       string
	mode              string
	name              string
	apiVersion        string
	workloads         bool
	excludeNamespaces []string
	selectionKey      string
	output            string
}

// newPolicy is `sidecarctl policy`: the sidecar compiled into admission
// policies the API server applies itself (package policy, docs/policy.md).
func newPolicy(stdin io.Reader, stdout io.Writer) *cobra.Command {
	f := &policyFlags{}
	cmd := &cobra.Command{
		Use:   "policy --sidecar FILE --mode native|legacy|pinned",
		Short: "Print the sidecar compiled into a MutatingAdmissionPolicy (no webhook), ready for kubectl apply",
		Long: `Compile a sidecar into admission policies that the API server applies itself,
without a webhook: a MutatingAdmissionPolicy and its binding that inject the
sidecar, and a ValidatingAdmissionPolicy and its binding that refuse a Pod
bringing its own container or volume under the sidecar's names. Prints YAML (the
default) or a JSON List for kubectl apply -f -.

The API server must serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicy
(Kubernetes 1.36 and later); --api-version v1beta1 is for 1.34 and 1.35 with the
MutatingAdmissionPolicy feature gate on and --runtime-config
admissionregistration.k8s.io/v1beta1=true. The mode must be native, legacy or
pinned: a policy cannot see nodes (auto) and cannot build the universal pair.
See docs/policy.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPolicy(f, stdin, stdout)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.sidecarFile, "sidecar", "", "the sidecar: a plain container or a full sidecar spec, YAML or JSON; - reads stdin")
	fl.StringVar(&f.mode, "mode", "", "injection mode: native|legacy|pinned (required)")
	fl.StringVar(&f.name, "name", "", `prefix of the objects' names (default "sidecarkit-" and the sidecar's name)`)
	fl.StringVar(&f.apiVersion, "api-version", string(policy.V1), "admissionregistration.k8s.io version of the mutating policy: v1 (1.36+) or v1beta1 (1.34, 1.35)")
	fl.BoolVar(&f.workloads, "workloads", false, "also inject into the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs and ReplicationControllers")
	fl.StringSliceVar(&f.excludeNamespaces, "exclude-namespace", nil, "namespaces the bindings leave alone (repeatable)")
	fl.StringVar(&f.selectionKey, "opt-out-key", policy.DefaultSelectionKey, `label (or annotation) a Pod opts out with ("false" or "disabled")`)
	fl.StringVarP(&f.output, "output", "o", "yaml", "output: yaml|json")
	return cmd
}

func runPolicy(f *policyFlags, stdin io.Reader, stdout io.Writer) error {
	if f.sidecarFile == "" {
		return fmt.Errorf("policy: --sidecar is required")
	}
	if f.mode == "" {
		return fmt.Errorf("policy: --mode is required (native, legacy or pinned)")
	}
	if f.output != "yaml" && f.output != "json" {
		return fmt.Errorf("policy: unknown output %q (want yaml or json)", f.output)
	}
	mode, err := sidecar.ParseMode(f.mode)
	if err != nil {
		return fmt.Errorf("policy: --mode: %w", err)
	}
	b, err := readInput(f.sidecarFile, stdin)
	if err != nil {
		return fmt.Errorf("policy: --sidecar: %w", err)
	}
	spec, err := sidecar.LoadSpec(b)
	if err != nil {
		return fmt.Errorf("policy: --sidecar %s: %w", f.sidecarFile, err)
	}
	set, err := policy.Compile(spec, policy.Options{
		Mode:              mode,
		Name:              f.name,
		Version:           policy.Version(strings.ToLower(f.apiVersion)),
		Workloads:         f.workloads,
		ExcludeNamespaces: f.excludeNamespaces,
		SelectionKey:      f.selectionKey,
	})
	if err != nil {
		return err
	}
	render := set.YAML
	if f.output == "json" {
		render = set.JSON
	}
	out, err := render()
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
