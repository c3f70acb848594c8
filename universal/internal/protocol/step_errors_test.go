package protocol_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// unreadable fails every read and takes every write.
type unreadable struct{ mapDir }

func (unreadable) ReadFile(string) ([]byte, error) { return nil, fs.ErrPermission }

// TestProbeErrorsAndMarkers: Probe returns the markers it acted on (the
// ack it recorded included), fails when it cannot observe even where it
// would record nothing, and fails when the ack cannot be written.
func TestProbeErrorsAndMarkers(t *testing.T) {
	d := mapDir{}
	v, m, err := protocol.Probe(d, protocol.Native, protocol.StartupProbe, sbA)
	if err != nil || v != protocol.Fail {
		t.Fatalf("native startup probe: %v, %v", v, err)
	}
	if m.Ack != ackA {
		t.Errorf("markers after the ack: %+v, want the ack of this sandbox", m.Ack)
	}
	for _, p := range []struct {
		role protocol.Role
		typ  protocol.ProbeType
	}{{protocol.Legacy, protocol.LivenessProbe}, {protocol.Native, protocol.StartupProbe}} {
		if _, _, err := protocol.Probe(unreadable{mapDir{}}, p.role, p.typ, sbA); err == nil {
			t.Errorf("%s %s probe on an unreadable dir: no error", p.role, p.typ)
		}
	}
	if _, _, err := protocol.Probe(readOnly{mapDir{}}, protocol.Native, protocol.StartupProbe, sbA); err == nil {
		t.Error("native startup probe that cannot record its ack: no error")
	}
}

// TestStrings: the names the runner logs.
func TestStrings(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{protocol.Starting.String(), "Starting"},
		{protocol.Confirming.String(), "Confirming"},
		{protocol.TimedOut.String(), "TimedOut"},
		{protocol.Phase(7).String(), "Phase(7)"},
		{protocol.Run.String(), "Run"},
		{protocol.RecordAndExit0.String(), "RecordAndExit0"},
		{protocol.StandBy.String(), "StandBy"},
		{protocol.Exit0Now.String(), "Exit0Now"},
		{protocol.Confirm.String(), "Confirm"},
		{protocol.RecordEarlyAndWait.String(), "RecordEarlyAndWait"},
		{protocol.HandOver.String(), "HandOver"},
		{protocol.Action(9).String(), "Action(9)"},
		{protocol.Fail.String(), "Fail"},
		{protocol.Pass.String(), "Pass"},
		{protocol.Check.String(), "Check"},
		{protocol.Verdict(5).String(), "Verdict(5)"},
		{protocol.Marker{}.String(), "(none)"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}

// TestDecideReasons: the native twin's timeout (with and without a legacy
// claim) and an unknown role end the same way (Exit0Now) for different
// reasons, which the runner logs.
func TestDecideReasons(t *testing.T) {
	d := protocol.Decide(protocol.Input{Role: protocol.Native, Sandbox: sbA, Phase: protocol.TimedOut})
	if d.Action != protocol.Exit0Now || !strings.Contains(d.Reason, "no startup probe came") {
		t.Errorf("timed out: %v %q", d.Action, d.Reason)
	}
	// Under a legacy claim the timeout says the legacy twin acts.
	claim := protocol.Marker{Kind: protocol.KindClaim, Value: string(protocol.Legacy), Sandbox: sbA}
	d = protocol.Decide(protocol.Input{Role: protocol.Native, Sandbox: sbA, Phase: protocol.TimedOut, Markers: protocol.Markers{Claim: claim}})
	if d.Action != protocol.Exit0Now || !strings.Contains(d.Reason, "the legacy twin acts in this sandbox and no startup probe came") {
		t.Errorf("timed out under a legacy claim: %v %q", d.Action, d.Reason)
	}
	d = protocol.Decide(protocol.Input{Role: "sidekick", Sandbox: sbA})
	if d.Action != protocol.Exit0Now || !strings.Contains(d.Reason, `unknown role "sidekick"`) {
		t.Errorf("unknown role: %v %q", d.Action, d.Reason)
	}
}

// TestParseMarkerLength: a marker is at most 128 bytes; the limit is
// checked before anything else.
func TestParseMarkerLength(t *testing.T) {
	at := strings.Repeat("x", 128)
	if _, err := protocol.ParseMarker([]byte(at)); err == nil || strings.Contains(err.Error(), "too long") {
		t.Errorf("128 bytes: %v, want a format error, not the length", err)
	}
	if _, err := protocol.ParseMarker([]byte(at + "x")); err == nil || !strings.Contains(err.Error(), "129 bytes is too long") {
		t.Errorf("129 bytes: %v, want the length error", err)
	}
}
