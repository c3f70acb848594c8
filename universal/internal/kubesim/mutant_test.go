package kubesim

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// naive is the protocol of the website tutorial "Adopting Sidecar
// Containers" (third strategy): one file, no sandbox scope, no claim, no
// startup probe. The native twin records its first run and exits 0, runs
// when it finds the file, and marks it "running"; the legacy twin stands
// by (or exits 0) when the file says running and runs otherwise.
type naive struct{}

const naiveFile = "tutorial"

func (naive) read(d protocol.Dir) string {
	b, _ := d.ReadFile(naiveFile)
	return string(b)
}

func (n naive) Next(d protocol.Dir, in protocol.Input) (protocol.Decision, error) {
	m := n.read(d)
	switch {
	case in.Role == protocol.Native && m == "":
		return protocol.Decision{Action: protocol.RecordAndExit0}, nil
	case in.Role == protocol.Native:
		return protocol.Decision{Action: protocol.Run, Claim: true}, nil
	case m == "running" && in.RestartPolicy == corev1.RestartPolicyAlways:
		return protocol.Decision{Action: protocol.StandBy}, nil
	case m == "running":
		return protocol.Decision{Action: protocol.Exit0Now}, nil
	}
	return protocol.Decision{Action: protocol.Run}, nil
}

func (naive) Claim(d protocol.Dir, _ string, role protocol.Role) (bool, error) {
	return true, d.WriteFile(naiveFile, []byte("running"))
}

func (naive) RecordSeen(d protocol.Dir, _ string) error {
	return d.WriteFile(naiveFile, []byte("first-run"))
}

func (naive) RecordEarly(protocol.Dir, string) error { return nil }

func (naive) RecordHandover(protocol.Dir, string) error { return nil }

func (naive) Identify(sb protocol.Sandbox, _ error) (string, error) { return sb.Key(), nil }

func (n naive) Probe(d protocol.Dir, _ string) (protocol.Verdict, error) {
	if n.read(d) == "running" {
		return protocol.Check, nil
	}
	return protocol.Fail, nil
}

// mutant is the production protocol with one rule changed.
type mutant struct {
	Protocol
	// next changes a decision; in.Markers holds what the twin observed.
	next func(in protocol.Input, d protocol.Decision) protocol.Decision
	// nextDir, when set, runs after next with the directory, which it
	// may change.
	nextDir func(dir protocol.Dir, in protocol.Input, d protocol.Decision) (protocol.Decision, error)
	// probe changes a startup probe's verdict, given what it observed.
	probe func(m protocol.Markers, sandbox string, v protocol.Verdict) protocol.Verdict
	// identify, when set, replaces Identify.
	identify func(sb protocol.Sandbox, err error) (string, error)
	sandbox  string // when set, replaces every sandbox key
}

func (m mutant) key(s string) string {
	if m.sandbox != "" {
		return m.sandbox
	}
	return s
}

func (m mutant) Next(d protocol.Dir, in protocol.Input) (protocol.Decision, error) {
	in.Sandbox = m.key(in.Sandbox)
	dec, err := m.Protocol.Next(d, in)
	if err == nil && (m.next != nil || m.nextDir != nil) {
		if in.Markers, err = protocol.Observe(d, in.Sandbox); err != nil {
			return dec, err
		}
		if m.next != nil {
			dec = m.next(in, dec)
		}
		if m.nextDir != nil {
			dec, err = m.nextDir(d, in, dec)
		}
	}
	return dec, err
}

func (m mutant) Claim(d protocol.Dir, sb string, r protocol.Role) (bool, error) {
	return m.Protocol.Claim(d, m.key(sb), r)
}

func (m mutant) RecordSeen(d protocol.Dir, sb string) error {
	return m.Protocol.RecordSeen(d, m.key(sb))
}

func (m mutant) Probe(d protocol.Dir, sb string) (protocol.Verdict, error) {
	v, err := m.Protocol.Probe(d, m.key(sb))
	if err == nil && m.probe != nil {
		var mk protocol.Markers
		if mk, err = protocol.Observe(d, m.key(sb)); err == nil {
			v = m.probe(mk, m.key(sb), v)
		}
	}
	return v, err
}

