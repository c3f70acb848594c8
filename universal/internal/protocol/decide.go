package protocol

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Role says which twin a handshake process belongs to.
type Role string

// The roles.
const (
	// Native is the twin injected as an init container with
	// restartPolicy Always.
	Native Role = "native"
	// Legacy is the twin injected as a regular container.
	Legacy Role = "legacy"
)

// ParseRole parses "native" or "legacy".
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case Native, Legacy:
		return Role(s), nil
	}
	return "", fmt.Errorf("universal: unknown role %q (want native or legacy)", s)
}

// Phase is where a twin's run is in the handshake.
type Phase int

// The phases.
const (
	// Starting: the run has just started (the zero value).
	Starting Phase = iota
	// Confirming: the native twin waits for the kubelet's startup probe
	// to prove that the node runs native sidecars.
	Confirming
	// TimedOut: the confirmation did not come in time.
	TimedOut
)

func (p Phase) String() string {
	switch p {
	case Starting:
		return "Starting"
	case Confirming:
		return "Confirming"
	case TimedOut:
		return "TimedOut"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// Action is what a twin does next.
type Action int

// The actions.
const (
	// Run: exec the sidecar, so that it gets the kubelet's signals
	// directly. With Decision.Claim set, claim the sandbox first, and
	// observe and decide again if the other twin claimed it.
	Run Action = iota
	// RecordAndExit0: record that the native twin ran in this sandbox and
	// exit 0, so that an old kubelet sees a succeeded init container and
	// a new one restarts the twin.
	RecordAndExit0
	// StandBy: do nothing until SIGTERM, then exit 0 (the legacy twin of
	// a restartPolicy Always Pod, which a kubelet would restart after any
	// exit).
	StandBy
	// Exit0Now: exit 0 at once (the legacy twin of a Job Pod, so that it
	// completes; the native twin when the legacy twin acts).
	Exit0Now
	// Confirm: wait a moment (or for SIGTERM, then exit 0), observe and
	// decide again, in phase Confirming, or TimedOut once the
	// confirmation timeout has passed.
	Confirm
	// RecordEarlyAndWait: record that the kubelet started the legacy
	// twin before the native twin's first run in this sandbox ended
	// (RecordEarly), then observe and decide again at once (the record
	// makes it Confirm).
	RecordEarlyAndWait
	// HandOver: the legacy twin acts in this sandbox and the kubelet
	// probed the native twin here, so a native kubelet took over: stop
	// the sidecar (SIGTERM, then SIGKILL after the handover grace) if
	// this run runs it, record the handover (RecordHandover) once it
	// exited, then observe and decide again (the native twin acts now).
	HandOver
)

func (a Action) String() string {
	switch a {
	case Run:
		return "Run"
	case RecordAndExit0:
		return "RecordAndExit0"
	case StandBy:
		return "StandBy"
	case Exit0Now:
		return "Exit0Now"
	case Confirm:
		return "Confirm"
	case RecordEarlyAndWait:
		return "RecordEarlyAndWait"
	case HandOver:
		return "HandOver"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Input is everything Decide looks at.
type Input struct {
	Role Role
	// RestartPolicy is the Pod's; empty means Always, the API default.
	RestartPolicy corev1.RestartPolicy
	// Sandbox is the current sandbox's key (Sandbox.Key).
	Sandbox string
	Markers Markers
	Phase   Phase
}

// Decision is Decide's answer.
type Decision struct {
	Action Action
	// Claim, with Run, says the sandbox is not claimed yet.
	Claim bool
	// Reason explains the decision in a sentence, for the runner's log.
	Reason string
}

// Decide is the handshake's state machine, a pure function of the markers,
// the role, the Pod's restartPolicy, the sandbox and the phase. See the
// package documentation for the protocol and why each rule is there.
//
// Proof of a native node is an ack (the kubelet probed the native twin)
// or an early marker (the kubelet started the legacy twin before the
// native twin's first run in a sandbox ended), of any sandbox: kubelets
// that strip restartPolicy do neither.
//
// The twin that acts in a sandbox is the one its claim names, except that
// a legacy claim counts for the native twin once the legacy twin handed
// the sandbox over (a handover marker of the sandbox).
//
// The native twin, in order:
//  1. the legacy twin acts in this sandbox, and the kubelet probed this
//     twin here → Confirm, in every phase: a native kubelet took over a
//     Pod the legacy twin serves (an in-place upgrade, a lost directory),
//     and the legacy twin hands over (its startup probe passes, so the
//     Pod gets Ready and Init proceeds); TimedOut → Exit0Now (an old
//     kubelet: a re-created sandbox with the same identity); else →
//     Confirm;
//  2. the native twin acts in it → Run (the kubelet restarted the acting
//     native twin, or the legacy twin handed over);
//  3. the kubelet probed the native twin in this sandbox → Run, claiming;
//  4. Starting, and the native twin ran in this sandbox → Confirm (a
//     restart: only a native kubelet restarts a container that exited 0,
//     but so does an old one after a crash, and a re-created sandbox may
//     look the same, hence the wait for the probe); Starting, and a proof
//     of a native node → Confirm too (no need for the exit-0 run);
//  5. Starting → RecordAndExit0 (the first run in this sandbox);
//     Confirming → Confirm; TimedOut → Exit0Now (no probe came: an old
//     kubelet; exit 0 so that Init proceeds and the legacy twin acts).
//
// The legacy twin, in order:
//  1. the native twin acts in this sandbox → StandBy under restartPolicy
//     Always, Exit0Now under OnFailure or Never;
//  2. the legacy twin acts in it, and the kubelet probed the native twin
//     here → HandOver (proof that this kubelet runs native sidecars: it
//     restarts and keeps the native twin, so that it can act, and a
//     legacy twin that acted on would keep a Job Pod running); else →
//     Run (a restart);
//  3. a proof of a native node (so the kubelet started this twin before
//     the native twin acts: kubelets 1.28 to 1.36 do so after a sandbox
//     re-creation, kubernetes#138514) → Confirm, in every phase: the
//     native twin will act, and a legacy twin that acted instead would
//     keep a Job Pod running;
//  4. the native twin's first run in this sandbox is not recorded → the
//     kubelet started this twin before the init containers completed,
//     which only a native kubelet does: RecordEarlyAndWait;
//  5. → Run, claiming (an old node).
//
// A Role other than the two never acts: Exit0Now.
func Decide(in Input) Decision {
	m, sb := in.Markers, in.Sandbox
	claimed := acting(sb, m)
	proof := !m.Ack.IsZero() || !m.Early.IsZero()
	switch in.Role {
	case Native:
		switch {
		case claimed == Legacy && m.Ack.In(sb):
			return Decision{Action: Confirm, Reason: "the legacy twin acts in this sandbox and the kubelet probed this twin: a native kubelet took over (an in-place upgrade, or a lost handshake directory); waiting for the legacy twin to hand over"}
		case claimed == Legacy && in.Phase == TimedOut:
			return Decision{Action: Exit0Now, Reason: "the legacy twin acts in this sandbox and no startup probe came: an old kubelet; exiting 0 so that Init proceeds"}
		case claimed == Legacy:
			return Decision{Action: Confirm, Reason: "the legacy twin acts in this sandbox: waiting for the kubelet's startup probe (a native kubelet: stand by) or the confirmation timeout (an old one: exit 0)"}
		case claimed == Native:
			return Decision{Action: Run, Reason: "the native twin acts in this sandbox (a restart)"}
		case m.Ack.In(sb):
			return Decision{Action: Run, Claim: true, Reason: "the kubelet probed the native twin in this sandbox: it runs native sidecars"}
		}
		switch in.Phase {
		case Starting:
			if m.Native.In(sb) {
				return Decision{Action: Confirm, Reason: "restarted in this sandbox: waiting for the kubelet's startup probe to confirm a native node"}
			}
			if proof {
				return Decision{Action: Confirm, Reason: "the node runs native sidecars (an earlier probe, or the legacy twin started early): waiting for the startup probe in this sandbox"}
			}
			return Decision{Action: RecordAndExit0, Reason: "first run in this sandbox: recording it and exiting 0"}
		case Confirming:
			return Decision{Action: Confirm, Reason: "waiting for the kubelet's startup probe"}
		default:
			return Decision{Action: Exit0Now, Reason: "no startup probe came: an old kubelet; exiting 0 so that the legacy twin acts"}
		}
	case Legacy:
		switch claimed {
		case Native:
			if in.RestartPolicy == corev1.RestartPolicyNever || in.RestartPolicy == corev1.RestartPolicyOnFailure {
				return Decision{Action: Exit0Now, Reason: fmt.Sprintf("the native twin acts; restartPolicy %s: exiting 0", in.RestartPolicy)}
			}
			return Decision{Action: StandBy, Reason: "the native twin acts; standing by until SIGTERM"}
		case Legacy:
			if m.Ack.In(sb) {
				return Decision{Action: HandOver, Reason: "this twin acts in this sandbox and the kubelet probed the native twin here: a native kubelet took over; handing over to the native twin"}
			}
			return Decision{Action: Run, Reason: "the legacy twin acts in this sandbox (a restart)"}
		}
		if proof {
			return Decision{Action: Confirm, Reason: "the node runs native sidecars (the kubelet probed the native twin, or started this twin early): waiting for the native twin to act"}
		}
		if !m.Native.In(sb) {
			return Decision{Action: RecordEarlyAndWait, Reason: "the native twin has not run in this sandbox yet, so the kubelet started this twin before the init containers completed, which only a native kubelet does: recording it and waiting for the native twin"}
		}
		return Decision{Action: Run, Claim: true, Reason: "the native twin does not act in this sandbox"}
	}
	return Decision{Action: Exit0Now, Reason: fmt.Sprintf("unknown role %q", in.Role)}
}

// Acts reports whether the twin of role acts in the sandbox: whether the
// sandbox's claim names it, the legacy twin's claim counting for the
// native twin once the legacy twin handed the sandbox over. Hooks
// (preStop) of a twin run only when it acts.
func Acts(role Role, sandbox string, m Markers) bool {
	return role != "" && acting(sandbox, m) == role
}

// acting returns the twin that acts in the sandbox, or "" when it is not
// claimed: the claim's, but the native twin once the legacy twin handed
// over.
func acting(sandbox string, m Markers) Role {
	switch {
	case !m.Claim.In(sandbox):
		return ""
	case Role(m.Claim.Value) == Legacy && m.Handover.In(sandbox):
		return Native
	}
	return Role(m.Claim.Value)
}

// Verdict is what a wrapped probe answers before (or instead of) running
// the sidecar's own check.
type Verdict int

// The verdicts.
const (
	// Fail: the probe fails without running the check.
	Fail Verdict = iota
	// Pass: the probe passes without running the check.
	Pass
	// Check: the probe answers what the sidecar's own check answers (and
	// passes when there is none).
	Check
)

func (v Verdict) String() string {
	switch v {
	case Fail:
		return "Fail"
	case Pass:
		return "Pass"
	case Check:
		return "Check"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// ProbeType says which of a container's probes a wrapped probe is.
type ProbeType string

// The probe types.
const (
	StartupProbe   ProbeType = "startup"
	LivenessProbe  ProbeType = "liveness"
	ReadinessProbe ProbeType = "readiness"
)

// ParseProbeType parses "startup", "liveness" or "readiness".
func ParseProbeType(s string) (ProbeType, error) {
	switch ProbeType(s) {
	case StartupProbe, LivenessProbe, ReadinessProbe:
		return ProbeType(s), nil
	}
	return "", fmt.Errorf("universal: unknown probe type %q (want startup, liveness or readiness)", s)
}

// ProbeVerdict decides a wrapped probe of type typ of the twin of role:
//   - a twin that acts checks (runs the sidecar's own check);
//   - a twin whose other twin acts passes (it is dormant, and must
//     neither be restarted nor make the Pod unready; for the native twin
//     this is a native kubelet that took over a Pod the legacy twin
//     serves, see Decide);
//   - while neither acts, a twin is alive but neither started nor ready:
//     so the native twin's startup probe fails until a twin acts (a
//     native kubelet starts no later container before), and the caller
//     records the ack (Acknowledge) before observing.
func ProbeVerdict(role Role, typ ProbeType, sandbox string, m Markers) Verdict {
	switch {
	case role != Native && role != Legacy:
		return Fail
	case Acts(role, sandbox, m):
		return Check
	case Acts(other(role), sandbox, m):
		return Pass
	case typ == LivenessProbe:
		return Pass
	}
	return Fail
}

// other returns the other twin's role.
func other(r Role) Role {
	if r == Native {
		return Legacy
	}
	return Native
}
