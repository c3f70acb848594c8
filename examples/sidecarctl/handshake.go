package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/sidecarkit/sidecarkit/universal/handshake"
)

// exitCode is an error that only carries an exit code: the command has
// already said what went wrong.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newHandshake(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "handshake run|probe|hook|install ...",
		Short: "Run the universal pair's runtime handshake (inside the twins' containers)",
		Long: `Run the universal pair's runtime handshake. The twins that package universal
injects start the sidecar through it: it decides from markers in the shared
handshake volume whether this twin acts (and runs the sidecar's command) or
stands by, so that exactly one copy runs on every node, native or not.

` + handshake.Usage,
		// The runner parses its own arguments, including those after "--".
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
				return cmd.Help()
			}
			if code := handshake.Main(args, os.Environ(), stderr); code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
}

// asExitCode reports whether err only carries an exit code.
func asExitCode(err error) (int, bool) {
	var e exitCode
	if errors.As(err, &e) {
		return int(e), true
	}
	return 0, false
}
