package handshake

import (
	"context"
	"io/fs"
	"net"
	"os"
	"time"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// System is what the runner needs from the operating system. OS returns
// the real one; tests drive the runner with their own.
type System interface {
	// Sandbox identifies the Pod sandbox the process runs in; with token
	// set, the sandbox token in that directory (created if absent) is part
	// of it. An error says what could not be read: the runner then
	// refuses to decide (protocol.Identify). A network namespace cookie
	// the kernel does not have is no error.
	Sandbox(token string) (protocol.Sandbox, error)
	// Dir is the handshake directory at path.
	Dir(path string) protocol.Dir
	// Now and After are the clock.
	Now() time.Time
	After(d time.Duration) <-chan time.Time
	// Signals delivers SIGTERM and SIGINT from the first call on.
	Signals() <-chan os.Signal
	// Exec replaces the process with the program at path; it returns
	// only when that fails.
	Exec(path string, argv, env []string) error
	// Start starts the program at path as a child process, in a process
	// group of its own, sharing the process's standard streams (the
	// legacy twin's sidecar, which it must be able to stop to hand over).
	Start(path string, argv, env []string) (Child, error)
	// Run runs a command to completion and returns its exit code; an
	// error means it could not run (or ctx ended).
	Run(ctx context.Context, path string, argv, env []string) (int, error)
	// Dial connects, for tcpSocket and httpGet checks.
	Dial(ctx context.Context, network, address string) (net.Conn, error)
	// Stat is os.Stat, for the PATH lookup.
	Stat(path string) (fs.FileInfo, error)
	// Install copies the running executable to path, executable by
	// everyone, atomically.
	Install(path string) error
	// TerminationMessage writes msg to the container's termination
	// message file at path, which the kubelet shows in the container's
	// status; it does nothing when there is no such file.
	TerminationMessage(path, msg string) error
}

// Child is a started child process.
type Child interface {
	// Signal sends sig to the child.
	Signal(sig os.Signal) error
	// Kill sends SIGKILL to the child's process group: the child and
	// whatever it started that stayed in its group.
	Kill() error
	// Exited delivers the child's exit status once, when it has exited
	// (and was reaped): its exit code, or 128 plus the number of the
	// signal that killed it, as a shell reports it.
	Exited() <-chan int
}