func (m mutant) Identify(sb protocol.Sandbox, err error) (string, error) {
	if m.identify != nil {
		return m.identify(sb, err)
	}
	return m.Protocol.Identify(sb, err)
}

func (m mutant) RecordEarly(d protocol.Dir, sb string) error {
	return m.Protocol.RecordEarly(d, m.key(sb))
}

func (m mutant) RecordHandover(d protocol.Dir, sb string) error {
	return m.Protocol.RecordHandover(d, m.key(sb))
}

// noConfirmation makes a restarted native twin act without waiting for
// the kubelet's startup probe.
func noConfirmation(in protocol.Input, d protocol.Decision) protocol.Decision {
	if d.Action == protocol.Confirm {
		return protocol.Decision{Action: protocol.Run, Claim: true}
	}
	return d
}

// legacyClaimed reports whether the twin observed a legacy claim of its
// sandbox.
func legacyClaimed(in protocol.Input) bool {
	return in.Markers.Claim.In(in.Sandbox) && in.Markers.Claim.Value == string(protocol.Legacy)
}

// noHandover is the legacy twin's rule before the handover: it acts on
// in its sandbox whatever the kubelet does with the native twin.
func noHandover(in protocol.Input, d protocol.Decision) protocol.Decision {
	if d.Action == protocol.HandOver {
		return protocol.Decision{Action: protocol.Run}
	}
	return d
}

// stepAside is the native twin's rule before the upgrade family: exit 0
// at once on a legacy claim.
func stepAside(in protocol.Input, d protocol.Decision) protocol.Decision {
	if in.Role == protocol.Native && legacyClaimed(in) {
		return protocol.Decision{Action: protocol.Exit0Now}
	}
	return d
}

// failOnLegacyClaim is the startup probe's rule before the upgrade
// family: fail while the legacy twin acts.
func failOnLegacyClaim(m protocol.Markers, sb string, v protocol.Verdict) protocol.Verdict {
	if m.Claim.In(sb) && m.Claim.Value == string(protocol.Legacy) {
		return protocol.Fail
	}
	return v
}

// oneShotProbe is the production protocol with a startup probe that
// passes at most once per sandbox: it records that it passed ("started")
// and fails when it finds that record, on the belief that the kubelet
// never probes a started sidecar again.
type oneShotProbe struct{ Protocol }

func (o oneShotProbe) Probe(d protocol.Dir, sb string) (protocol.Verdict, error) {
	v, err := o.Protocol.Probe(d, sb)
	if err != nil || v == protocol.Fail {
		return v, err
	}
	name := "started-" + sb
	if _, err := d.ReadFile(name); err == nil {
		return protocol.Fail, nil
	}
	return v, d.CreateFile(name, []byte("started"))
}

