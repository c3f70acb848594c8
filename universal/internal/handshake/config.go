package handshake

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/universal"
	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// Command is what one invocation of the handshake does.
type Command string

// The commands.
const (
	// CommandRun runs a twin: decide, then exec the sidecar, exit 0, or
	// stand by. It is the default (no command word).
	CommandRun Command = "run"
	// CommandProbe answers a wrapped probe of a twin.
	CommandProbe Command = "probe"
	// CommandHook runs a wrapped lifecycle hook (preStop) of a twin when
	// that twin acts.
	CommandHook Command = "hook"
	// CommandInstall copies the running executable to a path (the copier
	// init container).
	CommandInstall Command = "install"
)

// The defaults of Config.
const (
	DefaultConfirmTimeout = universal.DefaultConfirmTimeout
	DefaultPollInterval   = 250 * time.Millisecond
	DefaultProbeTimeout   = time.Second
	// DefaultHandoverGrace is the kubelet's default
	// terminationGracePeriodSeconds.
	DefaultHandoverGrace = 30 * time.Second
)

// Config is one invocation of the handshake, as Parse reads it from the
// command line and the environment.
type Config struct {
	Command Command
	// Role, Dir and RestartPolicy: flags --role, --dir, --restart-policy,
	// else the environment (protocol.EnvRole, EnvDir, EnvRestartPolicy).
	// An empty RestartPolicy means Always.
	Role          protocol.Role
	Dir           string
	RestartPolicy corev1.RestartPolicy
	// ConfirmTimeout is how long a restarted native twin waits for the
	// kubelet's startup probe (--confirm-timeout, run only).
	ConfirmTimeout time.Duration
	// PollInterval is how often a waiting twin looks again, and the
	// acting legacy twin whether to hand over (--poll-interval, run
	// only).
	PollInterval time.Duration
	// HandoverGrace is how long the legacy twin, handing over to the
	// native twin, waits for its sidecar to exit after SIGTERM before it
	// kills it (--handover-grace, run only).
	HandoverGrace time.Duration
	// Argv is the sidecar's command and arguments, after "--" (run), or
	// an exec check's (probe, hook).
	Argv []string
	// ProbeType is the wrapped probe's type (--type, probe only).
	ProbeType protocol.ProbeType
	// Timeout bounds the check (--timeout; probe: default 1s, hook: none).
	Timeout time.Duration
	// HTTPGet or TCPSocket is the check of a probe or hook that is not an
	// exec check (Argv); with neither and no Argv there is no check.
	HTTPGet   *HTTPGet
	TCPSocket *TCPSocket
	// To is the destination of install (--to).
	To string
	// SandboxToken is the directory of the sandbox token, part of the
	// sandbox identity (--sandbox-token; run, probe and hook). The
	// Planner sets /dev/shm for hostNetwork Pods; empty means none.
	SandboxToken string
	// TerminationLog is the container's termination message file, where
	// a failing run writes why (--termination-log, run only; default
	// DefaultTerminationLog).
	TerminationLog string
}

// DefaultTerminationLog is the kubelet's default terminationMessagePath.
const DefaultTerminationLog = "/dev/termination-log"

// HTTPGet is an httpGet check, as the kubelet runs it: success is a
// status from 200 to 399; redirects are not followed; the TLS certificate
// is not verified.
type HTTPGet struct {
	Scheme  string // "HTTP" or "HTTPS"
	Host    string
	Port    int
	Path    string
	Headers []Header
}

// Header is an HTTP header of an HTTPGet check.
type Header struct{ Name, Value string }

// TCPSocket is a tcpSocket check: success is an accepted connection.
type TCPSocket struct {
	Host string
	Port int
}

// headers is the --header flag.
type headers []Header

func (h *headers) String() string { return fmt.Sprint(*h) }

func (h *headers) Set(s string) error {
	i := strings.IndexByte(s, ':')
	if i < 0 || strings.TrimSpace(s[:i]) == "" {
		return fmt.Errorf("want \"Name: value\", got %q", s)
	}
	*h = append(*h, Header{Name: strings.TrimSpace(s[:i]), Value: strings.TrimSpace(s[i+1:])})
	return nil
}

// Usage describes the command line.
const Usage = `usage:
  handshake [run] --role native|legacy --dir DIR [--restart-policy Always|OnFailure|Never]
            [--confirm-timeout 30s] [--poll-interval 250ms] [--sandbox-token DIR]
            [--handover-grace 30s] [--termination-log /dev/termination-log] -- CMD [ARG...]
  handshake probe --role R --dir DIR --type startup|liveness|readiness [--timeout 1s]
            [--sandbox-token DIR] [CHECK]
  handshake hook  --role R --dir DIR [--timeout D] [--sandbox-token DIR] [CHECK]
  handshake install --to PATH
CHECK is one of
  --http-get PATH --port N [--scheme HTTP|HTTPS] [--host H] [--header "Name: value"]...
  --tcp-socket --port N [--host H]
  -- CMD [ARG...]
Flags --role, --dir and --restart-policy default to $SIDECARKIT_HANDSHAKE_ROLE,
$SIDECARKIT_HANDSHAKE_DIR and $SIDECARKIT_POD_RESTART_POLICY; --host to $SIDECARKIT_POD_IP,
else 127.0.0.1.
`

