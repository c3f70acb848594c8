//go:build unix

package handshake

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

func TestOSDir(t *testing.T) {
	d := osDir(t.TempDir())
	if _, err := d.ReadFile("native"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("absent file: %v", err)
	}
	for _, v := range []string{"one\n", "two\n"} {
		if err := d.WriteFile("native", []byte(v)); err != nil {
			t.Fatal(err)
		}
		if b, err := d.ReadFile("native"); err != nil || string(b) != v {
			t.Fatalf("ReadFile = %q, %v; want %q", b, err, v)
		}
	}
	if err := d.CreateFile("claim-x", []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateFile("claim-x", []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: %v, want fs.ErrExist", err)
	}
	if b, _ := d.ReadFile("claim-x"); string(b) != "first" {
		t.Fatalf("claim = %q", b)
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`} {
		if err := d.WriteFile(bad, nil); err == nil {
			t.Errorf("WriteFile(%q): want an error", bad)
		}
		if err := d.CreateFile(bad, nil); err == nil {
			t.Errorf("CreateFile(%q): want an error", bad)
		}
		if _, err := d.ReadFile(bad); err == nil {
			t.Errorf("ReadFile(%q): want an error", bad)
		}
	}
	if err := os.WriteFile(filepath.Join(string(d), "ack"), []byte(strings.Repeat("x", 10000)), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := d.ReadFile("ack"); len(b) != maxRead {
		t.Errorf("read %d bytes of a huge file, want %d", len(b), maxRead)
	}
	entries, _ := os.ReadDir(string(d))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
		if fi, _ := e.Info(); fi.Mode().Perm() != 0o644 && e.Name() != "ack" {
			t.Errorf("%s has mode %v, want 0644 (the other twin may run as another user)", e.Name(), fi.Mode().Perm())
		}
	}
}

// TestOSDirClaimIsExclusive: of many concurrent claims of one sandbox,
// exactly one wins, and the file holds the winner's content.
func TestOSDirClaimIsExclusive(t *testing.T) {
	for round := 0; round < 20; round++ {
		d := osDir(t.TempDir())
		const n = 8
		var wg sync.WaitGroup
		wins := make([]bool, n)
		for i := 0; i < n; i++ {
			i := i
			wg.Add(1)
			go func() {
				defer wg.Done()
				role := protocol.Native
				if i%2 == 1 {
					role = protocol.Legacy
				}
				ok, err := protocol.Claim(d, "0123456789abcdef0123456789abcdef", role)
				if err != nil {
					t.Error(err)
				}
				wins[i] = ok
			}()
		}
		wg.Wait()
		winner := -1
		for i, w := range wins {
			if w {
				if winner >= 0 {
					t.Fatalf("round %d: claims %d and %d both won", round, winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody won", round)
		}
		m, err := protocol.Observe(d, "0123456789abcdef0123456789abcdef")
		if err != nil || len(m.Problems) > 0 {
			t.Fatal(err, m.Problems)
		}
		if want := [2]string{"native", "legacy"}[winner%2]; m.Claim.Value != want {
			t.Fatalf("round %d: claim says %s, winner was %s", round, m.Claim.Value, want)
		}
	}
}

func TestReadSandboxFake(t *testing.T) {
	proc := t.TempDir()
	write := func(p, v string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(proc, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, p), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sys/kernel/random/boot_id", "5ee0c1a4-6e7d-4b5c-9b57-4a0f3e1c2b7d\n")
	write("self/ns/net", "")
	write("self/ns/ipc", "")
	s, err := readSandbox(proc, func() (uint64, error) { return 0, fmt.Errorf("%w: old kernel", errNoCookie) }, "")
	if err == nil || !strings.Contains(err.Error(), "uts namespace") || strings.Contains(err.Error(), "cookie") {
		t.Errorf("missing uts: err %v", err)
	}
	if s.BootID != "5ee0c1a4-6e7d-4b5c-9b57-4a0f3e1c2b7d" {
		t.Errorf("boot id %q", s.BootID)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(proc, "self/ns/net"), &st); err != nil {
		t.Fatal(err)
	}
	if s.Net.Ino != uint64(st.Ino) || s.Net.Dev != uint64(st.Dev) || s.IPC.Ino == 0 || s.UTS != (protocol.Namespace{}) {
		t.Errorf("namespaces %v / %v / %v", s.Net, s.IPC, s.UTS)
	}
	write("sys/kernel/random/boot_id", "two words")
	if s, err := readSandbox(proc, func() (uint64, error) { return 77, nil }, ""); err == nil || s.BootID != "" || s.NetCookie != 77 {
		t.Errorf("odd boot id: %q, %v (cookie %d)", s.BootID, err, s.NetCookie)
	}
	// A cookie the kernel has but could not give is an error: another
	// process of the sandbox may read it and compute another key.
	write("sys/kernel/random/boot_id", "5ee0c1a4-6e7d-4b5c-9b57-4a0f3e1c2b7d\n")
	write("self/ns/uts", "")
	if _, err := readSandbox(proc, func() (uint64, error) { return 0, errors.New("network namespace cookie: socket: too many open files") }, ""); err == nil || !strings.Contains(err.Error(), "too many open files") {
		t.Errorf("cookie failure: err %v, want it reported", err)
	}
	if s, err := readSandbox(proc, func() (uint64, error) { return 0, errNoCookie }, ""); err != nil || s.NetCookie != 0 {
		t.Errorf("no cookie on this kernel: %v, %v; want no error", s, err)
	}
}

// TestSandboxToken: the first reader creates the token, every later one
// (and concurrent ones) reads the same; a re-created sandbox (an empty
// directory) gets another; a foreign file is an error.
func TestSandboxToken(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		i := i
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := sandboxToken(dir)
			if err != nil {
				t.Error(err)
			}
			got[i] = tok
		}()
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] || !isToken(got[i]) {
			t.Fatalf("tokens %q", got)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}
	if fi, _ := entries[0].Info(); fi.Mode().Perm() != 0o644 {
		t.Errorf("token mode %v, want 0644 (the other twin may run as another user)", fi.Mode().Perm())
	}
	other, err := sandboxToken(t.TempDir())
	if err != nil || other == got[0] {
		t.Errorf("a new sandbox: %q, %v; want another token", other, err)
	}
	if err := os.WriteFile(filepath.Join(dir, tokenFile), []byte("not a token\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := sandboxToken(dir); err == nil {
		t.Errorf("foreign content: want an error")
	}
	if _, err := sandboxToken(filepath.Join(dir, "absent")); err == nil {
		t.Errorf("no such directory: want an error")
	}
	sb, err := readSandbox("/proc", nil, t.TempDir())
	if runtime.GOOS == "linux" && (err != nil || sb.Token == "") {
		t.Errorf("readSandbox with a token directory: %v, %v", sb, err)
	}
}

func TestTerminationMessage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "termination-log")
	if err := OS().TerminationMessage(p, "absent"); err != nil {
		t.Fatalf("absent file: %v", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("created a termination log: %v", err)
	}
	if err := os.WriteFile(p, []byte("an older, longer message"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := OS().TerminationMessage(p, strings.Repeat("x", 5000)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); len(b) != maxTerminationMessage || strings.Trim(string(b), "x") != "" {
		t.Errorf("termination log holds %d bytes %.20q…", len(b), b)
	}
}

// skipf skips t because this machine cannot run it, or fails t under
// $SIDECARKIT_REQUIRE=1 (CI's require-mode, set by .ci/run): there, a test
// that cannot run is a failure, not a silent pass.
func skipf(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("SIDECARKIT_REQUIRE") == "1" {
		t.Fatalf("SIDECARKIT_REQUIRE=1, cannot skip: "+format, args...)
	}
	t.Skipf(format, args...)
}

func TestReadSandboxLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		skipf(t, "needs /proc")
	}
	a, err := readSandbox("/proc", netnsCookie, "")
	if err != nil {
		skipf(t, "this system hides part of /proc: %v", err)
	}
	b, _ := readSandbox("/proc", netnsCookie, "")
	if a != b || a.BootID == "" || a.Net.Ino == 0 || a.IPC.Ino == 0 || a.UTS.Ino == 0 {
		t.Errorf("sandbox %v then %v", a, b)
	}
}

// TestNetnsCookie: the cookie is stable within a network namespace and
// differs in a new one (the test binary re-run under unshare -n, where
// permitted).
func TestNetnsCookie(t *testing.T) {
	if os.Getenv("SIDECARKIT_PRINT_NETNS_COOKIE") == "1" {
		c, err := netnsCookie()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("cookie=%d\n", c)
		return
	}
	if runtime.GOOS != "linux" {
		skipf(t, "SO_NETNS_COOKIE is Linux's")
	}
	a, err := netnsCookie()
	if err != nil {
		skipf(t, "no cookie on this kernel: %v", err)
	}
	if b, _ := netnsCookie(); a != b {
		t.Fatalf("cookie %d then %d in one namespace", a, b)
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		skipf(t, "no unshare(1) to make a new network namespace")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{fmt.Sprintf("cookie=%d", a): true}
	for i := 0; i < 2; i++ {
		cmd := exec.Command(unshare, "-n", exe, "-test.run=^TestNetnsCookie$")
		cmd.Env = append(os.Environ(), "SIDECARKIT_PRINT_NETNS_COOKIE=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			skipf(t, "cannot make a network namespace here: %v: %s", err, out)
		}
		var got string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "cookie=") {
				got = l
			}
		}
		if got == "" {
			t.Fatalf("no cookie printed: %s", out)
		}
		if seen[got] {
			t.Errorf("%s seen again in a new network namespace", got)
		}
		seen[got] = true
	}
}

func TestInstallCopiesExecutable(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "bin", "handshake")
	if err := OS().Install(dst); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	src, _ := os.Stat(exe)
	if fi.Size() != src.Size() || fi.Mode().Perm() != 0o755 {
		t.Errorf("installed %d bytes mode %v; want %d bytes mode 0755", fi.Size(), fi.Mode().Perm(), src.Size())
	}
}

// TestExecAfterSignal: a signal caught before the exec ends the run
// instead of being lost (the exec'd sidecar would never see it).
func TestExecAfterSignal(t *testing.T) {
	s := &osSystem{proc: "/proc"}
	s.Signals()
	s.sigs <- syscall.SIGTERM
	if err := s.Exec("/bin/true", []string{"true"}, nil); !errors.Is(err, errTerminated) {
		t.Fatalf("Exec with a caught SIGTERM: %v, want errTerminated", err)
	}
}

// TestStartChild: a started child reports its exit code, or 128 plus the
// signal that killed it; Kill ends its whole process group.
func TestStartChild(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	s := &osSystem{proc: "/proc"}
	pidFile := filepath.Join(t.TempDir(), "bg.pid")
	cases := []struct {
		name, script string
		kill         bool
		want         int
	}{
		{name: "exit-code", script: "exit 7", want: 7},
		{name: "signal", script: "kill -TERM $$", want: 128 + int(syscall.SIGTERM)},
		{name: "kill-group", script: "sleep 60 & echo $! > " + pidFile + "; sleep 60", kill: true, want: 128 + int(syscall.SIGKILL)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := s.Start(sh, []string{"sh", "-c", tc.script}, nil)
			if err != nil {
				t.Fatal(err)
			}
			bg := 0
			if tc.kill {
				for deadline := time.Now().Add(10 * time.Second); bg == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					b, _ := os.ReadFile(pidFile)
					fmt.Sscan(string(b), &bg)
				}
				if bg == 0 {
					t.Fatalf("the child never recorded its own child's PID")
				}
				if err := c.Kill(); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case got := <-c.Exited():
				if got != tc.want {
					t.Errorf("status %d, want %d", got, tc.want)
				}
			case <-time.After(20 * time.Second):
				_ = c.Kill()
				t.Fatalf("the child did not exit")
			}
			if err := c.Kill(); err != nil {
				t.Errorf("Kill of an exited child: %v", err)
			}
			for deadline := time.Now().Add(10 * time.Second); bg > 0 && running(bg); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					_ = syscall.Kill(bg, syscall.SIGKILL)
					t.Fatalf("the child's own child %d outlived Kill", bg)
				}
			}
		})
	}
}

// running reports whether process pid exists and is no zombie.
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
