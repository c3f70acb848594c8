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
		return "Native(>=1.29)"
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
	// Faults.
	eCrash     // c crashes, or a liveness probe kills it
	eProbeKill // kubelet kills N after startup probe failures
	eRecreate  // the sandbox is re-created, with identity arg
	eDelete    // the Pod is deleted
)

// event is one transition label.
type event struct {
	k   evKind
	c   ctr
	arg uint8
}

func (e event) fault() bool { return e.k >= eCrash }

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
	case eCrash:
		return "FAULT: " + e.c.String() + " crashes"
	case eProbeKill:
		return "FAULT: kubelet kills N (startup probe failure threshold)"
	case eRecreate:
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
	if m.cfg.Kind == Strip {
		return m.stripInit(s, inits)
	}
	// computeInitContainerActions, v1.37.2.
	podInit := s.l.active || s.a.active
	if m.cfg.Kind == NativeStaleInit {
		podInit = s.l.st != cNone || s.a.st != cNone
	}
	prev := podInit
	last := len(inits) - 1
	for idx := last; idx >= 0; idx-- {
		c := inits[idx]
		st, restartable := m.status(s, c), c == cN
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
	if s.deleting {
		for _, c := range []ctr{cN, cI, cL, cA} {
			if m.status(s, c) != cRunning {
				continue
			}
			if c == cN && m.cfg.Kind.ordered() && (s.l.st == cRunning || s.a.st == cRunning) {
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
	if m.cfg.Kind.native() && !m.cfg.NoStartupProbe && s.n.st == cRunning && !s.n.started {
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
		case sFresh, sDecided, sExiting:
			out = append(out, event{k: eStep, c: c})
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

// faultEvents appends the faults still in budget.
func (m *model) faultEvents(s *state, out []event) []event {
	if int(s.faults) < m.cfg.Faults {
		for _, c := range []ctr{cN, cI, cL, cA} {
			if m.status(s, c) == cRunning {
				out = append(out, event{k: eCrash, c: c})
			}
		}
		if s.n.st == cRunning && !s.n.started && s.n.probeFailed && !s.deleting {
			out = append(out, event{k: eProbeKill, c: cN})
		}
	}
	if int(s.recreations) < m.cfg.Recreations && !s.deleting {
		for id := uint8(0); id <= s.ids; id++ {
			out = append(out, event{k: eRecreate, arg: id})
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
	return protocol.Input{Role: role, RestartPolicy: m.policy(), Sandbox: key(s.sandbox), Phase: protocol.Phase(s.twin(w).phase)}
}
