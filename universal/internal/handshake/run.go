package handshake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// Runner runs handshake invocations. A command-line program needs only
//
//	r := handshake.Runner{System: handshake.OS(), Env: os.Environ(), Stderr: os.Stderr}
//	os.Exit(r.Main(os.Args[1:]))
type Runner struct {
	System System
	// Env is the environment, as os.Environ returns it: the runner reads
	// its defaults from it and passes it to the sidecar and to checks.
	Env []string
	// Stderr receives one line per decision and the warnings; nil
	// discards them.
	Stderr io.Writer
}

// maxLostClaims bounds how often a twin may find the sandbox claimed
// between its decision and its claim (at most once, in theory).
const maxLostClaims = 3

// ExitIdentity is the exit code of a twin that could not establish the
// sandbox identity: distinct, so that a Job's podFailurePolicy can name
// it (docs/universal.md).
const ExitIdentity = 3

// identityAttempts and identityRetry: a failing identity read is tried
// again after identityRetry, identityAttempts times in all, before the
// process gives up (a transient failure, such as no free file
// descriptor for the cookie's socket, passes).
const (
	identityAttempts = 3
	identityRetry    = 100 * time.Millisecond
)

// Main parses args (see Usage), runs the invocation and returns the exit
// code: 2 for a usage error; for run, 0 or the failure's; for probe and
// hook, the check's.
func (r Runner) Main(args []string) int {
	c, err := Parse(args, r.getenv)
	if err != nil {
		r.logf("%v\n%s", err, Usage)
		return 2
	}
	code, err := r.Run(context.Background(), c)
	if err != nil {
		r.logf("%v", err)
		if code != 0 && (c.Command == CommandRun || c.Command == "") {
			// The kubelet shows it in the twin's status (lastState,
			// kubectl describe): the twin that cannot decide says why.
			if terr := r.System.TerminationMessage(c.TerminationLog, err.Error()); terr != nil {
				r.logf("warning: termination message %s: %v", c.TerminationLog, terr)
			}
		}
	}
	return code
}

func (r Runner) getenv(name string) string {
	for i := len(r.Env) - 1; i >= 0; i-- {
		if strings.HasPrefix(r.Env[i], name+"=") {
			return r.Env[i][len(name)+1:]
		}
	}
	return ""
}

func (r Runner) logf(format string, args ...interface{}) {
	if r.Stderr != nil {
		msg := fmt.Sprintf(format, args...)
		if !strings.HasPrefix(msg, "handshake: ") { // errors carry the prefix already
			msg = "handshake: " + msg
		}
		fmt.Fprintln(r.Stderr, msg)
	}
}

// Run runs one invocation and returns its exit code. For the native twin
// Run execs the sidecar and so returns only when it does not (exit 0,
// stand by, or an error); the legacy twin runs it as a child and returns
// its exit status, or goes on after a handover.
func (r Runner) Run(ctx context.Context, c Config) (int, error) {
	switch c.Command {
	case CommandRun, "":
		return r.run(ctx, c)
	case CommandProbe:
		return r.probe(ctx, c)
	case CommandHook:
		return r.hook(ctx, c)
	case CommandInstall:
		if err := r.System.Install(c.To); err != nil {
			return 1, fmt.Errorf("handshake: install: %w", err)
		}
		return 0, nil
	}
	return 2, fmt.Errorf("handshake: unknown command %q", c.Command)
}

// identify reads the sandbox identity, again after a failure up to
// identityAttempts times, and returns its key; an error (wrapping
// protocol.ErrIdentity) means the process must not decide.
func (r Runner) identify(ctx context.Context, c Config) (string, protocol.Sandbox, error) {
	var sb protocol.Sandbox
	var err error
	for attempt := 1; ; attempt++ {
		sb, err = r.System.Sandbox(c.SandboxToken)
		if err == nil || attempt == identityAttempts {
			break
		}
		r.logf("warning: sandbox identity: %v (attempt %d of %d)", err, attempt, identityAttempts)
		select {
		case <-ctx.Done():
			return "", sb, ctx.Err()
		case <-r.System.After(identityRetry):
		}
	}
	key, err := protocol.Identify(sb, err)
	return key, sb, err
}