// Parse reads a Config from the arguments after the program (and command)
// name and from the environment, through getenv (which returns "" for an
// unset variable). Errors start with "handshake:".
func Parse(args []string, getenv func(string) string) (Config, error) {
	c := Config{Command: CommandRun}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		c.Command = Command(args[0])
		args = args[1:]
		switch c.Command {
		case CommandRun, CommandProbe, CommandHook, CommandInstall:
		default:
			return Config{}, fmt.Errorf("handshake: unknown command %q (want run, probe, hook or install)", c.Command)
		}
	}
	fs := flag.NewFlagSet("handshake "+string(c.Command), flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	role := fs.String("role", getenv(protocol.EnvRole), "")
	fs.StringVar(&c.Dir, "dir", getenv(protocol.EnvDir), "")
	policy := fs.String("restart-policy", getenv(protocol.EnvRestartPolicy), "")
	fs.DurationVar(&c.ConfirmTimeout, "confirm-timeout", DefaultConfirmTimeout, "")
	fs.DurationVar(&c.PollInterval, "poll-interval", DefaultPollInterval, "")
	fs.DurationVar(&c.HandoverGrace, "handover-grace", DefaultHandoverGrace, "")
	typ := fs.String("type", "", "")
	timeout := fs.String("timeout", "", "")
	httpPath := fs.String("http-get", "", "")
	tcp := fs.Bool("tcp-socket", false, "")
	port := fs.Int("port", 0, "")
	scheme := fs.String("scheme", "HTTP", "")
	host := fs.String("host", "", "")
	var hdrs headers
	fs.Var(&hdrs, "header", "")
	fs.StringVar(&c.To, "to", "", "")
	fs.StringVar(&c.SandboxToken, "sandbox-token", "", "")
	fs.StringVar(&c.TerminationLog, "termination-log", DefaultTerminationLog, "")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("handshake: %s: %v", c.Command, strings.TrimSpace(firstLine(out.String(), err)))
	}
	if len(fs.Args()) > 0 {
		c.Argv = fs.Args()
	}
	if c.Command != CommandRun {
		c.ConfirmTimeout, c.PollInterval, c.HandoverGrace, c.TerminationLog = 0, 0, 0, ""
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	only := func(cmds []Command, names ...string) error {
		for _, n := range names {
			if !set[n] {
				continue
			}
			ok := false
			for _, cmd := range cmds {
				ok = ok || cmd == c.Command
			}
			if !ok {
				return fmt.Errorf("handshake: %s: flag --%s does not apply", c.Command, n)
			}
		}
		return nil
	}
	checks := []Command{CommandProbe, CommandHook}
	if err := errors.Join(
		only([]Command{CommandRun}, "restart-policy", "confirm-timeout", "poll-interval", "handover-grace", "termination-log"),
		only([]Command{CommandRun, CommandProbe, CommandHook}, "sandbox-token"),
		only([]Command{CommandProbe}, "type"),
		only(checks, "timeout", "http-get", "tcp-socket", "port", "scheme", "host", "header"),
		only([]Command{CommandRun, CommandProbe, CommandHook}, "role", "dir"),
		only([]Command{CommandInstall}, "to"),
	); err != nil {
		return Config{}, err
	}
	if c.Command == CommandInstall {
		if c.To == "" || len(c.Argv) > 0 {
			return Config{}, fmt.Errorf("handshake: install: want --to PATH and no arguments")
		}
		return c, nil
	}
	var err error
	if c.Role, err = protocol.ParseRole(*role); err != nil {
		return Config{}, fmt.Errorf("handshake: %s: --role: %w", c.Command, err)
	}
	if c.Dir == "" {
		return Config{}, fmt.Errorf("handshake: %s: --dir (or $%s) is required", c.Command, protocol.EnvDir)
	}
	switch c.Command {
	case CommandRun:
		switch p := corev1.RestartPolicy(*policy); p {
		case "", corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
			c.RestartPolicy = p
		default:
			return Config{}, fmt.Errorf("handshake: run: --restart-policy %q: want Always, OnFailure or Never", *policy)
		}
		if c.ConfirmTimeout <= 0 || c.PollInterval <= 0 || c.HandoverGrace <= 0 {
			return Config{}, fmt.Errorf("handshake: run: --confirm-timeout, --poll-interval and --handover-grace must be positive")
		}
		if len(c.Argv) == 0 {
			return Config{}, fmt.Errorf("handshake: run: no sidecar command after --")
		}
		if !path.IsAbs(c.TerminationLog) {
			return Config{}, fmt.Errorf("handshake: run: --termination-log %q: want an absolute path", c.TerminationLog)
		}
		if err := checkTokenDir(c.SandboxToken); err != nil {
			return Config{}, err
		}
		return c, nil
	case CommandProbe:
		if c.ProbeType, err = protocol.ParseProbeType(*typ); err != nil {
			return Config{}, fmt.Errorf("handshake: probe: --type: %w", err)
		}
		c.Timeout = DefaultProbeTimeout
	}
	if err := checkTokenDir(c.SandboxToken); err != nil {
		return Config{}, err
	}
	if *timeout != "" {
		if c.Timeout, err = time.ParseDuration(*timeout); err != nil || c.Timeout <= 0 {
			return Config{}, fmt.Errorf("handshake: %s: --timeout %q: want a positive duration", c.Command, *timeout)
		}
	}
	if *host == "" {
		*host = getenv(protocol.EnvPodIP)
	}
	if *host == "" {
		*host = "127.0.0.1"
	}
	if set["http-get"] || *tcp {
		if set["http-get"] && *tcp || len(c.Argv) > 0 {
			return Config{}, fmt.Errorf("handshake: %s: want one check: --http-get, --tcp-socket or -- CMD", c.Command)
		}
		if *port <= 0 || *port > 65535 {
			return Config{}, fmt.Errorf("handshake: %s: --port %d: want 1 to 65535", c.Command, *port)
		}
	} else if set["port"] || set["scheme"] || set["host"] || len(hdrs) > 0 {
		return Config{}, fmt.Errorf("handshake: %s: --port, --scheme, --host and --header need --http-get or --tcp-socket", c.Command)
	}
	switch {
	case set["http-get"]:
		s := strings.ToUpper(*scheme)
		if s != "HTTP" && s != "HTTPS" {
			return Config{}, fmt.Errorf("handshake: %s: --scheme %q: want HTTP or HTTPS", c.Command, *scheme)
		}
		c.HTTPGet = &HTTPGet{Scheme: s, Host: *host, Port: *port, Path: *httpPath, Headers: hdrs}
	case *tcp:
		c.TCPSocket = &TCPSocket{Host: *host, Port: *port}
	}
	return c, nil
}

