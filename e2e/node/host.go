package node

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The kubelet changes the host: it sets kernel tunables (unless
// protectKernelDefaults, which makes it refuse to start when they differ)
// and creates iptables chains (KUBE-FIREWALL, KUBE-KUBELET-CANARY,
// KUBE-IPTABLES-HINT). A test node records both before the kubelet starts
// and puts them back when it stops.

// kubeletSysctls are the tunables the kubelet sets
// (pkg/kubelet/cm setupKernelTunables).
var kubeletSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

// hostState is what the kubelet may change on the host.
type hostState struct {
	sysctls map[string]string
	chains  map[string]bool // "iptables filter KUBE-FIREWALL"
}

func saveHost() hostState {
	h := hostState{sysctls: map[string]string{}, chains: kubeChains()}
	for _, k := range kubeletSysctls {
		if b, err := os.ReadFile(filepath.Join("/proc/sys", k)); err == nil {
			h.sysctls[k] = strings.TrimSpace(string(b))
		}
	}
	return h
}

// restore writes back the tunables that changed and removes the KUBE-*
// chains that appeared, with the rules that jump to them.
func (h hostState) restore() error {
	var errs []error
	for k, v := range h.sysctls {
		p := filepath.Join("/proc/sys", k)
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) != v {
			if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("restore %s=%s: %w", k, v, err))
			}
		}
	}
	for c := range kubeChains() {
		if h.chains[c] {
			continue
		}
		f := strings.Fields(c) // tool table chain
		tool, table, chain := f[0], f[1], f[2]
		rules, _ := exec.Command(tool, "-t", table, "-S").Output()
		for _, r := range strings.Split(string(rules), "\n") {
			a := strings.Fields(r)
			if len(a) > 3 && a[0] == "-A" && a[1] != chain && a[len(a)-2] == "-j" && a[len(a)-1] == chain {
				a[0] = "-D"
				if out, err := exec.Command(tool, append([]string{"-t", table}, a...)...).CombinedOutput(); err != nil {
					errs = append(errs, fmt.Errorf("%s -t %s %s: %v: %s", tool, table, strings.Join(a, " "), err, out))
				}
			}
		}
		for _, op := range []string{"-F", "-X"} {
			if out, err := exec.Command(tool, "-t", table, op, chain).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("%s -t %s %s %s: %v: %s", tool, table, op, chain, err, out))
			}
		}
	}
	return errors.Join(errs...)
}

// kubeChains lists the KUBE-* chains of iptables and ip6tables (none when
// they are not installed).
func kubeChains() map[string]bool {
	m := map[string]bool{}
	for _, tool := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(tool); err != nil {
			continue
		}
		for _, table := range []string{"filter", "nat", "mangle"} {
			out, err := exec.Command(tool, "-t", table, "-S").Output()
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(out), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "-N" && strings.HasPrefix(f[1], "KUBE-") {
					m[tool+" "+table+" "+f[1]] = true
				}
			}
		}
	}
	return m
}
