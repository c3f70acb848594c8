package protocol_test

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

func mk(k protocol.Kind, v, sb string) protocol.Marker {
	return protocol.Marker{Kind: k, Value: v, Sandbox: sb}
}

var (
	seenA        = mk(protocol.KindNative, protocol.ValueSeen, sbA)
	seenB        = mk(protocol.KindNative, protocol.ValueSeen, sbB)
	ackA         = mk(protocol.KindAck, protocol.ValueProbed, sbA)
	ackB         = mk(protocol.KindAck, protocol.ValueProbed, sbB)
	claimNativeA = mk(protocol.KindClaim, "native", sbA)
	claimLegacyA = mk(protocol.KindClaim, "legacy", sbA)
	earlyA       = mk(protocol.KindEarly, protocol.ValueStarted, sbA)
	earlyB       = mk(protocol.KindEarly, protocol.ValueStarted, sbB)
	handoverA    = mk(protocol.KindHandover, "native", sbA)
	handoverB    = mk(protocol.KindHandover, "native", sbB)
)

// TestDecide covers every rule of Decide; the current sandbox is sbA.
func TestDecide(t *testing.T) {
	const (
		always    = corev1.RestartPolicyAlways
		onFailure = corev1.RestartPolicyOnFailure
		never     = corev1.RestartPolicyNever
	)
	type m = protocol.Markers
	cases := []struct {
		name, reason string
		role         protocol.Role
		policy       corev1.RestartPolicy
		phase        protocol.Phase
		markers      m
		want         protocol.Action
		claim        bool
	}{
		{name: "native/first-run", reason: "nothing recorded: record and exit 0 (an old kubelet proceeds, a new one restarts)", role: protocol.Native, want: protocol.RecordAndExit0},
		{name: "native/stale-marker", reason: "a marker of another sandbox is a re-creation's leftover: a first run", role: protocol.Native, markers: m{Native: seenB}, want: protocol.RecordAndExit0},
		{name: "native/restart", reason: "a restart in the same sandbox waits for the probe", role: protocol.Native, markers: m{Native: seenA}, want: protocol.Confirm},
		{name: "native/restart-never", reason: "the Pod's restartPolicy does not matter to the native twin", role: protocol.Native, policy: never, markers: m{Native: seenA}, want: protocol.Confirm},
		{name: "native/ack-earlier-sandbox", reason: "an ack of an earlier sandbox proves a native node: skip the exit-0 run", role: protocol.Native, markers: m{Native: seenB, Ack: ackB}, want: protocol.Confirm},
		{name: "native/confirming", role: protocol.Native, phase: protocol.Confirming, markers: m{Native: seenA}, want: protocol.Confirm},
		{name: "native/confirmed", reason: "the probe acknowledged: claim and run", role: protocol.Native, phase: protocol.Confirming, markers: m{Native: seenA, Ack: ackA}, want: protocol.Run, claim: true},
		{name: "native/ack-first-run", reason: "the probe acknowledged an earlier run of this sandbox", role: protocol.Native, markers: m{Ack: ackA}, want: protocol.Run, claim: true},
		{name: "native/timed-out", reason: "no probe: an old kubelet; exit 0", role: protocol.Native, phase: protocol.TimedOut, markers: m{Native: seenA}, want: protocol.Exit0Now},
		{name: "native/timed-out-ack", reason: "an ack that comes at the deadline still counts", role: protocol.Native, phase: protocol.TimedOut, markers: m{Native: seenA, Ack: ackA}, want: protocol.Run, claim: true},
		{name: "native/acting-restart", reason: "the kubelet restarted the acting native twin", role: protocol.Native, markers: m{Native: seenA, Ack: ackA, Claim: claimNativeA}, want: protocol.Run},
		{name: "native/early-earlier-sandbox", reason: "an early marker of an earlier sandbox proves a native node too", role: protocol.Native, markers: m{Native: seenB, Early: earlyB}, want: protocol.Confirm},
		{name: "native/early-first-run", reason: "the legacy twin started before this twin's first run ended: a native node", role: protocol.Native, markers: m{Early: earlyA}, want: protocol.Confirm},
		{name: "native/legacy-acts-probed", reason: "the legacy twin acts and the kubelet probed this twin here: a native kubelet took over (an upgrade, a lost directory): wait for the legacy twin to hand over, never a second actor", role: protocol.Native, markers: m{Native: seenA, Ack: ackA, Claim: claimLegacyA}, want: protocol.Confirm},
		{name: "native/legacy-acts-probed-confirming", role: protocol.Native, phase: protocol.Confirming, markers: m{Ack: ackA, Claim: claimLegacyA}, want: protocol.Confirm},
		{name: "native/legacy-acts-probed-timed-out", reason: "the wait for the handover has no deadline: a native kubelet would restart a twin that exits", role: protocol.Native, phase: protocol.TimedOut, markers: m{Ack: ackA, Claim: claimLegacyA}, want: protocol.Confirm},
		{name: "native/handed-over", reason: "the legacy twin handed the sandbox over: act (the legacy claim counts for this twin)", role: protocol.Native, phase: protocol.Confirming, markers: m{Native: seenA, Ack: ackA, Claim: claimLegacyA, Handover: handoverA}, want: protocol.Run},
		{name: "native/handed-over-timed-out", role: protocol.Native, phase: protocol.TimedOut, markers: m{Ack: ackA, Claim: claimLegacyA, Handover: handoverA}, want: protocol.Run},
		{name: "native/handover-earlier-sandbox", reason: "a handover of another sandbox does not count", role: protocol.Native, phase: protocol.TimedOut, markers: m{Native: seenA, Claim: claimLegacyA, Handover: handoverB}, want: protocol.Exit0Now},
		{name: "native/legacy-acts", reason: "the legacy twin acts, no probe yet: wait for one (native kubelet) or the timeout (old one)", role: protocol.Native, markers: m{Native: seenA, Claim: claimLegacyA}, want: protocol.Confirm},
		{name: "native/legacy-acts-confirming", role: protocol.Native, phase: protocol.Confirming, markers: m{Native: seenA, Claim: claimLegacyA}, want: protocol.Confirm},
		{name: "native/legacy-acts-earlier-ack", reason: "an ack of an earlier sandbox does not show that this sandbox's kubelet probes", role: protocol.Native, markers: m{Native: seenA, Ack: ackB, Claim: claimLegacyA}, want: protocol.Confirm},
		{name: "native/legacy-acts-unrecorded", reason: "the legacy claim decides before the native twin's own record: without it, still wait, never record and exit 0 beside an acting legacy twin", role: protocol.Native, markers: m{Claim: claimLegacyA}, want: protocol.Confirm},
		{name: "native/legacy-acts-timed-out", reason: "no probe came: an old kubelet, the legacy twin acts: exit 0 so that Init proceeds", role: protocol.Native, phase: protocol.TimedOut, markers: m{Native: seenA, Claim: claimLegacyA}, want: protocol.Exit0Now},
		{name: "legacy/old-node", reason: "no claim, no proof of a native node, the native twin ran here: an old node, act", role: protocol.Legacy, markers: m{Native: seenA}, want: protocol.Run, claim: true},
		{name: "legacy/nothing", reason: "the native twin has not run in this sandbox: only a native kubelet starts this twin then; record it and wait", role: protocol.Legacy, want: protocol.RecordEarlyAndWait},
		{name: "legacy/stale-native", reason: "a native marker of another sandbox does not count", role: protocol.Legacy, markers: m{Native: seenB}, want: protocol.RecordEarlyAndWait},
		{name: "legacy/early-waits", reason: "its own early record makes it wait for the native twin", role: protocol.Legacy, markers: m{Early: earlyA}, want: protocol.Confirm},
		{name: "legacy/early-earlier-sandbox-waits", role: protocol.Legacy, phase: protocol.TimedOut, markers: m{Native: seenA, Early: earlyB}, want: protocol.Confirm},
		{name: "legacy/restart", role: protocol.Legacy, markers: m{Native: seenA, Claim: claimLegacyA}, want: protocol.Run},
		{name: "legacy/restart-earlier-ack", reason: "an ack of another sandbox does not show that this sandbox's kubelet probes the native twin: act on", role: protocol.Legacy, markers: m{Native: seenA, Ack: ackB, Claim: claimLegacyA}, want: protocol.Run},
		{name: "legacy/hand-over", reason: "acting, and the kubelet probed the native twin in this sandbox: a native kubelet took over; hand over", role: protocol.Legacy, policy: never, markers: m{Native: seenA, Ack: ackA, Claim: claimLegacyA}, want: protocol.HandOver},
		{name: "legacy/hand-over-always", role: protocol.Legacy, policy: always, phase: protocol.TimedOut, markers: m{Ack: ackA, Claim: claimLegacyA}, want: protocol.HandOver},
		{name: "legacy/handed-over-always", reason: "after its handover the native twin acts: stand by", role: protocol.Legacy, markers: m{Ack: ackA, Claim: claimLegacyA, Handover: handoverA}, want: protocol.StandBy},
		{name: "legacy/handed-over-never", role: protocol.Legacy, policy: never, markers: m{Ack: ackA, Claim: claimLegacyA, Handover: handoverA}, want: protocol.Exit0Now},
		{name: "legacy/handover-earlier-sandbox", role: protocol.Legacy, markers: m{Native: seenA, Claim: claimLegacyA, Handover: handoverB}, want: protocol.Run},
		{name: "legacy/native-acts-always", role: protocol.Legacy, policy: always, markers: m{Claim: claimNativeA}, want: protocol.StandBy},
		{name: "legacy/native-acts-default", reason: "an empty restartPolicy is Always", role: protocol.Legacy, markers: m{Claim: claimNativeA}, want: protocol.StandBy},
		{name: "legacy/native-acts-onfailure", role: protocol.Legacy, policy: onFailure, markers: m{Claim: claimNativeA}, want: protocol.Exit0Now},
		{name: "legacy/native-acts-never", role: protocol.Legacy, policy: never, markers: m{Claim: claimNativeA}, want: protocol.Exit0Now},
		{name: "legacy/ack-waits", reason: "a native node that started the legacy twin early: wait for the native twin", role: protocol.Legacy, markers: m{Ack: ackB}, want: protocol.Confirm},
		{name: "legacy/ack-waits-timed-out", reason: "the legacy twin waits without a deadline", role: protocol.Legacy, phase: protocol.TimedOut, markers: m{Ack: ackA}, want: protocol.Confirm},
		{name: "unknown-role", role: "sidecar", markers: m{Claim: claimNativeA}, want: protocol.Exit0Now},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := protocol.Input{Role: tc.role, RestartPolicy: tc.policy, Sandbox: sbA, Markers: tc.markers, Phase: tc.phase}
			got := protocol.Decide(in)
			if got.Action != tc.want || got.Claim != tc.claim {
				t.Errorf("Decide = %v claim=%v (%s); want %v claim=%v (%s)", got.Action, got.Claim, got.Reason, tc.want, tc.claim, tc.reason)
			}
			if got.Reason == "" {
				t.Errorf("no reason")
			}
		})
	}
}

