package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gone reports whether pid no longer runs (absent, or a zombie nobody reaped yet).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// waitGone waits up to 2s for pid to stop running.
func waitGone(pid int) bool {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if gone(pid) {
			return true
		}
	}
	return false
}

// TestStopKillsProcessThatIgnoresSIGTERM: a process that ignores SIGTERM is
// killed after the grace period, together with the children it started.
func TestStopKillsProcessThatIgnoresSIGTERM(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "log")
	p, err := startProcess("stubborn", "/bin/sh", []string{"-c", `trap '' TERM; sleep 300 & echo "child $!"; wait`}, logPath)
	if err != nil {
		t.Fatal(err)
	}
	var child int
	for deadline := time.Now().Add(5 * time.Second); child == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		data, _ := os.ReadFile(logPath)
		if f := strings.Fields(string(data)); len(f) == 2 {
			child, _ = strconv.Atoi(f[1])
		}
	}
	if child == 0 {
		p.stop(0)
		t.Fatal("the stub did not report its child")
	}
	start := time.Now()
	killed, err := p.stop(300 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !killed {
		t.Error("stop did not report SIGKILL")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stop took %v", d)
	}
	if !waitGone(p.pid()) {
		t.Errorf("process %d still runs", p.pid())
	}
	if !waitGone(child) {
		t.Errorf("its child %d still runs", child)
	}
}

// TestStartTimesOutOnHungAPIServer: an apiserver that never gets ready and
// ignores SIGTERM neither hangs Start nor survives it. Needs the etcd binary.
func TestStartTimesOutOnHungAPIServer(t *testing.T) {
	skip := t.Skipf
	if os.Getenv(EnvRequire) == "1" {
		skip = t.Fatalf
	}
	if os.Getenv(EnvEnable) != "1" {
		skip("e2e: set %s=1 (needs the etcd binary)", EnvEnable)
	}
	dir := t.TempDir()
	stub := filepath.Join(dir, "kube-apiserver")
	pidFile := filepath.Join(dir, "pid")
	script := "#!/bin/sh\ntrap '' TERM\necho $$ > " + pidFile + "\nexec sleep 300\n"
	if err := os.WriteFile(stub, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// etcd must be healthy before the stub runs, within the same
	// StartTimeout; on a loaded machine (CI builds kube-apiservers in the
	// background) etcd alone can take longer than 3s. Such a start tells
	// nothing about the stub, so it is tried again with a doubled timeout.
	var err error
	for timeout := 3 * time.Second; ; timeout *= 2 {
		opts := Options{KubeAPIServer: stub, StartTimeout: timeout, StopGrace: 300 * time.Millisecond, Logf: t.Logf}
		if _, err := opts.Resolve(); err != nil {
			if errors.Is(err, ErrNotBuilt) {
				skip("e2e: %v", err)
			}
			t.Fatal(err)
		}
		start := time.Now()
		var c *Cluster
		c, err = Start(context.Background(), opts)
		if err == nil {
			c.Stop()
			t.Fatal("Start succeeded with a stub apiserver")
		}
		t.Logf("Start failed after %v as it should: %.200s", time.Since(start).Round(time.Millisecond), err)
		if strings.HasPrefix(err.Error(), "start etcd:") && timeout < 24*time.Second {
			t.Logf("etcd was not healthy within %v; trying again with %v", timeout, 2*timeout)
			continue
		}
		if d := time.Since(start); d > timeout+7*time.Second {
			t.Errorf("Start took %v with StartTimeout %v", d, timeout)
		}
		break
	}
	if !strings.HasPrefix(err.Error(), "start kube-apiserver:") || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("error does not say the kube-apiserver timed out: %v", err)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("stub apiserver never ran: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if pid == 0 || !waitGone(pid) {
		t.Errorf("stub apiserver (pid %d) survived the failed Start", pid)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(os.TempDir(), tempDirPrefix+"*")); len(leftovers) > 0 {
		for _, d := range leftovers {
			if owner, err := os.ReadFile(filepath.Join(d, ownerFile)); err == nil && string(owner) == strconv.Itoa(os.Getpid()) {
				t.Errorf("cluster directory %s left behind", d)
			}
		}
	}
}