// TestCheckerCatches shows that the exploration finds the hazards each rule
// of the protocol is there to close: the protocol with that rule removed
// (or the tutorial's protocol) violates the property the rule protects.
func TestCheckerCatches(t *testing.T) {
	never, onFailure := corev1.RestartPolicyNever, corev1.RestartPolicyOnFailure
	cases := []struct {
		name, reason string
		cfg          Config
		want         string
		// without, when set, takes the event that the case is about out
		// of cfg: the same protocol then passes, so that the event is what
		// the checker needs to catch it.
		without func(*Config)
	}{
		{
			name:   "tutorial/old-node-recreation",
			reason: "the tutorial's marker is not scoped to the sandbox: after a re-creation the native twin runs the sidecar as an init container and Init hangs",
			cfg:    Config{Kind: Strip, Recreations: 1, Protocol: naive{}, NoStartupProbe: true},
			want:   PropStuckInit,
		},
		{
			name:   "tutorial/native-race",
			reason: "without a startup probe the kubelet starts the legacy twin before the native twin's restart: both run",
			cfg:    Config{Kind: Native, Protocol: naive{}, NoStartupProbe: true},
			want:   PropTwoRun,
		},
		{
			name:   "no-startup-probe",
			reason: "our protocol without the startup probe: no twin runs twice (the claim), but the application starts before the native twin acts",
			cfg:    Config{Kind: Native, NoStartupProbe: true},
			want:   PropAppFirst,
		},
		{
			name:   "no-startup-probe/job",
			reason: "…and the legacy twin acts on a native node, so a Job Pod never completes",
			cfg:    Config{Kind: Native, RestartPolicy: never, NoStartupProbe: true},
			want:   PropJobStuck,
		},
		{
			name:   "no-confirmation",
			reason: "a restarted native twin that acts without waiting for the probe hangs Init on an old node whose re-created sandbox has the old identity",
			cfg:    Config{Kind: Strip, Recreations: 1, Protocol: mutant{Protocol: Production(), next: noConfirmation}},
			want:   PropStuckInit,
		},
		{
			name:   "no-confirmation/crash",
			reason: "…and after a crash of the native twin once it recorded its run (an old kubelet restarts a failed init container)",
			cfg:    Config{Kind: Strip, Faults: 1, Protocol: mutant{Protocol: Production(), next: noConfirmation}},
			want:   PropStuckInit,
		},
		{
			name:   "unscoped-markers",
			reason: "markers without the sandbox identity make every re-creation on an old node wait for the confirmation timeout",
			cfg:    Config{Kind: Strip, Recreations: 1, ExtraInit: true, Protocol: mutant{Protocol: Production(), sandbox: key(7)}},
			want:   PropOldWait,
		},
		{
			name:   "legacy-always-stands-by",
			reason: "a dormant legacy twin that stands by under restartPolicy Never keeps a Job Pod running",
			cfg: Config{Kind: Native, RestartPolicy: never, Protocol: mutant{Protocol: Production(), next: func(in protocol.Input, d protocol.Decision) protocol.Decision {
				if d.Action == protocol.Exit0Now && in.Role == protocol.Legacy {
					return protocol.Decision{Action: protocol.StandBy}
				}
				return d
			}}},
			want:    PropJobStuck,
			without: func(c *Config) { c.RestartPolicy = corev1.RestartPolicyAlways },
		},
		{
			name:   "legacy-does-not-wait",
			reason: "on kubelets 1.29 to 1.36 a re-created sandbox starts the legacy twin early (the ordinary init container's status of the old sandbox counts); if it acts instead of waiting for the native twin, it acts on a native node (until it hands over)",
			cfg: Config{Kind: NativeStaleInit, RestartPolicy: onFailure, Recreations: 1, ExtraInit: true, Protocol: mutant{Protocol: Production(), next: func(in protocol.Input, d protocol.Decision) protocol.Decision {
				if d.Action == protocol.Confirm && in.Role == protocol.Legacy {
					return protocol.Decision{Action: protocol.Run, Claim: true}
				}
				return d
			}}},
			want: PropLegacyNeedless,
		},
		{
			name:    "native-steps-aside-on-legacy-claim",
			reason:  "the protocol before the upgrade family: a native twin exits 0 on a legacy claim and its startup probe fails; after an in-place upgrade from an old kubelet (the legacy twin acts), the new kubelet restarts it forever and the Pod never gets Ready",
			cfg:     Config{Kind: Strip, Upgrade: true, To: Native, Protocol: mutant{Protocol: Production(), next: stepAside, probe: failOnLegacyClaim}},
			want:    PropNotReady,
			without: func(c *Config) { c.Upgrade = false },
		},
		{
			name:    "legacy-does-not-hand-over",
			reason:  "the protocol before the handover: after an in-place upgrade from an old kubelet the legacy twin keeps acting, and a Job Pod never completes",
			cfg:     Config{Kind: Strip, RestartPolicy: never, Upgrade: true, To: Native, Protocol: mutant{Protocol: Production(), next: noHandover}},
			want:    PropJobStuck,
			without: func(c *Config) { c.Upgrade = false },
		},
		{
			name:    "legacy-does-not-hand-over/lost-directory",
			reason:  "…and after a 1.28 kubelet started the legacy twin early in a re-created sandbox whose handshake directory was emptied",
			cfg:     Config{Kind: Native128, RestartPolicy: onFailure, Recreations: 1, Losses: 1, Protocol: mutant{Protocol: Production(), next: noHandover}},
			want:    PropJobStuck,
			without: func(c *Config) { c.Losses = 0 },
		},
		{
			name:   "handover-keeps-the-sidecar",
			reason: "a legacy twin that records the handover without stopping its sidecar first: the native twin acts while it still runs",
			cfg: Config{Kind: Strip, Upgrade: true, To: Native, Protocol: mutant{Protocol: Production(), nextDir: func(d protocol.Dir, in protocol.Input, dec protocol.Decision) (protocol.Decision, error) {
				if dec.Action == protocol.HandOver {
					return protocol.Decision{Action: protocol.Run}, protocol.RecordHandover(d, in.Sandbox)
				}
				return dec, nil
			}}},
			want:    PropTwoRun,
			without: func(c *Config) { c.Upgrade = false },
		},
		{
			name:   "native-does-not-wait-for-the-handover",
			reason: "a native twin that acts once probed where the legacy twin acts, without waiting for its handover: both run",
			cfg: Config{Kind: Strip, Upgrade: true, To: Native, Protocol: mutant{Protocol: Production(), next: func(in protocol.Input, d protocol.Decision) protocol.Decision {
				if in.Role == protocol.Native && legacyClaimed(in) && in.Markers.Ack.In(in.Sandbox) {
					return protocol.Decision{Action: protocol.Run}
				}
				return d
			}}},
			want:    PropTwoRun,
			without: func(c *Config) { c.Upgrade = false },
		},
		{
			name:   "handover-without-a-probe",
			reason: "a legacy twin that hands over without the kubelet's probe of the native twin in its sandbox, the proof that the native twin will act: on an old node no twin acts any more",
			cfg: Config{Kind: Strip, Protocol: mutant{Protocol: Production(), next: func(in protocol.Input, d protocol.Decision) protocol.Decision {
				if in.Role == protocol.Legacy && d.Action == protocol.Run && !d.Claim {
					return protocol.Decision{Action: protocol.HandOver}
				}
				return d
			}}},
			want: PropNoRecovery,
		},
		{
			name:    "native-exits-on-legacy-claim",
			reason:  "a native twin that exits 0 at once on a legacy claim loops through the restarts of the native kubelet that took over after an in-place upgrade (its probe passing or not)",
			cfg:     Config{Kind: Strip, Upgrade: true, To: Native, Protocol: mutant{Protocol: Production(), next: stepAside}},
			want:    PropLoop,
			without: func(c *Config) { c.Upgrade = false },
		},
		{
			name:   "native-does-not-wait-on-legacy-claim",
			reason: "…and one that exits 0 on a legacy claim before the probe came, instead of waiting for it or the confirmation timeout",
			cfg: Config{Kind: Strip, Upgrade: true, To: Native, Protocol: mutant{Protocol: Production(), next: func(in protocol.Input, d protocol.Decision) protocol.Decision {
				if in.Role == protocol.Native && legacyClaimed(in) && d.Action == protocol.Confirm {
					return protocol.Decision{Action: protocol.Exit0Now}
				}
				return d
			}}},
			want:    PropLoop,
			without: func(c *Config) { c.Upgrade = false },
		},
		{
			name:    "startup-probe-fails-on-legacy-claim",
			reason:  "a native twin that stands by while the legacy twin acts needs its startup probe to pass, else the Pod never gets Ready after an in-place upgrade",
			cfg:     Config{Kind: Strip, Upgrade: true, To: Native, Protocol: mutant{Protocol: Production(), probe: failOnLegacyClaim}},
			want:    PropNotReady,
			without: func(c *Config) { c.Upgrade = false },
		},
		{
			name:    "startup-probe-fails-on-legacy-claim/lost-directory",
			reason:  "…and after a 1.28 kubelet starts the legacy twin early in a sandbox whose handshake directory was emptied",
			cfg:     Config{Kind: Native128, Recreations: 1, Losses: 1, Protocol: mutant{Protocol: Production(), probe: failOnLegacyClaim}},
			want:    PropNotReady,
			without: func(c *Config) { c.Losses = 0 },
		},
		{
			name:   "legacy-does-not-record-early",
			reason: "a 1.28 kubelet starts the legacy twin before the native twin in a re-created sandbox (its earlier status counts); with the directory emptied there is no ack to prove a native node, so a legacy twin that does not record its early start acts on a native node (until it hands over)",
			cfg: Config{Kind: Native128, RestartPolicy: onFailure, Recreations: 1, Losses: 1, Protocol: mutant{Protocol: Production(), next: func(in protocol.Input, d protocol.Decision) protocol.Decision {
				if d.Action == protocol.RecordEarlyAndWait {
					return protocol.Decision{Action: protocol.Run, Claim: true}
				}
				return d
			}}},
			want:    PropLegacyNeedless,
			without: func(c *Config) { c.Losses = 0 },
		},
		{
			name:   "identity-carries-on",
			reason: "a twin that carries on with a partly read identity (the cookie unreadable) computes another key than its twin: the legacy twin of a Job Pod waits for a native twin that acts under the other key, forever",
			cfg: Config{Kind: Native, RestartPolicy: onFailure, Faults: 1, IdentityFaults: true, Protocol: mutant{Protocol: Production(), identify: func(sb protocol.Sandbox, _ error) (string, error) {
				return sb.Key(), nil
			}}},
			want:    PropJobStuck,
			without: func(c *Config) { c.IdentityFaults = false },
		},
		{
			name:    "startup-probe-passes-once/kubelet-restart",
			reason:  "a kubelet restart (1.34 and earlier; later ones seed a started sidecar's result) forgets the startup probe's result and probes the acting native twin again: a probe that passes only once per sandbox then fails for good, and the Pod never gets Ready again",
			cfg:     Config{Kind: Native, KubeletRestarts: 1, Protocol: oneShotProbe{Production()}},
			want:    PropNotReady,
			without: func(c *Config) { c.KubeletRestarts = 0 },
		},
		{
			name:    "startup-probe-passes-once/kubelet-restart/1.28-job",
			reason:  "…likewise on a 1.28 kubelet with the gate on, which keeps no startup result across its restart: a Job Pod never completes",
			cfg:     Config{Kind: Native128, RestartPolicy: onFailure, KubeletRestarts: 1, Protocol: oneShotProbe{Production()}},
			want:    PropJobStuck,
			without: func(c *Config) { c.KubeletRestarts = 0 },
		},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			if tc.reason == "" {
				t.Fatal("every case needs a reason")
			}
			if tc.without != nil {
				cfg := tc.cfg
				tc.without(&cfg)
				res, err := Explore(cfg)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range res.Violations {
					if strings.HasPrefix(v.Property, tc.want) {
						t.Errorf("%s: without the event the case is about, the protocol already violates %q: %s", cfg, tc.want, v)
					}
				}
			}
			res, err := Explore(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range res.Violations {
				if strings.HasPrefix(v.Property, tc.want) {
					t.Logf("%d states; found as expected: %s", res.States, v)
					return
				}
			}
			t.Errorf("%s: want a violation of %q (%s); got %v", tc.cfg, tc.want, tc.reason, res.Violations)
		})
	}
}

// TestKnownLimits shows what no protocol of the pair can prevent, so that
// the documented limits (docs/universal.md) stay true: a change of the
// model that made one of them disappear fails here.
func TestKnownLimits(t *testing.T) {
	never := corev1.RestartPolicyNever
	cases := []struct {
		name, reason string
		cfg          Config
		want         string
	}{
		{
			name:   "idle-legacy-crash-fails-a-never-pod",
			reason: "under restartPolicy Never a crash of the idle legacy twin, a regular container, fails the Pod although the native twin serves it",
			cfg:    Config{Kind: Native, RestartPolicy: never, Faults: 1, CheckDormant: true},
			want:   PropDormantFailed,
		},
		{
			name:   "kubernetes#136910",
			reason: "a kubelet restart that neither seeds nor probes a started sidecar again leaves it unstarted for good",
			cfg:    Config{Kind: Native, KubeletRestarts: 1, Bug136910: true},
			want:   PropNotReady,
		},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			res, err := Explore(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range res.Violations {
				if v.Property == tc.want {
					t.Logf("%d states; found as expected: %s", res.States, v)
					return
				}
			}
			t.Errorf("%s: want a violation of %q (%s); got %v", tc.cfg, tc.want, tc.reason, res.Violations)
		})
	}
}
