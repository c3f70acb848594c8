//go:build unix

package handshake

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

func execve(path string, argv, env []string) error { return syscall.Exec(path, argv, env) }

// readSandbox reads the sandbox identity under proc (/proc): the boot id
// and the inodes of the network, IPC and UTS namespaces; from cookie, the
// network namespace's cookie; and, with token set, the sandbox token in
// that directory. What it cannot read stays zero, and is described in the
// error, except a cookie the kernel does not have (errNoCookie: before
// Linux 5.14 the identity rests on the inodes, as documented on
// protocol.Sandbox). The caller must not carry on after an error: two
// processes of a sandbox could compute different keys (protocol.Identify).
func readSandbox(proc string, cookie func() (uint64, error), token string) (protocol.Sandbox, error) {
	var s protocol.Sandbox
	var errs []error
	if cookie != nil {
		c, err := cookie()
		switch {
		case errors.Is(err, errNoCookie):
		case err != nil:
			errs = append(errs, err)
		default:
			s.NetCookie = c
		}
	}
	if token != "" {
		t, err := sandboxToken(token)
		if err != nil {
			errs = append(errs, fmt.Errorf("sandbox token: %w", err))
		}
		s.Token = t
	}
	b, err := os.ReadFile(filepath.Join(proc, "sys", "kernel", "random", "boot_id"))
	switch id := strings.TrimSpace(string(b)); {
	case err != nil:
		errs = append(errs, fmt.Errorf("boot id: %w", err))
	case id == "" || len(id) > 64 || strings.ContainsAny(id, " \t\r\n"):
		errs = append(errs, fmt.Errorf("boot id: unexpected content %q", b))
	default:
		s.BootID = id
	}
	for _, ns := range []struct {
		name string
		to   *protocol.Namespace
	}{{"net", &s.Net}, {"ipc", &s.IPC}, {"uts", &s.UTS}} {
		p := filepath.Join(proc, "self", "ns", ns.name)
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s namespace: %w", ns.name, err))
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			errs = append(errs, fmt.Errorf("%s namespace: no inode in %T", ns.name, fi.Sys()))
			continue
		}
		*ns.to = protocol.Namespace{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}
	}
	return s, errors.Join(errs...)
}
