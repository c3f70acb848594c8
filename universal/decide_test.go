package universal_test

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/universal"
)

func mk(k universal.Kind, v, sb string) universal.Marker {
	return universal.Marker{Kind: k, Value: v, Sandbox: sb}
}

var (
	seenA        = mk(universal.KindNative, universal.ValueSeen, sbA)
	seenB        = mk(universal.KindNative, universal.ValueSeen, sbB)
	ackA         = mk(universal.KindAck, universal.ValueProbed, sbA)
	ackB         = mk(universal.KindAck, universal.ValueProbed, sbB)
	claimNativeA = mk(universal.KindClaim, "native", sbA)
	claimLegacyA = mk(universal.KindClaim, "legacy", sbA)
)

// TestDecide covers every rule of Decide; the current sandbox is sbA.
func TestDecide(t *testing.T) {
	const (
		always    = corev1.RestartPolicyAlways
		onFailure = corev1.RestartPolicyOnFailure
		never     = corev1.RestartPolicyNever
	)
	type m = universal.Markers
	cases := []struct {
		name, reason string
		role         universal.Role
		policy       corev1.RestartPolicy
		phase        universal.Phase
		markers      m
		want         universal.Action
		claim        bool
	}{
		{name: "native/first-run", reason: "nothing recorded: record and exit 0 (an old kubelet proceeds, a new one restarts)", role: universal.Native, want: universal.RecordAndExit0},
		{name: "native/stale-marker", reason: "a marker of another sandbox is a re-creation's leftover: a first run", role: universal.Native, markers: m{Native: seenB}, want: universal.RecordAndExit0},
		{name: "native/restart", reason: "a restart in the same sandbox waits for the probe", role: universal.Native, markers: m{Native: seenA}, want: universal.Confirm},
		{name: "native/restart-never", reason: "the Pod's restartPolicy does not matter to the native twin", role: universal.Native, policy: never, markers: m{Native: seenA}, want: universal.Confirm},
		{name: "native/ack-earlier-sandbox", reason: "an ack of an earlier sandbox proves a native node: skip the exit-0 run", role: universal.Native, markers: m{Native: seenB, Ack: ackB}, want: universal.Confirm},
		{name: "native/confirming", role: universal.Native, phase: universal.Confirming, markers: m{Native: seenA}, want: universal.Confirm},
		{name: "native/confirmed", reason: "the probe acknowledged: claim and run", role: universal.Native, phase: universal.Confirming, markers: m{Native: seenA, Ack: ackA}, want: universal.Run, claim: true},
		{name: "native/ack-first-run", reason: "the probe acknowledged an earlier run of this sandbox", role: universal.Native, markers: m{Ack: ackA}, want: universal.Run, claim: true},
		{name: "native/timed-out", reason: "no probe: an old kubelet; exit 0", role: universal.Native, phase: universal.TimedOut, markers: m{Native: seenA}, want: universal.Exit0Now},
		{name: "native/timed-out-ack", reason: "an ack that comes at the deadline still counts", role: universal.Native, phase: universal.TimedOut, markers: m{Native: seenA, Ack: ackA}, want: universal.Run, claim: true},
		{name: "native/acting-restart", reason: "the kubelet restarted the acting native twin", role: universal.Native, markers: m{Native: seenA, Ack: ackA, Claim: claimNativeA}, want: universal.Run},
		{name: "native/legacy-acts", reason: "the legacy twin claimed this sandbox: never a second actor", role: universal.Native, markers: m{Native: seenA, Ack: ackA, Claim: claimLegacyA}, want: universal.Exit0Now},
		{name: "native/legacy-acts-confirming", role: universal.Native, phase: universal.Confirming, markers: m{Native: seenA, Claim: claimLegacyA}, want: universal.Exit0Now},
		{name: "legacy/old-node", reason: "no claim, no ack: an old node, act", role: universal.Legacy, markers: m{Native: seenA}, want: universal.Run, claim: true},
		{name: "legacy/nothing", role: universal.Legacy, want: universal.Run, claim: true},
		{name: "legacy/restart", role: universal.Legacy, markers: m{Native: seenA, Claim: claimLegacyA}, want: universal.Run},
		{name: "legacy/native-acts-always", role: universal.Legacy, policy: always, markers: m{Claim: claimNativeA}, want: universal.StandBy},
		{name: "legacy/native-acts-default", reason: "an empty restartPolicy is Always", role: universal.Legacy, markers: m{Claim: claimNativeA}, want: universal.StandBy},
		{name: "legacy/native-acts-onfailure", role: universal.Legacy, policy: onFailure, markers: m{Claim: claimNativeA}, want: universal.Exit0Now},
		{name: "legacy/native-acts-never", role: universal.Legacy, policy: never, markers: m{Claim: claimNativeA}, want: universal.Exit0Now},
		{name: "legacy/ack-waits", reason: "a native node that started the legacy twin early: wait for the native twin", role: universal.Legacy, markers: m{Ack: ackB}, want: universal.Confirm},
		{name: "legacy/ack-waits-timed-out", reason: "the legacy twin waits without a deadline", role: universal.Legacy, phase: universal.TimedOut, markers: m{Ack: ackA}, want: universal.Confirm},
		{name: "unknown-role", role: "sidecar", markers: m{Claim: claimNativeA}, want: universal.Exit0Now},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := universal.Input{Role: tc.role, RestartPolicy: tc.policy, Sandbox: sbA, Markers: tc.markers, Phase: tc.phase}
			got := universal.Decide(in)
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
	type m = universal.Markers
	cases := []struct {
		name    string
		role    universal.Role
		typ     universal.ProbeType
		markers m
		want    universal.Verdict
	}{
		{"native/startup/not-acting", universal.Native, universal.StartupProbe, m{Native: seenA, Ack: ackA}, universal.Fail},
		{"native/startup/acting", universal.Native, universal.StartupProbe, m{Claim: claimNativeA}, universal.Check},
		{"native/startup/legacy-acts", universal.Native, universal.StartupProbe, m{Claim: claimLegacyA}, universal.Fail},
		{"legacy/liveness/dormant", universal.Legacy, universal.LivenessProbe, m{Claim: claimNativeA}, universal.Pass},
		{"legacy/readiness/dormant", universal.Legacy, universal.ReadinessProbe, m{Claim: claimNativeA}, universal.Pass},
		{"legacy/startup/dormant", universal.Legacy, universal.StartupProbe, m{Claim: claimNativeA}, universal.Pass},
		{"legacy/liveness/acting", universal.Legacy, universal.LivenessProbe, m{Claim: claimLegacyA}, universal.Check},
		{"legacy/readiness/acting", universal.Legacy, universal.ReadinessProbe, m{Claim: claimLegacyA}, universal.Check},
		{"legacy/liveness/undecided", universal.Legacy, universal.LivenessProbe, m{Ack: ackB}, universal.Pass},
		{"legacy/readiness/undecided", universal.Legacy, universal.ReadinessProbe, m{}, universal.Fail},
		{"legacy/startup/undecided", universal.Legacy, universal.StartupProbe, m{}, universal.Fail},
		{"unknown-role", "x", universal.LivenessProbe, m{Claim: claimNativeA}, universal.Fail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := universal.ProbeVerdict(tc.role, tc.typ, sbA, tc.markers); got != tc.want {
				t.Errorf("ProbeVerdict = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSteps(t *testing.T) {
	d := mapDir{}
	in := universal.Input{Role: universal.Native, Sandbox: sbA}
	dec, _, err := universal.Next(d, in)
	if err != nil || dec.Action != universal.RecordAndExit0 {
		t.Fatalf("first run: %v, %v", dec.Action, err)
	}
	if err := universal.RecordSeen(d, sbA); err != nil {
		t.Fatal(err)
	}
	if dec, _, _ = universal.Next(d, in); dec.Action != universal.Confirm {
		t.Fatalf("second run: %v", dec.Action)
	}
	// The legacy twin's probe does not acknowledge.
	if v, _, err := universal.Probe(d, universal.Legacy, universal.StartupProbe, sbA); v != universal.Fail || err != nil {
		t.Fatalf("legacy probe: %v, %v", v, err)
	}
	if _, ok := d["ack"]; ok {
		t.Fatalf("the legacy twin's probe wrote an ack")
	}
	// Nor do the native twin's other probes.
	if _, _, err := universal.Probe(d, universal.Native, universal.LivenessProbe, sbA); err != nil {
		t.Fatal(err)
	}
	if _, ok := d["ack"]; ok {
		t.Fatalf("the native twin's liveness probe wrote an ack")
	}
	if v, _, err := universal.Probe(d, universal.Native, universal.StartupProbe, sbA); v != universal.Fail || err != nil {
		t.Fatalf("native probe before the claim: %v, %v", v, err)
	}
	if _, ok := d["ack"]; !ok {
		t.Fatalf("the native twin's startup probe wrote no ack")
	}
	// The ack is written once per sandbox.
	if _, _, err := universal.Probe(readOnly{d}, universal.Native, universal.StartupProbe, sbA); err != nil {
		t.Fatalf("a second startup probe wrote the ack again: %v", err)
	}
	in.Phase = universal.Confirming
	if dec, _, _ = universal.Next(d, in); dec.Action != universal.Run || !dec.Claim {
		t.Fatalf("after the ack: %v claim=%v", dec.Action, dec.Claim)
	}
	if ok, err := universal.Claim(d, sbA, universal.Native); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if v, _, _ := universal.Probe(d, universal.Native, universal.StartupProbe, sbA); v != universal.Check {
		t.Fatalf("native probe after the claim: %v", v)
	}
	if !universal.Acts(universal.Native, sbA, universal.Markers{Claim: claimNativeA}) || universal.Acts(universal.Legacy, sbA, universal.Markers{Claim: claimNativeA}) {
		t.Errorf("Acts")
	}
	if _, _, err := universal.Next(errDir{}, in); err == nil {
		t.Errorf("Next on a failing dir: want an error")
	}
	if _, _, err := universal.Probe(errDir{}, universal.Native, universal.StartupProbe, sbA); err == nil {
		t.Errorf("Probe on a failing dir: want an error")
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"native", "legacy"} {
		if r, err := universal.ParseRole(s); err != nil || string(r) != s {
			t.Errorf("ParseRole(%q) = %v, %v", s, r, err)
		}
	}
	if _, err := universal.ParseRole("Native"); err == nil {
		t.Errorf("ParseRole is case-sensitive")
	}
	for _, s := range []string{"startup", "liveness", "readiness"} {
		if p, err := universal.ParseProbeType(s); err != nil || string(p) != s {
			t.Errorf("ParseProbeType(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := universal.ParseProbeType(""); err == nil {
		t.Errorf("ParseProbeType(\"\"): want an error")
	}
	for _, s := range []interface{ String() string }{universal.Starting, universal.Phase(9), universal.Run, universal.Action(9), universal.Check, universal.Verdict(9)} {
		if s.String() == "" {
			t.Errorf("empty String()")
		}
	}
}

// readOnly is a Dir that refuses writes.
type readOnly struct{ mapDir }

func (readOnly) WriteFile(string, []byte) error  { return errors.New("read-only") }
func (readOnly) CreateFile(string, []byte) error { return errors.New("read-only") }