func (r Runner) run(ctx context.Context, c Config) (int, error) {
	sigs := r.System.Signals()
	key, sb, err := r.identify(ctx, c)
	if err != nil {
		return ExitIdentity, fmt.Errorf("handshake: %s twin: %w; this twin neither acts nor waits: exiting %d, so that the kubelet restarts it (or, under restartPolicy Never, the Pod fails) instead of the twins deciding on different keys (docs/universal.md)", c.Role, err, ExitIdentity)
	}
	dir := r.System.Dir(c.Dir)
	deadline := r.System.Now().Add(c.ConfirmTimeout)
	in := protocol.Input{Role: c.Role, RestartPolicy: c.RestartPolicy, Sandbox: key, Phase: protocol.Starting}
	warned := map[string]bool{}
	said := ""
	lost := 0
	for {
		dec, m, err := protocol.Next(dir, in)
		if err != nil {
			return 1, fmt.Errorf("handshake: %s twin: %w", c.Role, err)
		}
		for _, p := range m.Problems {
			if !warned[p] {
				warned[p] = true
				r.logf("warning: %s", p)
			}
		}
		if dec.Reason != said {
			said = dec.Reason
			r.logf("%s twin, sandbox %s (%s): %s: %s", c.Role, key, sb, dec.Action, dec.Reason)
		}
		switch dec.Action {
		case protocol.Run:
			if dec.Claim {
				ok, err := protocol.Claim(dir, key, c.Role)
				if err != nil {
					return 1, fmt.Errorf("handshake: %s twin: %w", c.Role, err)
				}
				if !ok {
					if lost++; lost > maxLostClaims {
						return 1, fmt.Errorf("handshake: %s twin: lost the claim of sandbox %s %d times", c.Role, key, lost)
					}
					continue
				}
			}
			select {
			case s := <-sigs:
				r.logf("%v before the sidecar started: exiting 0", s)
				return 0, nil
			default:
			}
			if c.Role != protocol.Legacy {
				return r.exec(c.Argv)
			}
			// The legacy twin runs the sidecar as its child, so that it
			// can hand over to the native twin should a native kubelet
			// take over (Decide's HandOver).
			code, handed, err := r.supervise(ctx, c, dir, in, key, sigs)
			if !handed {
				return code, err
			}
		case protocol.HandOver:
			// This run does not run the sidecar: hand over at once.
			if err := protocol.RecordHandover(dir, key); err != nil {
				return 1, fmt.Errorf("handshake: %s twin: %w", c.Role, err)
			}
			r.logf("%s twin, sandbox %s: handed over to the native twin", c.Role, key)
		case protocol.RecordAndExit0:
			if err := protocol.RecordSeen(dir, key); err != nil {
				return 1, fmt.Errorf("handshake: %s twin: %w", c.Role, err)
			}
			return 0, nil
		case protocol.RecordEarlyAndWait:
			if err := protocol.RecordEarly(dir, key); err != nil {
				return 1, fmt.Errorf("handshake: %s twin: %w", c.Role, err)
			}
		case protocol.Exit0Now:
			return 0, nil
		case protocol.StandBy:
			select {
			case s := <-sigs:
				r.logf("%v: exiting 0", s)
			case <-ctx.Done():
			}
			return 0, nil
		case protocol.Confirm:
			select {
			case s := <-sigs:
				r.logf("%v while waiting: exiting 0", s)
				return 0, nil
			case <-ctx.Done():
				return 0, nil
			case <-r.System.After(c.PollInterval):
			}
			in.Phase = protocol.Confirming
			if !r.System.Now().Before(deadline) {
				in.Phase = protocol.TimedOut
			}
		default:
			return 1, fmt.Errorf("handshake: %s twin: unexpected decision %v", c.Role, dec.Action)
		}
	}
}

