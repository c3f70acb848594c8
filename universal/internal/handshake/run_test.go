package handshake_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarkit/sidecarkit/universal/internal/handshake"
	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

func marker(k protocol.Kind, v, sb string) protocol.Marker {
	return protocol.Marker{Kind: k, Value: v, Sandbox: sb}
}

// TestRun drives the run command through the kubelet sequences of each
// node kind, one invocation (one container run) at a time.
func TestRun(t *testing.T) {
	type setup func(f *fakeSys)
	seen := func(f *fakeSys) { f.put("native", marker(protocol.KindNative, "seen", f.key())) }
	ack := func(f *fakeSys) { f.put("ack", marker(protocol.KindAck, "probed", f.key())) }
	claim := func(role string) setup {
		return func(f *fakeSys) { f.put(protocol.ClaimFile(f.key()), marker(protocol.KindClaim, role, f.key())) }
	}
	handover := func(f *fakeSys) {
		f.put(protocol.HandoverFile(f.key()), marker(protocol.KindHandover, "native", f.key()))
	}
	// exitAt makes the sidecar exit with code at the nth wait.
	exitAt := func(n, code int) func(int, *fakeSys) {
		return func(i int, f *fakeSys) {
			if i == n {
				f.child.exit(code)
			}
		}
	}
	cases := []struct {
		name   string
		args   string
		setup  []setup
		onWait func(n int, f *fakeSys)
		signal bool
		// signalOn sends SIGTERM once the log has this.
		signalOn string
		// ignoreTerms: the sidecar ignores that many SIGTERMs.
		ignoreTerms int
		// want
		code int
		err  string
		exec bool
		// start: the sidecar was started as a child (the legacy twin),
		// and got the signals childSigs.
		start     bool
		childSigs string
		waits     int
		files     string
		log       string
	}{
		{
			name: "native/first-run", args: "--role=native --dir=/h -- proxy --listen=:15001",
			code: 0, files: "native: sidecarkit-handshake/1 native seen <sb>\n", log: "RecordAndExit0",
		},
		{
			name: "native/restart-confirmed", args: "--role=native --dir=/h -- proxy --listen=:15001", setup: []setup{seen},
			onWait: func(n int, f *fakeSys) {
				if n == 3 {
					ack(f)
				}
			},
			code: 126, err: "fake exec returned", exec: true, waits: 3,
			files: "ack: sidecarkit-handshake/1 ack probed <sb>\nclaim-<sb>: sidecarkit-handshake/1 claim native <sb>\nnative: sidecarkit-handshake/1 native seen <sb>\n",
			log:   "Run: the kubelet probed the native twin",
		},
		{
			name: "native/restart-times-out", args: "--role=native --dir=/h --confirm-timeout=2s --poll-interval=500ms -- proxy", setup: []setup{seen},
			code: 0, waits: 4, files: "native: sidecarkit-handshake/1 native seen <sb>\n", log: "Exit0Now: no startup probe came",
		},
		{
			name: "native/sigterm-while-waiting", args: "--role=native --dir=/h -- proxy", setup: []setup{seen}, signal: true,
			code: 0, waits: 1, log: "terminated while waiting: exiting 0",
		},
		{
			name: "native/acting-restart", args: "--role=native --dir=/h -- proxy", setup: []setup{seen, ack, claim("native")},
			code: 126, exec: true, err: "fake exec",
		},
		{
			name: "native/legacy-acts", args: "--role=native --dir=/h --confirm-timeout=1s --poll-interval=500ms -- proxy", setup: []setup{seen, claim("legacy")},
			code: 0, waits: 2, log: "Exit0Now: the legacy twin acts in this sandbox and no startup probe came",
		},
		{
			name: "native/legacy-acts-native-kubelet", args: "--role=native --dir=/h --confirm-timeout=1s --poll-interval=500ms -- proxy", setup: []setup{seen, claim("legacy")},
			onWait: func(n int, f *fakeSys) {
				switch n {
				case 1:
					ack(f)
				case 6: // long after the confirmation timeout
					handover(f)
				}
			},
			code: 126, err: "fake exec", exec: true, waits: 6, log: "Confirm: the legacy twin acts in this sandbox and the kubelet probed this twin: a native kubelet took over (an in-place upgrade, or a lost handshake directory); waiting for the legacy twin to hand over",
		},
		{
			name: "native/legacy-acts-native-kubelet/sigterm", args: "--role=native --dir=/h -- proxy", setup: []setup{seen, claim("legacy"), ack},
			onWait: func(n int, f *fakeSys) { f.sigs <- syscall.SIGTERM },
			code:   0, waits: 1, log: "while waiting: exiting 0",
		},
		{
			name: "native/handed-over", args: "--role=native --dir=/h -- proxy", setup: []setup{seen, claim("legacy"), ack, handover},
			code: 126, err: "fake exec", exec: true, log: "Run: the native twin acts in this sandbox",
		},
		{
			name: "native/sigterm-before-exec", args: "--role=native --dir=/h -- proxy", setup: []setup{ack}, signal: true,
			code: 0, log: "before the sidecar started",
		},
		{
			name: "legacy/old-node", args: "--role=legacy --dir=/h --restart-policy=Never -- proxy", setup: []setup{seen}, onWait: exitAt(2, 0),
			code: 0, start: true, childSigs: "kill", waits: 2, log: "Run: the native twin does not act",
			files: "claim-<sb>: sidecarkit-handshake/1 claim legacy <sb>\nnative: sidecarkit-handshake/1 native seen <sb>\n",
		},
		{
			name: "legacy/sidecar-fails", args: "--role=legacy --dir=/h -- proxy", setup: []setup{seen, claim("legacy")}, onWait: exitAt(3, 7),
			code: 7, start: true, childSigs: "kill", waits: 3, log: "the sidecar exited with status 7",
		},
		{
			name: "legacy/sigterm-passed-on", args: "--role=legacy --dir=/h -- proxy", setup: []setup{seen, claim("legacy")},
			onWait: func(n int, f *fakeSys) {
				if n == 2 {
					f.sigs <- syscall.SIGTERM
				}
			},
			code: 143, start: true, childSigs: "terminated,kill", waits: 2, log: "terminated: passing it on to the sidecar",
		},
		{
			name: "legacy/hands-over/job", args: "--role=legacy --dir=/h --restart-policy=Never -- proxy", setup: []setup{seen, claim("legacy")},
			onWait: func(n int, f *fakeSys) {
				if n == 2 {
					ack(f)
				}
			},
			code: 0, start: true, childSigs: "terminated,kill", waits: 3, log: "Exit0Now: the native twin acts; restartPolicy Never",
			files: "ack: sidecarkit-handshake/1 ack probed <sb>\nclaim-<sb>: sidecarkit-handshake/1 claim legacy <sb>\nhandover-<sb>: sidecarkit-handshake/1 handover native <sb>\nnative: sidecarkit-handshake/1 native seen <sb>\n",
		},
		{
			name: "legacy/hands-over/always", args: "--role=legacy --dir=/h --restart-policy=Always -- proxy", setup: []setup{seen, claim("legacy")},
			onWait: func(n int, f *fakeSys) {
				if n == 1 {
					ack(f)
				}
			},
			signalOn: "StandBy", code: 0, start: true, childSigs: "terminated,kill", waits: 2, log: "HandOver: this twin acts in this sandbox and the kubelet probed the native twin here",
		},
		{
			name: "legacy/hands-over/kills", args: "--role=legacy --dir=/h --restart-policy=OnFailure --handover-grace=10s -- proxy", setup: []setup{seen, claim("legacy")}, ignoreTerms: 1,
			onWait: func(n int, f *fakeSys) {
				if n == 1 {
					ack(f)
				}
			},
			code: 0, start: true, childSigs: "terminated,kill,kill", waits: 2, log: "did not exit within 10s of SIGTERM: killing it",
		},
		{
			name: "legacy/sigterm-while-handing-over", args: "--role=legacy --dir=/h --restart-policy=Always -- proxy", setup: []setup{seen, claim("legacy")}, ignoreTerms: 1,
			onWait: func(n int, f *fakeSys) {
				switch n {
				case 1:
					ack(f)
				case 2: // the kubelet stops the twin during the handover's grace
					f.sigs <- syscall.SIGTERM
				}
			},
			code: 0, start: true, childSigs: "terminated,terminated,kill", waits: 2, log: "terminated while handing over: exiting 0",
			files: "ack: sidecarkit-handshake/1 ack probed <sb>\nclaim-<sb>: sidecarkit-handshake/1 claim legacy <sb>\nhandover-<sb>: sidecarkit-handshake/1 handover native <sb>\nnative: sidecarkit-handshake/1 native seen <sb>\n",
		},
		{
			name: "legacy/restarted-after-the-probe", args: "--role=legacy --dir=/h --restart-policy=OnFailure -- proxy", setup: []setup{seen, claim("legacy"), ack},
			code: 0, log: "handed over to the native twin",
			files: "ack: sidecarkit-handshake/1 ack probed <sb>\nclaim-<sb>: sidecarkit-handshake/1 claim legacy <sb>\nhandover-<sb>: sidecarkit-handshake/1 handover native <sb>\nnative: sidecarkit-handshake/1 native seen <sb>\n",
		},
		{
			name: "legacy/handed-over", args: "--role=legacy --dir=/h -- proxy", setup: []setup{seen, claim("legacy"), ack, handover}, signal: true,
			code: 0, log: "StandBy: the native twin acts",
		},
		{
			name: "legacy/standby", args: "--role=legacy --dir=/h --restart-policy=Always -- proxy", setup: []setup{claim("native")}, signal: true,
			code: 0, log: "StandBy: the native twin acts",
		},
		{
			name: "legacy/job", args: "--role=legacy --dir=/h --restart-policy=OnFailure -- proxy", setup: []setup{claim("native")},
			code: 0, log: "Exit0Now: the native twin acts; restartPolicy OnFailure",
		},
		{
			name: "legacy/waits-for-native", args: "--role=legacy --dir=/h -- proxy", setup: []setup{ack},
			onWait: func(n int, f *fakeSys) {
				if n == 2 {
					claim("native")(f)
				}
			},
			signalOn: "StandBy", code: 0, waits: 2, log: "StandBy",
		},
		{
			name: "legacy/corrupt-claim", args: "--role=legacy --dir=/h -- proxy", setup: []setup{func(f *fakeSys) { f.files[protocol.ClaimFile(f.key())] = "garbage" }},
			onWait: exitAt(1, 0), code: 0, start: true, childSigs: "kill", waits: 1, log: "read as a legacy claim",
		},
		{
			name: "native/corrupt-marker", args: "--role=native --dir=/h -- proxy", setup: []setup{func(f *fakeSys) { f.files["native"] = "\x00\x01" }},
			code: 0, log: "warning: native: universal: not a handshake marker", files: "native: sidecarkit-handshake/1 native seen <sb>\n",
		},
		{
			name: "legacy/lost-race", args: "--role=legacy --dir=/h -- proxy", setup: []setup{seen, func(f *fakeSys) { f.claimRace = "native" }}, signal: true,
			code: 0, log: "StandBy",
		},
		{
			name: "legacy/early", args: "--role=legacy --dir=/h --restart-policy=Never -- proxy",
			onWait: func(n int, f *fakeSys) {
				if n == 2 {
					claim("native")(f)
				}
			},
			code: 0, waits: 2, log: "RecordEarlyAndWait: the native twin has not run in this sandbox yet",
			files: "claim-<sb>: sidecarkit-handshake/1 claim native <sb>\nearly: sidecarkit-handshake/1 early started <sb>\n",
		},
		{
			name: "legacy/not-found", args: "--role=legacy --dir=/h -- missing", setup: []setup{seen}, code: 127, err: "exec missing: file does not exist in $PATH",
		},
		{
			name: "legacy/path", args: "--role=legacy --dir=/h -- /opt/proxy", setup: []setup{seen}, onWait: exitAt(1, 0), code: 0, start: true, childSigs: "kill", waits: 1,
		},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			for _, s := range tc.setup {
				s(f)
			}
			f.onWait, f.ignoreTerms = tc.onWait, tc.ignoreTerms
			if tc.signal && tc.onWait == nil {
				f.sigs <- syscall.SIGTERM
			}
			var log logBuf
			if tc.signalOn != "" {
				go func() {
					for !strings.Contains(log.String(), tc.signalOn) {
						time.Sleep(time.Millisecond)
					}
					f.sigs <- syscall.SIGTERM
				}()
			}
			r := handshake.Runner{System: f, Env: []string{"PATH=/usr/bin:/bin", "X=1"}, Stderr: &log}
			c, err := handshake.Parse(strings.Fields(tc.args), func(string) string { return "" })
			must(t, err)
			code, err := r.Run(context.Background(), c)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (err %v)", code, tc.code, err)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want %q", err, tc.err)
			}
			if got := len(f.execs) > 0; got != tc.exec {
				t.Errorf("exec'd %v, want %v", f.execs, tc.exec)
			}
			if tc.exec && !cmp.Equal(f.execs[0][1:], c.Argv) {
				t.Errorf("exec'd %q, want %q", f.execs[0][1:], c.Argv)
			}
			if got := len(f.starts) > 0; got != tc.start {
				t.Errorf("started %v, want %v", f.starts, tc.start)
			}
			if tc.start && (!cmp.Equal(f.starts[0][1:], c.Argv) || tc.name == "legacy/path" && f.starts[0][0] != "/opt/proxy") {
				t.Errorf("started %q, want %q", f.starts[0], c.Argv)
			}
			if got := f.child.signals(); got != tc.childSigs {
				t.Errorf("the sidecar got signals %q, want %q", got, tc.childSigs)
			}
			if f.waits != tc.waits {
				t.Errorf("waited %d times, want %d", f.waits, tc.waits)
			}
			if tc.files != "" {
				if diff := cmp.Diff(tc.files, f.dump()); diff != "" {
					t.Errorf("files (-want +got)\n%s", diff)
				}
			}
			if !strings.Contains(log.String(), tc.log) {
				t.Errorf("log %q, want it to contain %q", log.String(), tc.log)
			}
		})
	}
}