// checkTokenDir accepts an empty --sandbox-token or an absolute one.
func checkTokenDir(dir string) error {
	if dir != "" && !path.IsAbs(dir) {
		return fmt.Errorf("handshake: --sandbox-token %q: want an absolute directory", dir)
	}
	return nil
}

func firstLine(out string, err error) string {
	if i := strings.IndexByte(out, '\n'); i > 0 {
		return out[:i]
	}
	return err.Error()
}

// Args returns the command line that Parse reads back as c (without the
// program name), the inverse of Parse for a valid Config. The Planner
// builds the twins' commands with it.
func (c Config) Args() []string {
	var a []string
	if c.Command != CommandRun && c.Command != "" {
		a = append(a, string(c.Command))
	}
	if c.Command == CommandInstall {
		return append(a, "--to="+c.To)
	}
	a = append(a, "--role="+string(c.Role), "--dir="+c.Dir)
	if c.SandboxToken != "" {
		a = append(a, "--sandbox-token="+c.SandboxToken)
	}
	switch c.Command {
	case CommandRun, "":
		if c.RestartPolicy != "" {
			a = append(a, "--restart-policy="+string(c.RestartPolicy))
		}
		if c.ConfirmTimeout != 0 && c.ConfirmTimeout != DefaultConfirmTimeout {
			a = append(a, "--confirm-timeout="+c.ConfirmTimeout.String())
		}
		if c.PollInterval != 0 && c.PollInterval != DefaultPollInterval {
			a = append(a, "--poll-interval="+c.PollInterval.String())
		}
		if c.HandoverGrace != 0 && c.HandoverGrace != DefaultHandoverGrace {
			a = append(a, "--handover-grace="+c.HandoverGrace.String())
		}
		if c.TerminationLog != "" && c.TerminationLog != DefaultTerminationLog {
			a = append(a, "--termination-log="+c.TerminationLog)
		}
	case CommandProbe:
		a = append(a, "--type="+string(c.ProbeType))
	}
	if c.Timeout != 0 && !(c.Command == CommandProbe && c.Timeout == DefaultProbeTimeout) {
		a = append(a, "--timeout="+c.Timeout.String())
	}
	switch {
	case c.HTTPGet != nil:
		h := c.HTTPGet
		a = append(a, "--http-get="+h.Path, "--port="+strconv.Itoa(h.Port))
		if h.Scheme != "" && h.Scheme != "HTTP" {
			a = append(a, "--scheme="+h.Scheme)
		}
		if h.Host != "" {
			a = append(a, "--host="+h.Host)
		}
		for _, hd := range h.Headers {
			a = append(a, "--header="+hd.Name+": "+hd.Value)
		}
	case c.TCPSocket != nil:
		a = append(a, "--tcp-socket", "--port="+strconv.Itoa(c.TCPSocket.Port))
		if c.TCPSocket.Host != "" {
			a = append(a, "--host="+c.TCPSocket.Host)
		}
	}
	if len(c.Argv) > 0 {
		a = append(append(a, "--"), c.Argv...)
	}
	return a
}
