package handshake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

func (s *osSystem) Sandbox(token string) (protocol.Sandbox, error) {
	return readSandbox(s.proc, netnsCookie, token)
}

// errNoCookie: the kernel (before Linux 5.14) or platform has no network
// namespace cookie. It is the same for every process of a node, so the
// identity does without it.
var errNoCookie = errors.New("network namespace cookie: not supported here")

// maxTerminationMessage is what the kubelet keeps of a termination
// message (4096 bytes).
const maxTerminationMessage = 4096

func (s *osSystem) TerminationMessage(path, msg string) error {
	if len(msg) > maxTerminationMessage {
		msg = msg[:maxTerminationMessage]
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = f.WriteString(msg)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// tokenFile is the sandbox token's name in its directory.
const tokenFile = ".sidecarkit-sandbox-token"

// sandboxToken returns the sandbox token in dir (the sandbox's shared
// memory mount), creating it if absent: 16 random bytes in hex, written
// to a temporary file hard-linked to the name, so that concurrent
// creators agree on the first one and no reader sees a part.
func sandboxToken(dir string) (string, error) {
	p := filepath.Join(dir, tokenFile)
	for attempt := 0; attempt < 2; attempt++ {
		b, err := readSmall(p)
		if err == nil {
			t := strings.TrimSuffix(string(b), "\n")
			if !isToken(t) {
				return "", fmt.Errorf("%s: want 32 lowercase hex digits, got %q", p, b)
			}
			return t, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		var raw [16]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return "", err
		}
		t := hex.EncodeToString(raw[:])
		tmp, err := temp(dir, tokenFile, 0o644, func(w io.Writer) error {
			_, err := io.WriteString(w, t+"\n")
			return err
		})
		if err != nil {
			return "", err
		}
		err = os.Link(tmp, p)
		os.Remove(tmp)
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%s: created and removed concurrently", p)
}

func isToken(t string) bool {
	if len(t) != 32 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// readSmall reads at most maxRead bytes of a file.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxRead))
}

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
	return readSmall(p)
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

// forwarded are the signals, other than SIGTERM and SIGINT (which the
// runner handles), that a supervised sidecar gets as it would if it had
// been exec'd.
var forwarded = []os.Signal{syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

func (s *osSystem) Start(path string, argv, env []string) (Child, error) {
	return startChild(path, argv, env)
}