// TestRunIdentityFailure: a twin that cannot read the sandbox identity
// neither acts nor waits: it tries again, then exits ExitIdentity with
// the reason in its termination message, and writes no marker.
func TestRunIdentityFailure(t *testing.T) {
	for _, role := range []string{"native", "legacy"} {
		t.Run(role, func(t *testing.T) {
			f := newFake()
			f.sbErr = errors.New("network namespace cookie: getsockopt SO_NETNS_COOKIE: no buffer space available")
			var log logBuf
			r := handshake.Runner{System: f, Stderr: &log}
			code := r.Main([]string{"--role=" + role, "--dir=/h", "--termination-log=/tl", "--", "proxy"})
			if code != handshake.ExitIdentity {
				t.Fatalf("exit %d, want %d; log %q", code, handshake.ExitIdentity, log.String())
			}
			if len(f.execs) > 0 || len(f.files) > 0 {
				t.Errorf("acted without an identity: execs %v, files %v", f.execs, f.dump())
			}
			msg := f.termMsg["/tl"]
			for _, want := range []string{"cannot establish the sandbox identity", "no buffer space available", "exiting 3"} {
				if !strings.Contains(msg, want) {
					t.Errorf("termination message %q lacks %q", msg, want)
				}
			}
			if n := strings.Count(log.String(), "attempt"); n != 2 {
				t.Errorf("%d retries logged, want 2: %q", n, log.String())
			}
		})
	}
}

