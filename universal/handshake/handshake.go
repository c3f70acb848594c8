// Package handshake is the runtime side of the universal pair (see package
// universal): the entrypoint wrapper both twins run. It decides, from
// markers in the shared handshake volume, whether its twin runs the
// sidecar, and then runs the sidecar (the native twin execs it, the legacy
// twin runs it as a child so that it can hand over to the native twin),
// exits 0 or stands by; it also wraps the twins' probes and preStop
// hooks. The Planner of package
// universal writes the twins' commands in its vocabulary ([Usage]); a
// sidecar image ships a program that hands its command line to [Main],
// as sidecarctl's "handshake" command does:
//
//	os.Exit(handshake.Main(os.Args[2:], os.Environ(), os.Stderr))
//
// The protocol is described in docs/universal.md.
package handshake

import (
	"io"

	impl "github.com/sidecarkit/sidecarkit/universal/internal/handshake"
)

// Usage describes the command line Main takes.
const Usage = impl.Usage

// ExitIdentity (3) is the exit code of a run that could not read its
// sandbox identity: it neither acts nor waits, and writes why to the
// container's termination message (--termination-log), so that the
// kubelet restarts it or, under restartPolicy Never, the Pod fails with
// the reason (docs/universal.md, "Sandbox identity").
const ExitIdentity = impl.ExitIdentity

// Main runs one handshake invocation on this machine and returns the exit
// code for the process: args follow [Usage] (run, probe, hook or install),
// env is the environment as os.Environ returns it (the runner reads its
// defaults from it and passes it on to the sidecar), and stderr receives
// one line per decision and the warnings (nil discards them). It exits 2
// on a usage error; for run, 0 or the failure's code ([ExitIdentity] when
// the sandbox identity cannot be read; on success the native twin's run
// does not return: it execs the sidecar; the legacy twin's returns the
// sidecar's exit status, or 0 once it handed over); for probe and hook,
// the check's code.
func Main(args, env []string, stderr io.Writer) int {
	r := impl.Runner{System: impl.OS(), Env: env, Stderr: stderr}
	return r.Main(args)
}
