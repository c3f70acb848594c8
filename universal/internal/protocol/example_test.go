package protocol_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// Decide walks the state machine. On a node with native sidecars the
// native twin records its first run and exits 0, is restarted, waits for
// the kubelet's startup probe, then claims the sandbox and runs; the
// legacy twin then stands by (or exits 0 in a Job Pod). On an old node
// nothing is ever probed or restarted, and the legacy twin acts.
func ExampleDecide() {
	sb := protocol.Sandbox{BootID: "example"}.Key()
	seen := protocol.Marker{Kind: protocol.KindNative, Value: protocol.ValueSeen, Sandbox: sb}
	ack := protocol.Marker{Kind: protocol.KindAck, Value: protocol.ValueProbed, Sandbox: sb}
	claim := func(r protocol.Role) protocol.Marker {
		return protocol.Marker{Kind: protocol.KindClaim, Value: string(r), Sandbox: sb}
	}
	show := func(what string, in protocol.Input) {
		in.Sandbox = sb
		d := protocol.Decide(in)
		claims := ""
		if d.Claim {
			claims = " and claim"
		}
		fmt.Printf("%-34s %s%s\n", what+":", d.Action, claims)
	}
	show("native, first run", protocol.Input{Role: protocol.Native})
	show("native, restarted", protocol.Input{Role: protocol.Native, Markers: protocol.Markers{Native: seen}})
	show("native, probed", protocol.Input{Role: protocol.Native, Phase: protocol.Confirming, Markers: protocol.Markers{Native: seen, Ack: ack}})
	show("legacy, native acts", protocol.Input{Role: protocol.Legacy, Markers: protocol.Markers{Claim: claim(protocol.Native)}})
	show("legacy, native acts, Job Pod", protocol.Input{Role: protocol.Legacy, RestartPolicy: corev1.RestartPolicyNever, Markers: protocol.Markers{Claim: claim(protocol.Native)}})
	show("legacy, old node", protocol.Input{Role: protocol.Legacy, Markers: protocol.Markers{Native: seen}})
	show("native, old node, no probe came", protocol.Input{Role: protocol.Native, Phase: protocol.TimedOut, Markers: protocol.Markers{Native: seen}})
	// Output:
	// native, first run:                 RecordAndExit0
	// native, restarted:                 Confirm
	// native, probed:                    Run and claim
	// legacy, native acts:               StandBy
	// legacy, native acts, Job Pod:      Exit0Now
	// legacy, old node:                  Run and claim
	// native, old node, no probe came:   Exit0Now
}
