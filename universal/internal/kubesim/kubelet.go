package kubesim

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// Kind is a kind of node, by what its kubelet does with an init container
// that has restartPolicy Always.
type Kind int

// The kinds; see the package documentation.
const (
	Strip Kind = iota
	Native128
	Reject
	Native
	NativeStaleInit
)

// Kinds lists every kind.
func Kinds() []Kind { return []Kind{Strip, Native128, Reject, Native, NativeStaleInit} }

func (k Kind) String() string {
	switch k {
	case Strip:
		return "Strip(<=1.27)"
	case Native128:
		return "Native(1.28,gate-on)"
	case Reject:
		return "Reject(1.28-1.32,gate-off)"
	case Native:
		return "Native(>=1.37)"
	case NativeStaleInit:
		return "NativeStaleInit(1.29-1.36,#138514)"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// native reports whether the kind runs native sidecars.
func (k Kind) native() bool { return k == Native128 || k == Native || k == NativeStaleInit }

// ordered reports whether termination stops sidecars after the regular
// containers.
func (k Kind) ordered() bool { return k == Native || k == NativeStaleInit }

// staleStatus reports whether the kubelet reads container statuses of an
// earlier sandbox as the current ones (FindContainerStatusByName before
// kubernetes#138514, v1.28.15 to v1.36.0).
func (k Kind) staleStatus() bool { return k == Native128 || k == NativeStaleInit }

// Upgrades lists the in-place kubelet changes the model explores from
// kind k: every newer kind, and the flip of the 1.28 SidecarContainers
// gate (a kubelet restarted with the other setting).
func Upgrades(k Kind) []Kind {
	switch k {
	case Strip:
		return []Kind{Native128, Reject, NativeStaleInit, Native}
	case Native128:
		return []Kind{Reject, NativeStaleInit, Native}
	case Reject:
		return []Kind{Native128}
	case NativeStaleInit:
		return []Kind{Native}
	}
	return nil
}

// hashChange says which running containers a kubelet upgraded from one
// kind to another restarts because the container hash it computes
// differs from the one its predecessor stored: up to v1.29.15 the hash
// covers the whole container, from v1.32.13 on its name and image only
// (kubecontainer.HashContainer), so the kubelet restarts running regular
// containers, "regardless of the restart policy", and from v1.32.13 on
// running sidecars as well (computePodActions, computeInitContainerActions).
// Ranges that span the change explore every possibility.
type hashChange uint8

const (
	hashNone     hashChange = iota // nothing restarted
	hashRegular                    // running regular containers restarted
	hashAll                        // running regular containers and N restarted
	hashVariants                   // (count)
)

func hashChanges(from, to Kind) []hashChange {
	switch {
	case !to.native():
		return []hashChange{hashNone} // rejected, or nothing changes
	case from == Strip && to == Native128:
		return []hashChange{hashNone} // both hash the whole container
	case to == Native && from != NativeStaleInit:
		return []hashChange{hashAll}
	case to == Native:
		return []hashChange{hashNone, hashAll} // from 1.29/1.30, or 1.32+
	}
	return []hashChange{hashNone, hashRegular, hashAll} // to 1.29-1.36
}

// ctr names a container of the model's Pod.
type ctr uint8

const (
	cN ctr = iota // the native twin
	cI            // an ordinary init container after it
	cL            // the legacy twin
	cA            // the application
)

func (c ctr) String() string { return [...]string{"N", "I", "L", "A"}[c] }

type evKind uint8

const (
	eStart    evKind = iota // kubelet starts or restarts c
	eProbe                  // kubelet runs N's startup probe
	eComplete               // kubelet completes a Job Pod (KillPod)
	eFailPod                // kubelet fails the Pod: an init container failed under Never
	eKill                   // kubelet kills c while the Pod terminates
	eStep                   // c's handshake observes and decides, or acts
	ePoll                   // N, waiting, observes again
	eTimeout                // N's confirmation times out
	eExit0                  // I or A exits 0
	eWatch                  // L's handshake, running the sidecar, observes and decides
	// Operations (bounded like faults; not followed by liveness checks).
	eRestart // the kubelet restarts (same version); arg 1: it seeds N's startup result
	eUpgrade // the kubelet is replaced in place by kind arg>>2, hashChange arg&3
	// Faults.
	eCrash     // c crashes, or a liveness probe kills it
	eProbeKill // kubelet kills N after startup probe failures
	eIdentity  // c's handshake cannot read the sandbox identity (arg 1: in N's startup probe)
	eRecreate  // the sandbox is re-created, with identity arg&0x7f, the directory emptied if arg&0x80
	eDelete    // the Pod is deleted
)

// event is one transition label.
type event struct {
	k   evKind
	c   ctr
	arg uint8
}

// fault reports whether e is a fault or an operation: the liveness
// properties follow only the other events.
func (e event) fault() bool { return e.k >= eRestart }

func (e event) String() string {
	switch e.k {
	case eStart:
		return "kubelet starts " + e.c.String()
	case eProbe:
		return "kubelet probes N (startup)"
	case eComplete:
		return "kubelet completes the Pod"
	case eFailPod:
		return "kubelet fails the Pod (init container failed, restartPolicy Never)"
	case eKill:
		return "kubelet kills " + e.c.String() + " (termination)"
	case eStep:
		return e.c.String() + " handshake step"
	case ePoll:
		return e.c.String() + " polls"
	case eTimeout:
		return e.c.String() + "'s wait times out"
	case eExit0:
		return e.c.String() + " exits 0"
	case eWatch:
		return e.c.String() + " handshake observes (sidecar running)"
	case eRestart:
		switch e.arg {
		case 1:
			return "OPERATION: kubelet restarts (N's startup result kept)"
		case 2:
			return "OPERATION: kubelet restarts (kubernetes#136910: a started N is neither seeded nor probed again)"
		}
		return "OPERATION: kubelet restarts (probe results lost)"
	case eUpgrade:
		return fmt.Sprintf("OPERATION: kubelet replaced in place by %s (%s)", Kind(e.arg>>2), [...]string{"no container restarted", "hash change restarts running regular containers", "hash change restarts running containers and N"}[e.arg&3])
	case eCrash:
		return "FAULT: " + e.c.String() + " crashes"
	case eProbeKill:
		return "FAULT: kubelet kills N (startup probe failure threshold)"
	case eIdentity:
		if e.arg == 1 {
			return "FAULT: N's startup probe cannot read the sandbox identity"
		}
		return "FAULT: " + e.c.String() + " cannot read the sandbox identity"
	case eRecreate:
		if e.arg&0x80 != 0 {
			return fmt.Sprintf("FAULT: sandbox re-created with identity %d, the handshake directory emptied", e.arg&0x7f)
		}
		return fmt.Sprintf("FAULT: sandbox re-created with identity %d", e.arg)
	case eDelete:
		return "FAULT: Pod deleted"
	}
	return "?"
}

// policy returns the Pod's restartPolicy with the API default applied.
func (m *model) policy() corev1.RestartPolicy {
	if m.cfg.RestartPolicy == "" {
		return corev1.RestartPolicyAlways
	}
	return m.cfg.RestartPolicy
}

// initActions is the kubelet's init container logic: which init containers
// to start, whether the Pod is initialized, whether it fails.
func (m *model) initActions(s *state) (start []ctr, initialized, fail bool) {
	inits := []ctr{cN}
	if m.cfg.ExtraInit {
		inits = append(inits, cI)
	}
	kind := Kind(s.kind)
	if kind == Strip {
		return m.stripInit(s, inits)
	}
	// computeInitContainerActions: whether a regular container ran.
	var podInit bool
	switch kind {
	case Native128:
		// v1.28.15 hasAnyRegularContainerCreated: any status, of any
		// sandbox.
		podInit = s.l.st != cNone || s.a.st != cNone
	case NativeStaleInit:
		// v1.29.15 to v1.36.0: a Created or Running regular container.
		podInit = s.l.st == cRunning || s.a.st == cRunning
	default:
		// v1.37.2 HasAnyActiveRegularContainerStarted: any status in the
		// current sandbox.
		podInit = s.l.active || s.a.active
	}
	prev := podInit
	last := len(inits) - 1
	for idx := last; idx >= 0; idx-- {
		c := inits[idx]
		st, restartable := m.seen(s, c), c == cN
		if st == cNone {
			if prev && restartable {
				start = append(start, c)
			}
			continue
		}
		if prev && !restartable {
			continue
		}
		switch st {
		case cRunning:
			if restartable && s.n.started {
				if idx == last {
					podInit = true
				} else if !prev {
					start = append(start, inits[idx+1])
				}
			}
		case cExited0, cFailed:
			switch {
			case restartable:
				start = append(start, c)
			case st == cFailed && m.policy() == corev1.RestartPolicyNever:
				return nil, false, true
			case st == cFailed:
				start = append(start, c)
			case idx == last:
				podInit = true
			default:
				start = append(start, inits[idx+1])
			}
		}
		prev = true
	}
	if !prev {
		start = append(start, inits[0])
	}
	return start, podInit, false
}

// seen is c's status as the kubelet reads it: before v1.37 the newest
// status of the container's name, which for I is the one of an earlier
// sandbox until I runs in this one (N always runs first in a new sandbox).
func (m *model) seen(s *state, c ctr) cstat {
	if c == cI && s.i.st == cNone && Kind(s.kind).staleStatus() {
		return s.iPrev
	}
	return m.status(s, c)
}

// stripInit is an old kubelet's: every init container is ordinary and
// runs to completion in order.
func (m *model) stripInit(s *state, inits []ctr) (start []ctr, initialized, fail bool) {
	if s.l.st == cRunning || s.a.st == cRunning {
		return nil, true, false
	}
	for _, c := range inits {
		switch m.status(s, c) {
		case cNone:
			return []ctr{c}, false, false
		case cRunning:
			return nil, false, false
		case cFailed:
			if m.policy() == corev1.RestartPolicyNever {
				return nil, false, true
			}
			return []ctr{c}, false, false
		}
	}
	return nil, true, false
}

func (m *model) status(s *state, c ctr) cstat {
	switch c {
	case cN:
		return s.n.st
	case cI:
		return s.i.st
	case cL:
		return s.l.st
	}
	return s.a.st
}

// regularActions is the kubelet's logic for regular containers once the
// Pod is initialized: which to start, and whether none runs or will run.
func (m *model) regularActions(s *state) (start []ctr, done bool) {
	keep := 0
	for _, c := range []ctr{cL, cA} {
		st := m.status(s, c)
		if st == cRunning {
			keep++
			continue
		}
		restart := st == cNone
		switch m.policy() {
		case corev1.RestartPolicyAlways:
			restart = true
		case corev1.RestartPolicyOnFailure:
			restart = restart || st == cFailed
		}
		if restart {
			start = append(start, c)
		}
	}
	return start, keep == 0 && len(start) == 0
}

// kubeletEvents appends what the kubelet may do in s.
func (m *model) kubeletEvents(s *state, out []event) []event {
	kind := Kind(s.kind)
	if s.deleting {
		for _, c := range []ctr{cN, cI, cL, cA} {
			if m.status(s, c) != cRunning {
				continue
			}
			if c == cN && kind.ordered() && (s.l.st == cRunning || s.a.st == cRunning) {
				continue
			}
			out = append(out, event{k: eKill, c: c})
		}
		return out
	}
	start, initialized, fail := m.initActions(s)
	if fail {
		return append(out, event{k: eFailPod})
	}
	for _, c := range start {
		out = append(out, event{k: eStart, c: c})
	}
	if kind.native() && !m.cfg.NoStartupProbe && s.n.st == cRunning && !s.n.started && !s.n.noProbe {
		out = append(out, event{k: eProbe})
	}
	if initialized {
		regular, done := m.regularActions(s)
		for _, c := range regular {
			out = append(out, event{k: eStart, c: c})
		}
		if done {
			out = append(out, event{k: eComplete})
		}
	}
	return out
}

// processEvents appends what the containers' processes may do in s.
func (m *model) processEvents(s *state, out []event) []event {
	for _, w := range []who{native, legacy} {
		t, c := s.twin(w), cN
		if w == legacy {
			c = cL
		}
		if t.st != cRunning {
			continue
		}
		switch t.step {
		case sFresh, sDecided, sExiting, sStopping:
			out = append(out, event{k: eStep, c: c})
		case sRunning:
			if w == legacy {
				out = append(out, event{k: eWatch, c: c})
			}
		case sConfirming:
			out = append(out, event{k: ePoll, c: c}, event{k: eTimeout, c: c})
		}
	}
	if s.i.st == cRunning {
		out = append(out, event{k: eExit0, c: cI})
	}
	if s.a.st == cRunning && m.policy() != corev1.RestartPolicyAlways {
		out = append(out, event{k: eExit0, c: cA})
	}
	return out
}

// faultEvents appends the operations and faults still in budget.
func (m *model) faultEvents(s *state, out []event) []event {
	kind := Kind(s.kind)
	if int(s.restarts) < m.cfg.KubeletRestarts && !s.deleting && kind.native() {
		out = append(out, event{k: eRestart, arg: 0})
		if kind == Native || kind == NativeStaleInit {
			// v1.35.4 and later seed a started sidecar's startup result
			// (kubernetes#136910); earlier kubelets probe again.
			out = append(out, event{k: eRestart, arg: 1})
		}
		if m.cfg.Bug136910 {
			out = append(out, event{k: eRestart, arg: 2})
		}
	}
	if m.cfg.Upgrade && !s.upgraded && !s.deleting {
		for _, h := range hashChanges(Kind(s.kind), m.cfg.To) {
			out = append(out, event{k: eUpgrade, arg: uint8(m.cfg.To)<<2 | uint8(h)})
		}
	}
	if int(s.faults) < m.cfg.Faults {
		for _, c := range []ctr{cN, cI, cL, cA} {
			if m.status(s, c) == cRunning {
				out = append(out, event{k: eCrash, c: c})
			}
		}
		if s.n.st == cRunning && !s.n.started && s.n.probeFailed && !s.deleting {
			out = append(out, event{k: eProbeKill, c: cN})
		}
		if m.cfg.IdentityFaults {
			for _, w := range []who{native, legacy} {
				if t := s.twin(w); t.st == cRunning && !t.keyed {
					out = append(out, event{k: eIdentity, c: ctrOf(w)})
				}
			}
			if kind.native() && !m.cfg.NoStartupProbe && s.n.st == cRunning && !s.n.started && !s.n.noProbe {
				out = append(out, event{k: eIdentity, c: cN, arg: 1})
			}
		}
	}
	if int(s.recreations) < m.cfg.Recreations && !s.deleting {
		for id := uint8(0); id <= s.ids; id++ {
			out = append(out, event{k: eRecreate, arg: id})
		}
		if int(s.losses) < m.cfg.Losses {
			// With the directory emptied an earlier identity is no
			// different from a fresh one.
			out = append(out, event{k: eRecreate, arg: s.ids | 0x80})
		}
	}
	if m.cfg.Delete && !s.deleting {
		out = append(out, event{k: eDelete})
	}
	return out
}

// events lists every event enabled in s, in a fixed order.
func (m *model) events(s *state, buf []event) []event {
	out := buf[:0]
	if s.phase.terminal() {
		return out
	}
	out = m.kubeletEvents(s, out)
	out = m.processEvents(s, out)
	return m.faultEvents(s, out)
}

// input returns the protocol.Input of twin w in s.
func (m *model) input(s *state, w who) protocol.Input {
	role := protocol.Native
	if w == legacy {
		role = protocol.Legacy
	}
	t := s.twin(w)
	sb := key(s.sandbox)
	if t.degraded {
		sb = degradedKey
	}
	return protocol.Input{Role: role, RestartPolicy: m.policy(), Sandbox: sb, Phase: protocol.Phase(t.phase)}
}