// supervise runs the sidecar as the legacy twin's child until it exits,
// and returns its exit status, or, once Decide says HandOver, stops it
// (SIGTERM, then after c.HandoverGrace SIGKILL; then SIGKILL to what is
// left of its process group), records the handover and reports handed.
// SIGTERM and SIGINT are passed on to the sidecar, which then ends the
// twin with its status, as if it had been exec'd.
func (r Runner) supervise(ctx context.Context, c Config, dir protocol.Dir, in protocol.Input, key string, sigs <-chan os.Signal) (code int, handed bool, err error) {
	path, err := r.lookPath(c.Argv[0])
	if err != nil {
		return 127, false, err
	}
	child, err := r.System.Start(path, c.Argv, r.Env)
	if err != nil {
		return 126, false, fmt.Errorf("handshake: start %s: %w", path, err)
	}
	terminating := false
	warned := ""
	for {
		var poll <-chan time.Time
		if !terminating {
			poll = r.System.After(c.PollInterval)
		}
		select {
		case code := <-child.Exited():
			_ = child.Kill() // what it left in its group
			r.logf("the sidecar exited with status %d", code)
			return code, false, nil
		case s := <-sigs:
			r.logf("%v: passing it on to the sidecar", s)
			terminating = true
			_ = child.Signal(s)
		case <-ctx.Done():
			_ = child.Kill()
			<-child.Exited()
			return 1, false, ctx.Err()
		case <-poll:
			dec, _, err := protocol.Next(dir, in)
			if err != nil {
				// The sidecar keeps running: a failed read decides
				// nothing.
				if err.Error() != warned {
					warned = err.Error()
					r.logf("warning: %v", err)
				}
				continue
			}
			if dec.Action != protocol.HandOver {
				continue
			}
			r.logf("%s twin, sandbox %s: %s: %s", c.Role, key, dec.Action, dec.Reason)
			code, sig := r.stop(child, c.HandoverGrace, sigs)
			r.logf("the sidecar exited with status %d", code)
			if err := protocol.RecordHandover(dir, key); err != nil {
				return 1, false, fmt.Errorf("handshake: %s twin: %w", c.Role, err)
			}
			r.logf("%s twin, sandbox %s: handed over to the native twin", c.Role, key)
			if sig != nil {
				// The kubelet stops this twin: its signal is spent.
				r.logf("%v while handing over: exiting 0", sig)
				return 0, false, nil
			}
			return 0, true, nil
		}
	}
}

// stop stops the sidecar for a handover: SIGTERM, then, after grace,
// SIGKILL to its process group; the group gets SIGKILL once the sidecar
// exited in any case, so that nothing it started keeps serving. It
// returns the sidecar's status, and the signal this twin got meanwhile
// (passed on to the sidecar), if any.
func (r Runner) stop(child Child, grace time.Duration, sigs <-chan os.Signal) (int, os.Signal) {
	_ = child.Signal(syscall.SIGTERM)
	deadline := r.System.After(grace)
	var got os.Signal
	for {
		select {
		case code := <-child.Exited():
			_ = child.Kill()
			return code, got
		case s := <-sigs:
			got = s
			_ = child.Signal(s)
		case <-deadline:
			r.logf("the sidecar did not exit within %v of SIGTERM: killing it", grace)
			_ = child.Kill()
			deadline = nil
		}
	}
}

// exec replaces the process with the sidecar.
func (r Runner) exec(argv []string) (int, error) {
	path, err := r.lookPath(argv[0])
	if err != nil {
		return 127, err
	}
	err = r.System.Exec(path, argv, r.Env)
	if errors.Is(err, errTerminated) {
		r.logf("%v: exiting 0", err)
		return 0, nil
	}
	return 126, fmt.Errorf("handshake: exec %s: %w", path, err)
}

// lookPath finds a command like a container runtime does: a name with a
// slash is a path, anything else is looked up in $PATH.
func (r Runner) lookPath(file string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	path := r.getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, file)
		if fi, err := r.System.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("handshake: exec %s: %w in $PATH", file, fs.ErrNotExist)
}

