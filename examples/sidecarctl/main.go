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
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes sidecarctl with args and returns the exit code. Errors are
// printed as one line on stderr, never as a stack trace.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "sidecarctl: internal error: %v\n", r)
			code = 2
		}
	}()
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		if code, ok := asExitCode(err); ok {
			return code
		}
		fmt.Fprintf(stderr, "sidecarctl: %s\n", oneLine(err.Error()))
		return 1
	}
	return 0
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "sidecarctl",
		Short:         "Inject sidecars natively, as legacy containers or as a universal pair, and diagnose native sidecar support",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newInject(stdin, stdout, stderr), newDoctor(stdin, stdout), newHandshake(stdin, stdout, stderr))
	root.AddCommand(newPolicy(stdin, stdout))
	return root
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
