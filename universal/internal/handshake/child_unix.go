//go:build unix

package handshake

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// child is a sidecar started by the legacy twin.
type child struct {
	proc   *os.Process
	exited chan int
	fwd    chan os.Signal
}

// startChild starts the program in a process group of its own (so that a
// handover can kill what it started, too), killed by the kernel should
// this process die first (Linux), with the signals of forwarded passed
// on. When this process is PID 1 of its container it also reaps the
// orphans that the kernel hands it, as an init process must.
func startChild(path string, argv, env []string) (Child, error) {
	attr := &syscall.SysProcAttr{Setpgid: true}
	setPdeathsig(attr)
	p, err := os.StartProcess(path, argv, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   attr,
	})
	if err != nil {
		return nil, err
	}
	c := &child{proc: p, exited: make(chan int, 1), fwd: make(chan os.Signal, 4)}
	signal.Notify(c.fwd, forwarded...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-c.fwd:
				_ = p.Signal(s)
			case <-done:
				signal.Stop(c.fwd)
				return
			}
		}
	}()
	go func() {
		c.exited <- c.wait()
		close(done)
	}()
	return c, nil
}

// wait waits for the child and returns its exit status.
func (c *child) wait() int {
	if os.Getpid() != 1 {
		st, err := c.proc.Wait()
		if err != nil {
			return 128 + int(syscall.SIGKILL)
		}
		return status(st.Sys().(syscall.WaitStatus))
	}
	// PID 1: reap every child, the sidecar's orphans too, until the
	// sidecar itself is reaped.
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
		case err != nil:
			return 128 + int(syscall.SIGKILL) // ECHILD: reaped elsewhere
		case pid == c.proc.Pid:
			return status(ws)
		}
	}
}

func status(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func (c *child) Signal(sig os.Signal) error { return c.proc.Signal(sig) }

func (c *child) Kill() error {
	err := syscall.Kill(-c.proc.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

func (c *child) Exited() <-chan int { return c.exited }
