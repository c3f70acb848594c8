// Package handshake is the runtime side of the universal pair: the
// entrypoint wrapper both twins run, which decides (with
// [universal.Decide]) whether its twin runs the sidecar, and then execs
// the sidecar, exits 0 or stands by; and the wrapper of the twins' probes
// and preStop hooks.
//
// A command-line program (sidecarctl's "handshake" command) needs only
//
//	r := handshake.Runner{System: handshake.OS(), Env: os.Environ(), Stderr: os.Stderr}
//	os.Exit(r.Main(args))
//
// where args follow [Usage]. The Planner of package universal writes the
// twins' commands, probes and hooks in that vocabulary.
//
// Everything the runner needs from the operating system goes through
// [System], so that tests drive it with a fake clock, directory and exec;
// [OS] is the real one: the sandbox identity from /proc, marker files
// written to a temporary file and renamed (or hard-linked, for the
// exclusive claim) into the handshake directory, syscall.Exec so that the
// sidecar keeps the container's PID and gets the kubelet's signals.
package handshake
