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

func (n naive) Probe(d protocol.Dir, _ string) (protocol.Verdict, error) {
	if n.read(d) == "running" {
		return protocol.Check, nil
	}
	return protocol.Fail, nil
}

// mutant is the production protocol with one rule changed.
type mutant struct {
	Protocol
	next    func(in protocol.Input, d protocol.Decision) protocol.Decision
	sandbox string // when set, replaces every sandbox key
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
	if err == nil && m.next != nil {
		dec = m.next(in, dec)
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
	return m.Protocol.Probe(d, m.key(sb))
}

func (m mutant) RecordEarly(d protocol.Dir, sb string) error {
	return m.Protocol.RecordEarly(d, m.key(sb))
}

// noConfirmation makes a restarted native twin act without waiting for
// the kubelet's startup probe.
func noConfirmation(in protocol.Input, d protocol.Decision) protocol.Decision {
	if d.Action == protocol.Confirm {
		return protocol.Decision{Action: protocol.Run, Claim: true}
	}
	return d
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
			want: PropJobStuck,
		},
		{
			name:   "legacy-does-not-wait",
			reason: "on kubelets 1.29 to 1.36 a re-created sandbox starts the legacy twin early; if it acts instead of waiting for the native twin, a Job Pod never completes",
			cfg: Config{Kind: NativeStaleInit, RestartPolicy: onFailure, Recreations: 1, Protocol: mutant{Protocol: Production(), next: func(in protocol.Input, d protocol.Decision) protocol.Decision {
				if d.Action == protocol.Confirm && in.Role == protocol.Legacy {
					return protocol.Decision{Action: protocol.Run, Claim: true}
				}
				return d
			}}},
			want: PropJobStuck,
		},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			if tc.reason == "" {
				t.Fatal("every case needs a reason")
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