func TestProbeVerdict(t *testing.T) {
	type m = protocol.Markers
	cases := []struct {
		name    string
		role    protocol.Role
		typ     protocol.ProbeType
		markers m
		want    protocol.Verdict
	}{
		{"native/startup/not-acting", protocol.Native, protocol.StartupProbe, m{Native: seenA, Ack: ackA}, protocol.Fail},
		{"native/startup/acting", protocol.Native, protocol.StartupProbe, m{Claim: claimNativeA}, protocol.Check},
		{"native/startup/legacy-acts", protocol.Native, protocol.StartupProbe, m{Claim: claimLegacyA}, protocol.Pass},
		{"native/liveness/legacy-acts", protocol.Native, protocol.LivenessProbe, m{Claim: claimLegacyA}, protocol.Pass},
		{"native/startup/undecided-early", protocol.Native, protocol.StartupProbe, m{Early: earlyA}, protocol.Fail},
		{"legacy/liveness/dormant", protocol.Legacy, protocol.LivenessProbe, m{Claim: claimNativeA}, protocol.Pass},
		{"legacy/readiness/dormant", protocol.Legacy, protocol.ReadinessProbe, m{Claim: claimNativeA}, protocol.Pass},
		{"legacy/startup/dormant", protocol.Legacy, protocol.StartupProbe, m{Claim: claimNativeA}, protocol.Pass},
		{"legacy/liveness/acting", protocol.Legacy, protocol.LivenessProbe, m{Claim: claimLegacyA}, protocol.Check},
		{"legacy/readiness/acting", protocol.Legacy, protocol.ReadinessProbe, m{Claim: claimLegacyA}, protocol.Check},
		{"legacy/readiness/handing-over", protocol.Legacy, protocol.ReadinessProbe, m{Ack: ackA, Claim: claimLegacyA}, protocol.Check},
		{"legacy/readiness/handed-over", protocol.Legacy, protocol.ReadinessProbe, m{Ack: ackA, Claim: claimLegacyA, Handover: handoverA}, protocol.Pass},
		{"native/readiness/handed-over", protocol.Native, protocol.ReadinessProbe, m{Ack: ackA, Claim: claimLegacyA, Handover: handoverA}, protocol.Check},
		{"native/startup/handing-over", protocol.Native, protocol.StartupProbe, m{Ack: ackA, Claim: claimLegacyA}, protocol.Pass},
		{"legacy/liveness/undecided", protocol.Legacy, protocol.LivenessProbe, m{Ack: ackB}, protocol.Pass},
		{"legacy/readiness/undecided", protocol.Legacy, protocol.ReadinessProbe, m{}, protocol.Fail},
		{"legacy/startup/undecided", protocol.Legacy, protocol.StartupProbe, m{}, protocol.Fail},
		{"unknown-role", "x", protocol.LivenessProbe, m{Claim: claimNativeA}, protocol.Fail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := protocol.ProbeVerdict(tc.role, tc.typ, sbA, tc.markers); got != tc.want {
				t.Errorf("ProbeVerdict = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSteps(t *testing.T) {
	d := mapDir{}
	in := protocol.Input{Role: protocol.Native, Sandbox: sbA}
	dec, _, err := protocol.Next(d, in)
	if err != nil || dec.Action != protocol.RecordAndExit0 {
		t.Fatalf("first run: %v, %v", dec.Action, err)
	}
	if err := protocol.RecordSeen(d, sbA); err != nil {
		t.Fatal(err)
	}
	if dec, _, _ = protocol.Next(d, in); dec.Action != protocol.Confirm {
		t.Fatalf("second run: %v", dec.Action)
	}
	// The legacy twin's probe does not acknowledge.
	if v, _, err := protocol.Probe(d, protocol.Legacy, protocol.StartupProbe, sbA); v != protocol.Fail || err != nil {
		t.Fatalf("legacy probe: %v, %v", v, err)
	}
	if _, ok := d["ack"]; ok {
		t.Fatalf("the legacy twin's probe wrote an ack")
	}
	// Nor do the native twin's other probes.
	if _, _, err := protocol.Probe(d, protocol.Native, protocol.LivenessProbe, sbA); err != nil {
		t.Fatal(err)
	}
	if _, ok := d["ack"]; ok {
		t.Fatalf("the native twin's liveness probe wrote an ack")
	}
	if v, _, err := protocol.Probe(d, protocol.Native, protocol.StartupProbe, sbA); v != protocol.Fail || err != nil {
		t.Fatalf("native probe before the claim: %v, %v", v, err)
	}
	if _, ok := d["ack"]; !ok {
		t.Fatalf("the native twin's startup probe wrote no ack")
	}
	// The ack is written once per sandbox.
	if _, _, err := protocol.Probe(readOnly{d}, protocol.Native, protocol.StartupProbe, sbA); err != nil {
		t.Fatalf("a second startup probe wrote the ack again: %v", err)
	}
	in.Phase = protocol.Confirming
	if dec, _, _ = protocol.Next(d, in); dec.Action != protocol.Run || !dec.Claim {
		t.Fatalf("after the ack: %v claim=%v", dec.Action, dec.Claim)
	}
	if ok, err := protocol.Claim(d, sbA, protocol.Native); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if v, _, _ := protocol.Probe(d, protocol.Native, protocol.StartupProbe, sbA); v != protocol.Check {
		t.Fatalf("native probe after the claim: %v", v)
	}
	if !protocol.Acts(protocol.Native, sbA, protocol.Markers{Claim: claimNativeA}) || protocol.Acts(protocol.Legacy, sbA, protocol.Markers{Claim: claimNativeA}) {
		t.Errorf("Acts")
	}
	if _, _, err := protocol.Next(errDir{}, in); err == nil {
		t.Errorf("Next on a failing dir: want an error")
	}
	if _, _, err := protocol.Probe(errDir{}, protocol.Native, protocol.StartupProbe, sbA); err == nil {
		t.Errorf("Probe on a failing dir: want an error")
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"native", "legacy"} {
		if r, err := protocol.ParseRole(s); err != nil || string(r) != s {
			t.Errorf("ParseRole(%q) = %v, %v", s, r, err)
		}
	}
	if _, err := protocol.ParseRole("Native"); err == nil {
		t.Errorf("ParseRole is case-sensitive")
	}
	for _, s := range []string{"startup", "liveness", "readiness"} {
		if p, err := protocol.ParseProbeType(s); err != nil || string(p) != s {
			t.Errorf("ParseProbeType(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := protocol.ParseProbeType(""); err == nil {
		t.Errorf("ParseProbeType(\"\"): want an error")
	}
	for _, s := range []interface{ String() string }{protocol.Starting, protocol.Phase(9), protocol.Run, protocol.RecordEarlyAndWait, protocol.Action(9), protocol.Check, protocol.Verdict(9)} {
		if s.String() == "" {
			t.Errorf("empty String()")
		}
	}
}

// readOnly is a Dir that refuses writes.
type readOnly struct{ mapDir }

func (readOnly) WriteFile(string, []byte) error  { return errors.New("read-only") }
func (readOnly) CreateFile(string, []byte) error { return errors.New("read-only") }
