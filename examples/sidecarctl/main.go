// Command sidecarctl injects sidecars into Pods and workloads, diagnoses
// clusters and Pods for native sidecar support, and runs the universal
// pair's handshake. It is a thin front end to the sidecarkit library.
//
//	sidecarctl inject -f FILE|- --sidecar FILE [--mode auto|native|legacy|pinned|universal]
//	    [--kubelet-version V] [--apiserver-version V] [--node FILE] [--metrics FILE]
//	    [-o jsonpatch|strategic|json|yaml]
//	sidecarctl doctor cluster [--kubeconfig F] [--context C] [-n NS] [--request-timeout 30s]
//	    [--pool-label L] [--probe-label K=V] [--probe=false] [--node-metrics=false] [-A] [-o text|json]
//	sidecarctl doctor metrics [-f FILE|-]
//	sidecarctl doctor nodes   [-f FILE|-]
//	sidecarctl doctor pod NAME [-n NS] [--intended FILE]
//	sidecarctl doctor pod -f STORED [--intended FILE]
//	sidecarctl policy --sidecar FILE --mode native|legacy|pinned [--workloads] [--api-version v1|v1beta1] [-o yaml|json]
//	sidecarctl handshake run --role native|legacy --dir DIR [--restart-policy P] -- CMD ARGS...
//	sidecarctl completion bash|zsh|fish|powershell
//
// Installed as kubectl-sidecar on PATH, it is also the kubectl plugin
// `kubectl sidecar`.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(runAs(programName(os.Args[0]), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// pluginName is the name under which kubectl finds sidecarctl as a plugin:
// an executable kubectl-sidecar on PATH runs as `kubectl sidecar ...`
// (https://kubernetes.io/docs/tasks/extend-kubectl/kubectl-plugins/).
const pluginName = "kubectl-sidecar"

// programName is pluginName when the binary was invoked under that name
// (a copy or a link), "sidecarctl" otherwise.
func programName(arg0 string) string {
	if strings.TrimSuffix(filepath.Base(arg0), ".exe") == pluginName {
		return pluginName
	}
	return "sidecarctl"
}

// run executes sidecarctl with args and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runAs("sidecarctl", args, stdin, stdout, stderr)
}

// runAs executes the command named name (sidecarctl or pluginName) with
// args and returns the exit code. Errors are printed as one line on
// stderr, never as a stack trace.
func runAs(name string, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	display := name
	if name == pluginName {
		display = "kubectl sidecar"
	}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "%s: internal error: %v\n", display, r)
			code = 2
		}
	}()
	root := newRoot(name, stdin, stdout, stderr)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		if code, ok := asExitCode(err); ok {
			return code
		}
		fmt.Fprintf(stderr, "%s: %s\n", display, oneLine(err.Error()))
		return 1
	}
	return 0
}

func newRoot(name string, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           name,
		Short:         "Inject sidecars natively, as legacy containers or as a universal pair, and diagnose native sidecar support",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	if name == pluginName {
		// Help and usage say "kubectl sidecar", as the user typed it.
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl sidecar"}
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	// cobra's completion command: sidecarctl completion bash|zsh|fish|powershell
	// prints the shell's completion script (examples/README.md#shell-completion).
	root.CompletionOptions.HiddenDefaultCmd = false
	root.AddCommand(newInject(stdin, stdout, stderr), newDoctor(stdin, stdout), newHandshake(stdin, stdout, stderr))
	root.AddCommand(newPolicy(stdin, stdout))
	return root
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
