package handshake_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarkit/sidecarkit/universal/internal/handshake"
	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

func env(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  func(string) string
		want handshake.Config
		err  string
	}{
		{
			name: "run",
			args: []string{"--role=native", "--dir=/h", "--", "proxy", "--x"},
			want: handshake.Config{Command: handshake.CommandRun, Role: protocol.Native, Dir: "/h", ConfirmTimeout: 30 * time.Second, PollInterval: 250 * time.Millisecond, HandoverGrace: 30 * time.Second, TerminationLog: handshake.DefaultTerminationLog, Argv: []string{"proxy", "--x"}},
		},
		{
			name: "run-from-env",
			args: []string{"run", "--", "proxy"},
			env:  env(protocol.EnvRole, "legacy", protocol.EnvDir, "/e", protocol.EnvRestartPolicy, "Never"),
			want: handshake.Config{Command: handshake.CommandRun, Role: protocol.Legacy, Dir: "/e", RestartPolicy: "Never", ConfirmTimeout: 30 * time.Second, PollInterval: 250 * time.Millisecond, HandoverGrace: 30 * time.Second, TerminationLog: handshake.DefaultTerminationLog, Argv: []string{"proxy"}},
		},
		{
			name: "flags-override-env",
			args: []string{"--role", "native", "--dir", "/f", "--restart-policy", "OnFailure", "--confirm-timeout", "1m", "--poll-interval", "1s", "--", "p"},
			env:  env(protocol.EnvRole, "legacy", protocol.EnvDir, "/e", protocol.EnvRestartPolicy, "Never"),
			want: handshake.Config{Command: handshake.CommandRun, Role: protocol.Native, Dir: "/f", RestartPolicy: "OnFailure", ConfirmTimeout: time.Minute, PollInterval: time.Second, HandoverGrace: 30 * time.Second, TerminationLog: handshake.DefaultTerminationLog, Argv: []string{"p"}},
		},
		{
			name: "run-handover-grace",
			args: []string{"--role=legacy", "--dir=/h", "--handover-grace=5s", "--", "p"},
			want: handshake.Config{Command: handshake.CommandRun, Role: protocol.Legacy, Dir: "/h", ConfirmTimeout: 30 * time.Second, PollInterval: 250 * time.Millisecond, HandoverGrace: 5 * time.Second, TerminationLog: handshake.DefaultTerminationLog, Argv: []string{"p"}},
		},
		{
			name: "probe-http",
			args: []string{"probe", "--role=legacy", "--dir=/h", "--type=readiness", "--http-get=/ready", "--port=8080", "--scheme=https", "--header=X-A: b:c", "--timeout=3s"},
			env:  env(protocol.EnvPodIP, "10.0.0.7"),
			want: handshake.Config{Command: handshake.CommandProbe, Role: protocol.Legacy, Dir: "/h", ProbeType: protocol.ReadinessProbe, Timeout: 3 * time.Second,
				HTTPGet: &handshake.HTTPGet{Scheme: "HTTPS", Host: "10.0.0.7", Port: 8080, Path: "/ready", Headers: []handshake.Header{{Name: "X-A", Value: "b:c"}}}},
		},
		{
			name: "probe-tcp-default-host",
			args: []string{"probe", "--role=native", "--dir=/h", "--type=startup", "--tcp-socket", "--port=1"},
			want: handshake.Config{Command: handshake.CommandProbe, Role: protocol.Native, Dir: "/h", ProbeType: protocol.StartupProbe, Timeout: time.Second,
				TCPSocket: &handshake.TCPSocket{Host: "127.0.0.1", Port: 1}},
		},
		{
			name: "hook-exec",
			args: []string{"hook", "--role=native", "--dir=/h", "--", "drain", "now"},
			want: handshake.Config{Command: handshake.CommandHook, Role: protocol.Native, Dir: "/h", Argv: []string{"drain", "now"}},
		},
		{
			name: "install",
			args: []string{"install", "--to=/h/bin/handshake"},
			want: handshake.Config{Command: handshake.CommandInstall, To: "/h/bin/handshake"},
		},
		{name: "unknown-command", args: []string{"serve"}, err: `unknown command "serve"`},
		{name: "no-role", args: []string{"--dir=/h", "--", "p"}, err: `--role: universal: unknown role ""`},
		{name: "bad-role", args: []string{"--role=both", "--dir=/h", "--", "p"}, err: `unknown role "both"`},
		{name: "no-dir", args: []string{"--role=native", "--", "p"}, err: "--dir (or $SIDECARKIT_HANDSHAKE_DIR) is required"},
		{name: "no-command", args: []string{"--role=native", "--dir=/h"}, err: "no sidecar command after --"},
		{name: "zero-handover-grace", args: []string{"--role=legacy", "--dir=/h", "--handover-grace=0s", "--", "p"}, err: "--handover-grace must be positive"},
		{name: "probe-handover-grace", args: []string{"probe", "--role=legacy", "--dir=/h", "--type=startup", "--handover-grace=1s"}, err: "flag --handover-grace does not apply"},
		{name: "bad-policy", args: []string{"--role=native", "--dir=/h", "--restart-policy=always", "--", "p"}, err: `--restart-policy "always"`},
		{name: "bad-policy-env", args: []string{"--role=native", "--dir=/h", "--", "p"}, env: env(protocol.EnvRestartPolicy, "Sometimes"), err: `--restart-policy "Sometimes"`},
		{name: "zero-timeout", args: []string{"--role=native", "--dir=/h", "--confirm-timeout=0s", "--", "p"}, err: "must be positive"},
		{name: "unknown-flag", args: []string{"--role=native", "--frobnicate", "--", "p"}, err: "flag provided but not defined: -frobnicate"},
		{name: "probe-flag-on-run", args: []string{"--role=native", "--dir=/h", "--type=startup", "--", "p"}, err: "flag --type does not apply"},
		{name: "run-flag-on-probe", args: []string{"probe", "--role=native", "--dir=/h", "--type=startup", "--restart-policy=Never"}, err: "flag --restart-policy does not apply"},
		{name: "probe-no-type", args: []string{"probe", "--role=native", "--dir=/h"}, err: `--type: universal: unknown probe type ""`},
		{name: "two-checks", args: []string{"probe", "--role=native", "--dir=/h", "--type=startup", "--tcp-socket", "--port=1", "--", "x"}, err: "want one check"},
		{name: "no-port", args: []string{"probe", "--role=native", "--dir=/h", "--type=startup", "--http-get=/"}, err: "--port 0: want 1 to 65535"},
		{name: "port-alone", args: []string{"hook", "--role=native", "--dir=/h", "--port=1"}, err: "need --http-get or --tcp-socket"},
		{name: "bad-scheme", args: []string{"hook", "--role=native", "--dir=/h", "--http-get=/", "--port=1", "--scheme=ftp"}, err: `--scheme "ftp"`},
		{name: "bad-header", args: []string{"hook", "--role=native", "--dir=/h", "--http-get=/", "--port=1", "--header=nocolon"}, err: `want "Name: value"`},
		{name: "bad-timeout", args: []string{"hook", "--role=native", "--dir=/h", "--timeout=soon"}, err: `--timeout "soon"`},
		{name: "install-no-to", args: []string{"install"}, err: "want --to PATH"},
		{name: "install-role", args: []string{"install", "--to=/x", "--role=native"}, err: "flag --role does not apply"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			getenv := tc.env
			if getenv == nil {
				getenv = env()
			}
			got, err := handshake.Parse(tc.args, getenv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "handshake: ") {
					t.Fatalf("Parse = %+v, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			again, err := handshake.Parse(got.Args(), env())
			if err != nil {
				t.Fatalf("Parse(Args()) of %q: %v", got.Args(), err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("Parse(Args()) of %q (-want +got)\n%s", got.Args(), diff)
			}
		})
	}
}

// FuzzParse: Parse never panics, and a Config it returns survives
// Args and Parse unchanged (the Planner writes commands with the same
// vocabulary).
func FuzzParse(f *testing.F) {
	f.Add("--role=native\x00--dir=/h\x00--\x00proxy")
	f.Add("probe\x00--role=legacy\x00--dir=/h\x00--type=liveness\x00--http-get=/x\x00--port=80\x00--header=A: b")
	f.Add("hook\x00--role=native\x00--dir=/h\x00--tcp-socket\x00--port=9\x00--host=::1")
	f.Add("install\x00--to=/a/b")
	f.Add("--role=legacy\x00--dir=/h\x00--confirm-timeout=1h\x00--poll-interval=1ns\x00--restart-policy=Never\x00--\x00a\x00--\x00b")
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, "\x00")
		c, err := handshake.Parse(args, env())
		if err != nil {
			if !strings.HasPrefix(err.Error(), "handshake: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		again, err := handshake.Parse(c.Args(), env())
		if err != nil {
			t.Fatalf("Parse(%q) = %+v; Parse(Args() = %q): %v", args, c, c.Args(), err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("Parse(%q); Args() = %q (-want +got)\n%s", args, c.Args(), diff)
		}
	})
}
