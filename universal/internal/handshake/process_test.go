//go:build linux

package handshake_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sidecarkit/sidecarkit/universal/internal/handshake"
	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// The test binary doubles as the handshake command and as a fake sidecar:
//
//	HANDSHAKE_TEST_MODE=handshake test.binary ARGS...   runs Runner.Main(ARGS)
//	test.binary fake-sidecar DIR NAME                   the sidecar
//
// HANDSHAKE_TEST_SANDBOX, when set, replaces the sandbox identity, so that
// two processes can play two sandboxes (or a re-created sandbox).
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "fake-sidecar" {
		os.Exit(fakeSidecar(os.Args[2], os.Args[3]))
	}
	if os.Getenv("HANDSHAKE_TEST_MODE") == "handshake" {
		sys := handshake.OS()
		if id := os.Getenv("HANDSHAKE_TEST_SANDBOX"); id != "" {
			sys = sandboxAs{sys, id}
		}
		r := handshake.Runner{System: sys, Env: os.Environ(), Stderr: os.Stderr}
		os.Exit(r.Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

type sandboxAs struct {
	handshake.System
	id string
}

func (s sandboxAs) Sandbox(string) (protocol.Sandbox, error) {
	return protocol.Sandbox{BootID: s.id}, nil
}

// fakeSidecar records its PID in DIR/NAME.pid, and when SIGTERM comes,
// records it in DIR/NAME.term and exits 0.
func fakeSidecar(dir, name string) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if err := os.WriteFile(filepath.Join(dir, name+".pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return 3
	}
	select {
	case <-sigs:
		_ = os.WriteFile(filepath.Join(dir, name+".term"), nil, 0o644)
		return 0
	case <-time.After(2 * time.Minute):
		return 4
	}
}

// proc is one container run: a handshake process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan error
}

func start(t *testing.T, sandbox string, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	must(t, err)
	p := &proc{t: t, cmd: exec.Command(exe, args...), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), "HANDSHAKE_TEST_MODE=handshake", "HANDSHAKE_TEST_SANDBOX="+sandbox)
	p.cmd.Stderr = &p.stderr
	must(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait() int {
	p.t.Helper()
	select {
	case err := <-p.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		must(p.t, err)
		return 0
	case <-time.After(30 * time.Second):
		p.t.Fatalf("%v still runs; stderr:\n%s", p.cmd.Args, p.stderr.String())
		return -1
	}
}

// running reports whether the process still runs after d.
func (p *proc) running(d time.Duration) bool {
	select {
	case err := <-p.done:
		p.done <- err
		return false
	case <-time.After(d):
		return true
	}
}

func (p *proc) signal(s os.Signal) { must(p.t, p.cmd.Process.Signal(s)) }

// run runs a container to completion and returns its exit code.
func run(t *testing.T, sandbox string, args ...string) int {
	t.Helper()
	return start(t, sandbox, args...).wait()
}

func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
	return ""
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// twin returns the arguments of a twin's container.
func twin(t *testing.T, dir, role string, extra ...string) []string {
	exe, err := os.Executable()
	must(t, err)
	a := append([]string{"--role=" + role, "--dir=" + dir, "--poll-interval=20ms"}, extra...)
	return append(a, "--", exe, "fake-sidecar", dir, role)
}

// TestProcessNativeNode replays a native kubelet: the native twin runs,
// exits 0, is restarted, waits for its startup probe, claims, and execs
// the sidecar (same PID, so SIGTERM reaches the sidecar); the legacy twin
// stands by, its probes pass, and it exits 0 on SIGTERM; under
// restartPolicy Never it exits 0 at once.
func TestProcessNativeNode(t *testing.T) {
	dir := t.TempDir()
	const sb = "sandbox-1"
	if code := run(t, sb, twin(t, dir, "native")...); code != 0 {
		t.Fatalf("first run of the native twin: exit %d, want 0", code)
	}
	n := start(t, sb, twin(t, dir, "native")...)
	if !n.running(200 * time.Millisecond) {
		t.Fatalf("the restarted native twin exited before its startup probe:\n%s", n.stderr.String())
	}
	if exists(filepath.Join(dir, "native.pid")) {
		t.Fatalf("the native twin runs the sidecar before its startup probe")
	}
	startup := []string{"probe", "--role=native", "--dir=" + dir, "--type=startup"}
	// The first probe records the ack, waits for the twin to act and
	// passes in the same call (ProbeWait), a probe period sooner.
	if code := run(t, sb, startup...); code != 0 {
		t.Fatalf("first startup probe: exit %d, want 0 (the twin acts within ProbeWait)", code)
	}
	pid := waitFile(t, filepath.Join(dir, "native.pid"))
	if pid != strconv.Itoa(n.cmd.Process.Pid) {
		t.Errorf("the sidecar runs as PID %s, the twin was %d: not exec'd", pid, n.cmd.Process.Pid)
	}
	if code := run(t, sb, startup...); code != 0 {
		t.Fatalf("startup probe once acting: exit %d, want 0", code)
	}
	// The kubelet starts the regular containers.
	l := start(t, sb, twin(t, dir, "legacy", "--restart-policy=Always")...)
	if !l.running(300 * time.Millisecond) {
		t.Fatalf("the legacy twin exited under restartPolicy Always:\n%s", l.stderr.String())
	}
	for _, typ := range []string{"startup", "liveness", "readiness"} {
		if code := run(t, sb, "probe", "--role=legacy", "--dir="+dir, "--type="+typ, "--", "/bin/false"); code != 0 {
			t.Errorf("dormant legacy twin's %s probe: exit %d, want 0 (pass without the check)", typ, code)
		}
	}
	if code := run(t, sb, "hook", "--role=legacy", "--dir="+dir, "--", "/bin/false"); code != 0 {
		t.Errorf("dormant legacy twin's preStop: exit %d, want 0 (skipped)", code)
	}
	if exists(filepath.Join(dir, "legacy.pid")) {
		t.Fatalf("both twins run the sidecar")
	}
	l.signal(syscall.SIGTERM)
	if code := l.wait(); code != 0 {
		t.Errorf("legacy twin after SIGTERM: exit %d, want 0", code)
	}
	n.signal(syscall.SIGTERM)
	if code := n.wait(); code != 0 || !exists(filepath.Join(dir, "native.term")) {
		t.Errorf("sidecar after SIGTERM: exit %d, term recorded %v", code, exists(filepath.Join(dir, "native.term")))
	}
	// A Job Pod's legacy twin exits 0 at once.
	if code := run(t, sb, twin(t, dir, "legacy", "--restart-policy=Never")...); code != 0 {
		t.Errorf("legacy twin under restartPolicy Never: exit %d, want 0", code)
	}
}

// TestProcessOldNode replays an old kubelet: the native twin records its
// run and exits 0, the legacy twin claims and runs the sidecar. Then the
// sandbox is re-created: with a new identity, the native twin exits 0 at
// once again; with the old identity (reused namespace inodes on a kernel
// without cookies), the legacy claim makes it wait for a startup probe
// (which would make it stand by on a native kubelet that took over) and
// exit 0 after the confirmation timeout; likewise with the old identity
// and no claim yet (a crash after the record).
func TestProcessOldNode(t *testing.T) {
	dir := t.TempDir()
	if code := run(t, "s1", twin(t, dir, "native")...); code != 0 {
		t.Fatalf("native twin: exit %d, want 0", code)
	}
	l := start(t, "s1", twin(t, dir, "legacy")...)
	waitFile(t, filepath.Join(dir, "legacy.pid"))
	if code := run(t, "s1", "probe", "--role=legacy", "--dir="+dir, "--type=readiness", "--", "/bin/false"); code != 1 {
		t.Errorf("acting legacy twin's probe: exit %d, want the check's 1", code)
	}
	if code := run(t, "s1", "hook", "--role=legacy", "--dir="+dir, "--", "/bin/false"); code != 1 {
		t.Errorf("acting legacy twin's preStop: exit %d, want the hook's 1", code)
	}
	l.signal(syscall.SIGTERM)
	if code := l.wait(); code != 0 {
		t.Fatalf("sidecar: exit %d", code)
	}
	for _, tc := range []struct {
		name, sandbox string
		extra         []string
		min           time.Duration
	}{
		{name: "new identity", sandbox: "s2"},
		{name: "old identity, legacy claim", sandbox: "s1", extra: []string{"--confirm-timeout=500ms"}, min: 500 * time.Millisecond},
		{name: "old identity, no claim", sandbox: "s2", extra: []string{"--confirm-timeout=500ms"}, min: 500 * time.Millisecond},
	} {
		begin := time.Now()
		if code := run(t, tc.sandbox, twin(t, dir, "native", tc.extra...)...); code != 0 {
			t.Errorf("%s: native twin: exit %d, want 0", tc.name, code)
		}
		if took := time.Since(begin); took < tc.min || took > tc.min+15*time.Second {
			t.Errorf("%s: took %v, want %v or a little more", tc.name, took, tc.min)
		}
	}
}

// TestProcessSignals: SIGTERM ends a waiting native twin and a standing-by
// legacy twin with exit 0.
func TestProcessSignals(t *testing.T) {
	dir := t.TempDir()
	if code := run(t, "s", twin(t, dir, "native")...); code != 0 {
		t.Fatal(code)
	}
	n := start(t, "s", twin(t, dir, "native")...)
	if !n.running(200 * time.Millisecond) {
		t.Fatalf("not waiting:\n%s", n.stderr.String())
	}
	n.signal(syscall.SIGTERM)
	if code := n.wait(); code != 0 {
		t.Errorf("waiting native twin after SIGTERM: exit %d", code)
	}
	if !strings.Contains(n.stderr.String(), "while waiting: exiting 0") {
		t.Errorf("stderr %q", n.stderr.String())
	}
}

// TestProcessCorruptMarkers: garbage in the native marker reads as no
// marker (first run); garbage in the claim reads as a legacy claim, so the
// legacy twin acts and the native twin steps aside (after the confirmation
// timeout, no startup probe coming).
func TestProcessCorruptMarkers(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "native"), []byte("\x00garbage\xff"), 0o644))
	n := start(t, "s", twin(t, dir, "native")...)
	if code := n.wait(); code != 0 || !strings.Contains(n.stderr.String(), "warning: native: universal: not a handshake marker") {
		t.Fatalf("exit %d, stderr %q", code, n.stderr.String())
	}
	key := protocol.Sandbox{BootID: "s"}.Key()
	must(t, os.WriteFile(filepath.Join(dir, protocol.ClaimFile(key)), []byte("half-writ"), 0o644))
	if code := run(t, "s", twin(t, dir, "native", "--confirm-timeout=500ms")...); code != 0 {
		t.Errorf("native twin with a corrupt claim: exit %d, want 0 after the confirmation timeout", code)
	}
	l := start(t, "s", twin(t, dir, "legacy")...)
	waitFile(t, filepath.Join(dir, "legacy.pid"))
	l.signal(syscall.SIGTERM)
	if code := l.wait(); code != 0 {
		t.Errorf("sidecar: exit %d", code)
	}
}

