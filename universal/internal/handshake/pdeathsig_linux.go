package handshake

import "syscall"

// setPdeathsig has the kernel kill the child should this process die
// first, so that the legacy twin's sidecar never outlives its twin.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