// TestRunIdentityTransient: a read that fails once and then works is
// not a failure.
func TestRunIdentityTransient(t *testing.T) {
	f := newFake()
	f.sbErrs = []error{errors.New("boot id: interrupted system call")}
	var log logBuf
	r := handshake.Runner{System: f, Stderr: &log}
	if code := r.Main([]string{"--role=native", "--dir=/h", "--sandbox-token=/dev/shm", "--", "proxy"}); code != 0 {
		t.Fatalf("exit %d; log %q", code, log.String())
	}
	if len(f.tokens) != 2 || f.tokens[0] != "/dev/shm" {
		t.Errorf("token directories asked for: %q, want /dev/shm twice", f.tokens)
	}
	if !strings.Contains(log.String(), "attempt 1 of 3") {
		t.Errorf("log %q", log.String())
	}
}

// TestProbeIdentityFailure: a probe that cannot read the identity fails
// and records no ack.
func TestProbeIdentityFailure(t *testing.T) {
	f := newFake()
	f.sbErr = errors.New("uts namespace: permission denied")
	var log logBuf
	r := handshake.Runner{System: f, Stderr: &log}
	if code := r.Main([]string{"probe", "--role=native", "--dir=/h", "--type=startup"}); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if len(f.files) > 0 || len(f.termMsg) > 0 {
		t.Errorf("probe wrote %v / termination message %v", f.dump(), f.termMsg)
	}
	if !strings.Contains(log.String(), "cannot establish the sandbox identity") {
		t.Errorf("log %q", log.String())
	}
}