// probe answers a wrapped probe: exit 0 passes, anything else fails.
func (r Runner) probe(ctx context.Context, c Config) (int, error) {
	key, _, err := r.identify(ctx, c)
	if err != nil {
		return 1, fmt.Errorf("handshake: %s probe of the %s twin fails: %w", c.ProbeType, c.Role, err)
	}
	v, m, err := protocol.Probe(r.System.Dir(c.Dir), c.Role, c.ProbeType, key)
	if err != nil {
		return 1, fmt.Errorf("handshake: probe: %w", err)
	}
	for _, p := range m.Problems {
		r.logf("warning: %s", p)
	}
	if v == protocol.Fail && awaitsNative(c, key, m) {
		v, m, err = r.awaitNative(ctx, c, key)
		if err != nil {
			return 1, fmt.Errorf("handshake: probe: %w", err)
		}
	}
	switch v {
	case protocol.Pass:
		return 0, nil
	case protocol.Check:
		return r.check(ctx, c)
	}
	return 1, fmt.Errorf("handshake: %s probe of the %s twin fails: %s", c.ProbeType, c.Role, notActing(key, m))
}

// ProbeWait bounds how long the native twin's startup probe, once the ack
// is recorded and no twin acts yet, waits for the native twin to act
// before it fails. The twin looks for the ack every poll interval (250ms by
// default) and acts at once, so waiting here passes the probe in the same
// call instead of one probe period later (a second on the Planner's
// probe, whose 5s timeout leaves room for the wait). Probes that wrap a
// check of the sidecar's own keep that check's timing and do not wait.
const ProbeWait = 2 * time.Second

// probeRecheck is how often the waiting probe looks again.
const probeRecheck = 50 * time.Millisecond

// awaitsNative reports whether a failing probe should wait for the native
// twin: the native twin's own startup probe without a check, with the ack
// recorded in this sandbox and no twin acting yet.
func awaitsNative(c Config, key string, m protocol.Markers) bool {
	return c.Role == protocol.Native && c.ProbeType == protocol.StartupProbe &&
		len(c.Argv) == 0 && c.HTTPGet == nil && c.TCPSocket == nil &&
		m.Ack.In(key) && !m.Claim.In(key)
}

// awaitNative observes the handshake directory again every probeRecheck,
// up to ProbeWait, until the verdict is no longer a failure or another
// twin's claim makes waiting pointless. Observing writes nothing, so the
// waits are like the kubelet probing more often.
func (r Runner) awaitNative(ctx context.Context, c Config, key string) (protocol.Verdict, protocol.Markers, error) {
	deadline := r.System.Now().Add(ProbeWait)
	for {
		select {
		case <-ctx.Done():
			return protocol.Fail, protocol.Markers{}, ctx.Err()
		case <-r.System.After(probeRecheck):
		}
		v, m, err := protocol.Probe(r.System.Dir(c.Dir), c.Role, c.ProbeType, key)
		if err != nil || v != protocol.Fail || m.Claim.In(key) || !r.System.Now().Before(deadline) {
			return v, m, err
		}
	}
}

func notActing(key string, m protocol.Markers) string {
	if m.Claim.In(key) {
		return "the " + m.Claim.Value + " twin acts"
	}
	return "no twin acts yet"
}

// hook runs a wrapped hook when the twin acts, and succeeds at once when
// it does not.
func (r Runner) hook(ctx context.Context, c Config) (int, error) {
	key, _, err := r.identify(ctx, c)
	if err != nil {
		return 1, fmt.Errorf("handshake: hook of the %s twin fails: %w", c.Role, err)
	}
	m, err := protocol.Observe(r.System.Dir(c.Dir), key)
	if err != nil {
		return 1, fmt.Errorf("handshake: hook: %w", err)
	}
	if !protocol.Acts(c.Role, key, m) {
		r.logf("hook of the %s twin skipped: %s", c.Role, notActing(key, m))
		return 0, nil
	}
	return r.check(ctx, c)
}

// check runs the configured check and returns 0 when it passes.
func (r Runner) check(ctx context.Context, c Config) (int, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	var err error
	switch {
	case len(c.Argv) > 0:
		var path string
		if path, err = r.lookPath(c.Argv[0]); err != nil {
			return 1, err
		}
		code, err := r.System.Run(ctx, path, c.Argv, r.Env)
		if err != nil {
			return 1, fmt.Errorf("handshake: %s: %w", c.Argv[0], err)
		}
		return code, nil
	case c.HTTPGet != nil:
		err = httpGet(ctx, r.System, c.HTTPGet)
	case c.TCPSocket != nil:
		err = tcpSocket(ctx, r.System, c.TCPSocket)
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}
