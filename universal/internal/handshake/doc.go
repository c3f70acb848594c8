// Package handshake is the runtime side of the universal pair: the
// entrypoint wrapper both twins run, which decides (with
// [protocol.Decide]) whether its twin runs the sidecar, and then execs
// the sidecar, exits 0 or stands by; and the wrapper of the twins' probes
// and preStop hooks.
//
// Programs run it through the public package
// github.com/sidecarkit/sidecarkit/universal/handshake (Main), with the
// real operating system; args follow [Usage]. The Planner of package
// universal writes the twins' commands, probes and hooks in that
// vocabulary.
//
// Everything the runner needs from the operating system goes through
// [System], so that tests drive it with a fake clock, directory and exec;
// [OS] is the real one: the sandbox identity from /proc, marker files
// written to a temporary file and renamed (or hard-linked, for the
// exclusive claim) into the handshake directory, syscall.Exec so that the
// sidecar keeps the container's PID and gets the kubelet's signals.
package handshake