func TestMainUsage(t *testing.T) {
	var log logBuf
	r := handshake.Runner{System: newFake(), Stderr: &log}
	if code := r.Main([]string{"--role=sidecar"}); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(log.String(), "usage:") {
		t.Errorf("no usage in %q", log.String())
	}
}

func TestProbeAndHook(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ready":
			if r.Header.Get("X-Probe") != "1" || r.Host != "example.test" {
				w.WriteHeader(http.StatusBadRequest)
			}
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	realDial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	type setup func(f *fakeSys)
	claim := func(role string) setup {
		return func(f *fakeSys) { f.put(protocol.ClaimFile(f.key()), marker(protocol.KindClaim, role, f.key())) }
	}
	// nativeActsAfter makes the native twin claim at the n-th wait.
	nativeActsAfter := func(n int) setup {
		return func(f *fakeSys) {
			f.onWait = func(i int, f *fakeSys) {
				if i == n {
					claim("native")(f)
				}
			}
		}
	}
	legacyClaimsAtFirstWait := func(f *fakeSys) {
		f.onWait = func(i int, f *fakeSys) {
			if i == 1 {
				claim("legacy")(f)
			}
		}
	}
	cases := []struct {
		name    string
		args    string
		setup   setup
		code    int
		runs    int
		ackFile bool
		// waits is the number of clock waits; -1 skips the check.
		waits int
	}{
		// The native startup probe records the ack and waits, within
		// ProbeWait, for the native twin to act, so that it passes in the
		// same call.
		{name: "native-startup-waits-for-the-twin", args: "probe --role=native --dir=/h --type=startup", setup: nativeActsAfter(3), code: 0, ackFile: true, waits: 3},
		{name: "native-startup-gives-up-after-ProbeWait", args: "probe --role=native --dir=/h --type=startup", code: 1, ackFile: true, waits: int(handshake.ProbeWait / (50 * time.Millisecond))},
		// When the legacy twin acts, the native twin stands by on a native
		// kubelet (an in-place upgrade, a lost directory): its startup
		// probe passes, so that Init proceeds and the Pod gets Ready.
		{name: "native-startup-passes-once-the-legacy-twin-claims", args: "probe --role=native --dir=/h --type=startup", setup: legacyClaimsAtFirstWait, code: 0, ackFile: true, waits: 1},
		{name: "native-startup-passes-when-the-legacy-twin-acts", args: "probe --role=native --dir=/h --type=startup", setup: claim("legacy"), code: 0, ackFile: true, waits: 0},
		{name: "native-startup-with-own-check-no-wait", args: "probe --role=native --dir=/h --type=startup -- /bin/true", code: 1, ackFile: true, waits: 0},

		{name: "native-startup-acting-no-check", args: "probe --role=native --dir=/h --type=startup", setup: claim("native"), code: 0, ackFile: true, waits: -1},
		{name: "native-startup-acting-exec", args: "probe --role=native --dir=/h --type=startup -- /bin/true", setup: claim("native"), code: 7, runs: 1, ackFile: true, waits: -1},
		{name: "legacy-dormant-skips-check", args: "probe --role=legacy --dir=/h --type=liveness -- /bin/true", setup: claim("native"), code: 0, waits: -1},
		{name: "legacy-acting-http-ok", args: "probe --role=legacy --dir=/h --type=readiness --http-get=/ready --host=127.0.0.1 --header=X-Probe:1 --header=Host:example.test --port=" + port, setup: claim("legacy"), code: 0, waits: -1},
		{name: "legacy-acting-http-503", args: "probe --role=legacy --dir=/h --type=readiness --http-get=/down --host=127.0.0.1 --port=" + port, setup: claim("legacy"), code: 1, waits: -1},
		{name: "legacy-acting-http-redirect-passes", args: "probe --role=legacy --dir=/h --type=readiness --http-get=moved --host=127.0.0.1 --port=" + port, setup: claim("legacy"), code: 0, waits: -1},
		{name: "legacy-acting-tcp", args: "probe --role=legacy --dir=/h --type=liveness --tcp-socket --host=127.0.0.1 --port=" + port, setup: claim("legacy"), code: 0, waits: -1},
		{name: "legacy-acting-tcp-refused", args: "probe --role=legacy --dir=/h --type=liveness --tcp-socket --host=127.0.0.1 --port=1", setup: claim("legacy"), code: 1, waits: -1},
		{name: "legacy-undecided-readiness", args: "probe --role=legacy --dir=/h --type=readiness -- /bin/true", code: 1, waits: -1},
		{name: "hook-skipped-when-dormant", args: "hook --role=legacy --dir=/h -- /bin/true", setup: claim("native"), code: 0, waits: -1},
		{name: "hook-runs-when-acting", args: "hook --role=native --dir=/h -- /bin/true", setup: claim("native"), code: 7, runs: 1, waits: -1},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.runCode = 7
			f.dial = realDial
			if tc.setup != nil {
				tc.setup(f)
			}
			r := handshake.Runner{System: f}
			if code := r.Main(strings.Fields(tc.args)); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if len(f.runs) != tc.runs {
				t.Errorf("ran %q, want %d runs", f.runs, tc.runs)
			}
			if _, ok := f.files["ack"]; ok != tc.ackFile {
				t.Errorf("ack written: %v, want %v", ok, tc.ackFile)
			}
			if tc.waits >= 0 && f.waits != tc.waits {
				t.Errorf("%d clock waits, want %d", f.waits, tc.waits)
			}
		})
	}
}

func TestInstall(t *testing.T) {
	f := newFake()
	r := handshake.Runner{System: f}
	if code := r.Main([]string{"install", "--to=/h/bin/handshake"}); code != 0 || !cmp.Equal(f.installs, []string{"/h/bin/handshake"}) {
		t.Errorf("install: exit %d, installs %q", code, f.installs)
	}
}

func TestLookPathSkipsNonExecutables(t *testing.T) {
	f := newFake()
	f.put("native", marker(protocol.KindNative, "seen", f.key())) // an old node: the legacy twin acts
	f.exes = map[string]bool{"/b/proxy": true}
	f.onWait = func(int, *fakeSys) { f.child.exit(0) }
	r := handshake.Runner{System: f, Env: []string{"PATH=/a:/b"}}
	code, err := r.Run(context.Background(), handshake.Config{Command: handshake.CommandRun, Role: protocol.Legacy, Dir: "/h", ConfirmTimeout: 1, PollInterval: 1, HandoverGrace: 1, Argv: []string{"proxy"}})
	if code != 0 || len(f.starts) != 1 || f.starts[0][0] != "/b/proxy" {
		t.Errorf("exit %d %v, started %q", code, err, f.starts)
	}
}
