// Command pause is the Pod sandbox's process for the node e2e tests: it
// reaps the children it inherits (it is PID 1 of the sandbox's PID
// namespace when the Pod shares one) and exits 0 on SIGTERM or SIGINT.
// Built statically (CGO_ENABLED=0), it is the only file of the pause image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
