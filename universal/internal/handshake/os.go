package handshake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// OS returns the System of the running process: /proc for the sandbox
// identity, the handshake directory on disk (written with temporary files
// renamed or hard-linked into place), syscall.Exec, the real clock and
// network. Commands run by checks share the process's stdout and stderr.
func OS() System { return &osSystem{proc: "/proc"} }

type osSystem struct {
	proc string
	once sync.Once
	sigs chan os.Signal
}

func (s *osSystem) Sandbox() (protocol.Sandbox, error) { return readSandbox(s.proc, netnsCookie) }

func (s *osSystem) Dir(path string) protocol.Dir { return osDir(path) }

func (s *osSystem) Now() time.Time { return time.Now() }

func (s *osSystem) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (s *osSystem) Signals() <-chan os.Signal {
	s.once.Do(func() {
		s.sigs = make(chan os.Signal, 2)
		signal.Notify(s.sigs, syscall.SIGTERM, os.Interrupt)
	})
	return s.sigs
}

// errTerminated: a signal came before the exec.
var errTerminated = errors.New("terminated before the sidecar started")

// Exec restores the signals' default dispositions first, so that a SIGTERM
// that arrives before the exec ends the process instead of being caught
// and lost, and gives up if one was caught already.
func (s *osSystem) Exec(path string, argv, env []string) error {
	signal.Reset(syscall.SIGTERM, os.Interrupt)
	if s.sigs != nil && len(s.sigs) > 0 {
		return errTerminated
	}
	return execve(path, argv, env)
}

func (s *osSystem) Run(ctx context.Context, path string, argv, env []string) (int, error) {
	cmd := exec.CommandContext(ctx, path)
	cmd.Args, cmd.Env = argv, env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return 1, fmt.Errorf("timed out: %w", ctx.Err())
	case errors.As(err, &exit):
		return exit.ExitCode(), nil
	case err != nil:
		return 1, err
	}
	return 0, nil
}

func (s *osSystem) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

func (s *osSystem) Stat(path string) (fs.FileInfo, error) { return os.Stat(path) }

func (s *osSystem) Install(path string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	src, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return replace(filepath.Dir(path), filepath.Base(path), 0o755, func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	})
}

// osDir is a handshake directory on disk.
type osDir string

// maxRead bounds what ReadFile reads: markers are one short line.
const maxRead = 4096

func (d osDir) path(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("handshake: bad file name %q", name)
	}
	return filepath.Join(string(d), name), nil
}

func (d osDir) ReadFile(name string) ([]byte, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxRead))
}

// WriteFile writes a temporary file and renames it over name.
func (d osDir) WriteFile(name string, data []byte) error {
	if _, err := d.path(name); err != nil {
		return err
	}
	return replace(string(d), name, 0o644, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// CreateFile writes a temporary file and hard-links it to name, which
// fails if name exists: an exclusive create that readers never see
// half-written.
func (d osDir) CreateFile(name string, data []byte) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	tmp, err := temp(string(d), name, 0o644, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("%w (the handshake volume must support hard links; use an emptyDir)", err)
	}
	return nil
}

// temp writes a new temporary file in dir, with a random name (unique
// across containers, whose PIDs may be equal), and returns its path.
func temp(dir, name string, mode os.FileMode, write func(io.Writer) error) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return "", err
	}
	err = write(f)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// replace writes name in dir atomically: a temporary file renamed over it.
func replace(dir, name string, mode os.FileMode, write func(io.Writer) error) error {
	tmp, err := temp(dir, name, mode, write)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
