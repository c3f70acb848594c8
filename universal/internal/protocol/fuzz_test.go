package protocol_test

import (
	"bytes"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// FuzzParseMarker: ParseMarker never panics, and what it accepts formats
// back to the same marker, canonically.
func FuzzParseMarker(f *testing.F) {
	f.Add([]byte("sidecarkit-handshake/1 native seen " + sbA + "\n"))
	f.Add([]byte("sidecarkit-handshake/1 claim legacy " + sbA))
	f.Add([]byte("sidecarkit-handshake/1 ack probed " + sbA + "\r\n"))
	f.Add([]byte("sidecarkit-handshake/2 native seen " + sbA))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := protocol.ParseMarker(b)
		if err != nil {
			if !m.IsZero() {
				t.Fatalf("error %v with a non-zero marker %v", err, m)
			}
			return
		}
		out := m.Format()
		if !bytes.Equal(bytes.TrimSuffix(b, []byte("\n")), bytes.TrimSuffix(out, []byte("\n"))) {
			t.Fatalf("accepted %q, formats as %q", b, out)
		}
		again, err := protocol.ParseMarker(out)
		if err != nil || again != m {
			t.Fatalf("round trip of %q: %v, %v", out, again, err)
		}
	})
}

// FuzzDecide: whatever the handshake directory holds, Observe and Decide
// never fail or panic, and the decision keeps the protocol's invariants:
// a twin runs only if it holds the claim or the sandbox is unclaimed (and
// then it claims), never when the other twin holds it; each role takes
// only its own actions; once a twin claimed, it decides to run.
func FuzzDecide(f *testing.F) {
	f.Add([]byte(line("native", "seen", sbA)), []byte(line("ack", "probed", sbA)), []byte(""), []byte(""), uint8(0), uint8(0), uint8(1))
	f.Add([]byte(line("native", "seen", sbB)), []byte(""), []byte(line("claim", "native", sbA)), []byte(""), uint8(1), uint8(2), uint8(0))
	f.Add([]byte("junk"), []byte(line("ack", "probed", sbB)), []byte("\xff"), []byte(line("claim", "legacy", sbB)), uint8(1), uint8(1), uint8(2))
	f.Add([]byte(""), []byte(""), []byte(line("claim", "legacy", sbA)), []byte(""), uint8(0), uint8(3), uint8(2))
	f.Fuzz(func(t *testing.T, native, ack, claim, otherClaim []byte, role, policy, phase uint8) {
		d := mapDir{}
		for name, b := range map[string][]byte{"native": native, "ack": ack, protocol.ClaimFile(sbA): claim, protocol.ClaimFile(sbB): otherClaim} {
			if len(b) > 0 {
				d[name] = string(b)
			}
		}
		in := protocol.Input{
			Role:          []protocol.Role{protocol.Native, protocol.Legacy}[role%2],
			RestartPolicy: []corev1.RestartPolicy{"", corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}[policy%4],
			Sandbox:       sbA,
			Phase:         protocol.Phase(phase % 3),
		}
		dec, m, err := protocol.Next(d, in)
		if err != nil {
			t.Fatal(err)
		}
		in.Markers = m
		if again := protocol.Decide(in); again != dec {
			t.Fatalf("not deterministic: %v then %v", dec, again)
		}
		if dec.Reason == "" {
			t.Fatalf("no reason")
		}
		other := protocol.Legacy
		if in.Role == protocol.Legacy {
			other = protocol.Native
		}
		mine, theirs := protocol.Acts(in.Role, sbA, m), protocol.Acts(other, sbA, m)
		switch {
		case dec.Action == protocol.Run && theirs:
			t.Fatalf("runs though the %s twin holds the claim: %v\n%s", other, dec, d)
		case dec.Action == protocol.Run && dec.Claim != !mine:
			t.Fatalf("run with claim=%v but holds the claim: %v\n%s", dec.Claim, mine, d)
		case dec.Action == protocol.Run && dec.Claim && !m.Claim.IsZero():
			t.Fatalf("claims a claimed sandbox\n%s", d)
		case in.Role == protocol.Native && dec.Action == protocol.StandBy && !(theirs && m.Ack.In(sbA)):
			// The native twin stands by only where the legacy twin acts
			// and the kubelet probed it here: a native kubelet that took
			// over a Pod the legacy twin serves (see Decide).
			t.Fatalf("the native twin stands by without a legacy claim and an ack in this sandbox: %v", dec)
		case in.Role == protocol.Legacy && dec.Action == protocol.RecordAndExit0:
			t.Fatalf("the legacy twin records")
		case dec.Action == protocol.HandOver && !(in.Role == protocol.Legacy && mine && m.Ack.In(sbA)):
			t.Fatalf("hands over but is not the acting legacy twin of a sandbox the kubelet probed: %v", dec)
		case in.Role == protocol.Legacy && mine && m.Ack.In(sbA) && dec.Action != protocol.HandOver:
			// The kubelet probed the native twin in this sandbox: it runs
			// native sidecars, and the legacy twin hands over (see Decide).
			t.Fatalf("the acting legacy twin of a probed sandbox does not hand over: %v", dec)
		case mine && dec.Action != protocol.Run && dec.Action != protocol.HandOver:
			t.Fatalf("holds the claim but does not run: %v", dec)
		}
		if len(claim) > 0 {
			if _, err := protocol.ParseMarker(claim); err != nil && !(theirs || mine) {
				t.Fatalf("a corrupt claim must read as a claim: %v", m.Claim)
			}
		}
		if dec.Action == protocol.Run && dec.Claim {
			ok, err := protocol.Claim(d, sbA, in.Role)
			if !ok || err != nil {
				t.Fatalf("claim: %v, %v", ok, err)
			}
			if again, _, _ := protocol.Next(d, in); again.Action != protocol.Run || again.Claim {
				t.Fatalf("after claiming: %v", again)
			}
			if in.Role == protocol.Native {
				if v, _, _ := protocol.Probe(d, protocol.Native, protocol.StartupProbe, sbA); v != protocol.Check {
					t.Fatalf("startup probe after the native claim: %v", v)
				}
			}
		}
	})
}