// TestProcessHandover replays an in-place upgrade from an old kubelet
// under a Job Pod: the legacy twin acts (its sidecar a child process);
// the new kubelet probes the native twin, which records the ack and
// waits; the legacy twin stops its sidecar (SIGTERM), records the
// handover and, under restartPolicy Never, exits 0; the native twin then
// execs the sidecar. A legacy twin killed outright takes its sidecar
// with it (the parent death signal).
func TestProcessHandover(t *testing.T) {
	dir := t.TempDir()
	const sb = "s1"
	if code := run(t, sb, twin(t, dir, "native")...); code != 0 {
		t.Fatalf("native twin: exit %d, want 0", code)
	}
	l := start(t, sb, twin(t, dir, "legacy", "--restart-policy=Never")...)
	lpid := waitFile(t, filepath.Join(dir, "legacy.pid"))
	if lpid == strconv.Itoa(l.cmd.Process.Pid) {
		t.Fatalf("the legacy twin exec'd its sidecar: it cannot hand over")
	}
	// The upgraded kubelet restarts the native twin and probes it.
	n := start(t, sb, twin(t, dir, "native")...)
	if code := run(t, sb, "probe", "--role=native", "--dir="+dir, "--type=startup"); code != 0 {
		t.Fatalf("native twin's startup probe while the legacy twin acts: exit %d, want 0 (it passes)", code)
	}
	begin := time.Now()
	if code := l.wait(); code != 0 {
		t.Fatalf("legacy twin handing over under restartPolicy Never: exit %d, want 0:\n%s", code, l.stderr.String())
	}
	if !exists(filepath.Join(dir, "legacy.term")) {
		t.Errorf("the legacy twin's sidecar did not get SIGTERM")
	}
	for _, want := range []string{"HandOver", "the sidecar exited with status 0", "handed over to the native twin", "Exit0Now"} {
		if !strings.Contains(l.stderr.String(), want) {
			t.Errorf("legacy twin's log lacks %q:\n%s", want, l.stderr.String())
		}
	}
	npid := waitFile(t, filepath.Join(dir, "native.pid"))
	t.Logf("from the legacy twin's exit to the native twin's sidecar: %v", time.Since(begin))
	if npid != strconv.Itoa(n.cmd.Process.Pid) {
		t.Errorf("the native twin's sidecar runs as PID %s, the twin was %d: not exec'd", npid, n.cmd.Process.Pid)
	}
	for _, typ := range []string{"liveness", "readiness"} {
		if code := run(t, sb, "probe", "--role=legacy", "--dir="+dir, "--type="+typ, "--", "/bin/false"); code != 0 {
			t.Errorf("the legacy twin's %s probe after the handover: exit %d, want 0 (dormant)", typ, code)
		}
		if code := run(t, sb, "probe", "--role=native", "--dir="+dir, "--type="+typ, "--", "/bin/false"); code != 1 {
			t.Errorf("the native twin's %s probe after the handover: exit %d, want the check's 1", typ, code)
		}
	}
	n.signal(syscall.SIGTERM)
	if code := n.wait(); code != 0 {
		t.Errorf("native sidecar after SIGTERM: exit %d", code)
	}

	// A legacy twin killed with SIGKILL: its sidecar dies with it.
	dir2 := t.TempDir()
	if code := run(t, sb, twin(t, dir2, "native")...); code != 0 {
		t.Fatal(code)
	}
	l2 := start(t, sb, twin(t, dir2, "legacy")...)
	pid, err := strconv.Atoi(waitFile(t, filepath.Join(dir2, "legacy.pid")))
	must(t, err)
	l2.signal(syscall.SIGKILL)
	l2.wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the sidecar %d outlived its legacy twin", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether process pid runs: it exists and is no zombie
// (which its new parent may not have reaped yet).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
