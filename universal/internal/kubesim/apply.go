package kubesim

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// apply returns the state after e. Errors are the protocol's (a model
// failure, reported as a violation).
func (m *model) apply(s state, e event) (state, error) {
	var err error
	switch e.k {
	case eStart:
		m.start(&s, e.c)
	case eProbe:
		err = m.probe(&s, false)
	case eComplete:
		s.phase = pFailed
		if s.l.st == cExited0 && s.a.st == cExited0 {
			s.phase = pSucceeded
		}
		m.stopAll(&s)
	case eFailPod:
		s.phase = pFailed
		m.stopAll(&s)
	case eKill:
		m.stop(&s, e.c, cFailed)
	case eStep:
		err = m.step(&s, whoOf(e.c))
	case ePoll:
		if t := s.twin(whoOf(e.c)); t.phase != uint8(protocol.TimedOut) {
			t.step, t.phase = sFresh, uint8(protocol.Confirming)
		} else {
			t.step = sFresh
		}
	case eTimeout:
		t := s.twin(whoOf(e.c))
		t.step, t.phase = sFresh, uint8(protocol.TimedOut)
	case eExit0:
		m.stop(&s, e.c, cExited0)
	case eWatch:
		err = m.watch(&s)
	case eRestart:
		s.restarts++
		m.kubeletRestart(&s, e.arg)
	case eUpgrade:
		m.upgrade(&s, Kind(e.arg>>2), hashChange(e.arg&3))
	case eCrash, eProbeKill:
		s.faults++
		m.noteFault(&s, e.c)
		m.stop(&s, e.c, cFailed)
		switch e.c {
		case cN:
			s.n.faulted = true
		case cL:
			s.l.faulted = true
		}
	case eIdentity:
		s.faults++
		err = m.identityFault(&s, e)
	case eRecreate:
		m.recreate(&s, e.arg&0x7f, e.arg&0x80 != 0)
	case eDelete:
		s.deleting = true
	}
	if s.deleting && !s.phase.terminal() && s.n.st != cRunning && s.i.st != cRunning && s.l.st != cRunning && s.a.st != cRunning {
		s.phase = pDeleted
	}
	return s, err
}

// noteFault records whom a fault hits: the legacy twin before it acted,
// while the native twin acts or will (a native node), or anything else.
func (m *model) noteFault(s *state, c ctr) {
	if !m.cfg.CheckDormant {
		return // history kept only when checked: it splits states
	}
	if c == cL && !s.l.runsSidecar() && Kind(s.kind).native() && s.designated != legacy {
		s.dormantFault = true
		return
	}
	s.otherFault = true
}

func (m *model) start(s *state, c ctr) {
	switch c {
	case cN, cL:
		t := s.twin(whoOf(c))
		*t = twin{st: cRunning, active: true, faulted: t.faulted}
		if c == cN && m.cfg.NoStartupProbe {
			t.started = true
		}
	case cI:
		s.i = plain{st: cRunning, active: true}
	case cA:
		s.a = plain{st: cRunning, active: true}
	}
	if c != cN && m.early && Kind(s.kind).staleStatus() && !(s.n.st == cRunning && s.n.started) {
		s.early = true
	}
}

// stop ends c's run with status st.
func (m *model) stop(s *state, c ctr, st cstat) {
	switch c {
	case cN, cL:
		t := s.twin(whoOf(c))
		*t = twin{st: st, active: t.active, faulted: t.faulted}
		if c == cN && st == cExited0 && m.track {
			s.nExited = true
		}
	case cI:
		s.i.st = st
	case cA:
		s.a.st = st
	}
}

func (m *model) stopAll(s *state) {
	for _, c := range []ctr{cN, cI, cL, cA} {
		if m.status(s, c) == cRunning {
			m.stop(s, c, cFailed)
		}
	}
}

// probe runs N's wrapped startup probe. Its own check (when the sidecar
// has one) passes once the sidecar runs. A probe that cannot read the
// sandbox identity fails, or, under a protocol that carries on, probes
// with the degraded key.
func (m *model) probe(s *state, idFault bool) error {
	sb := key(s.sandbox)
	if idFault {
		k, err := m.proto.Identify(identity(s.sandbox, true), errIdentity)
		if err != nil {
			// The probe fails and records nothing: the directory holds
			// no proof of a native node (s.probed stays as it was).
			s.n.started, s.n.probeFailed = false, true
			return nil
		}
		sb = k
	}
	s.probed = m.track
	v, err := m.probeVerdict(s, sb)
	if err != nil {
		return err
	}
	pass := v == protocol.Pass || v == protocol.Check && s.n.step == sRunning
	s.n.started, s.n.probeFailed = pass, !pass
	return nil
}

// errIdentity is the error of an identity read the model makes fail.
var errIdentity = errors.New("network namespace cookie: getsockopt: no buffer space available")

// identityFault makes twin c's first identity read fail, or N's startup
// probe's: the production protocol refuses (the run exits non-zero, the
// probe fails); one that carries on uses the degraded key.
func (m *model) identityFault(s *state, e event) error {
	if e.arg == 1 {
		m.noteFault(s, cN)
		return m.probe(s, true)
	}
	m.noteFault(s, e.c)
	t := s.twin(whoOf(e.c))
	if _, err := m.proto.Identify(identity(s.sandbox, true), errIdentity); err != nil {
		m.stop(s, e.c, cFailed)
		t.faulted = true
		return nil
	}
	t.keyed, t.degraded = true, true
	return nil
}

// step is one step of twin w's handshake: observe and decide, or act.
func (m *model) step(s *state, w who) error {
	t := s.twin(w)
	t.keyed = m.cfg.IdentityFaults // kept only when it matters: it splits states
	in := m.input(s, w)
	if t.step == sFresh {
		dec, err := m.next(s, in)
		if err != nil {
			return err
		}
		t.step, t.act, t.claim = sDecided, uint8(dec.Action), dec.Claim
		t.blind = w == legacy && dec.Action == protocol.Run && dec.Claim &&
			(!Kind(s.kind).native() || m.track && !s.probed && (s.nExited || s.collided))
		return nil
	}
	if t.step == sExiting {
		m.stop(s, ctrOf(w), cExited0)
		return nil
	}
	if t.step == sStopping {
		// The sidecar exited (on SIGTERM, or SIGKILL after the grace):
		// no twin runs it until the native twin acts.
		t.step, t.act, t.claim = sDecided, uint8(protocol.HandOver), false
		s.handing = true
		return nil
	}
	switch protocol.Action(t.act) {
	case protocol.Run:
		if t.claim {
			ok, err := m.claim(s, in.Sandbox, in.Role)
			if err != nil {
				return err
			}
			if !ok {
				t.step = sFresh // observe and decide again
				return nil
			}
			if t.blind {
				s.excused |= 1 << s.sandbox
			} else if w == legacy && Kind(s.kind).native() {
				s.needless = true
			}
		}
		t.step, t.faulted = sRunning, false
		if w == native {
			s.handing = false
		}
		switch s.designated {
		case nobody:
			s.designated = w
		case w:
		default:
			s.handoff = true
		}
	case protocol.RecordAndExit0:
		if err := m.recordSeen(s, in.Sandbox); err != nil {
			return err
		}
		t.step = sExiting
		if w == native && m.track {
			s.nExited = true
		}
	case protocol.RecordEarlyAndWait:
		if err := m.recordEarly(s, in.Sandbox); err != nil {
			return err
		}
		t.step = sFresh // observe and decide again
	case protocol.Exit0Now:
		// A native kubelet restarts a native twin after any exit: one
		// that exits while a twin acts in its sandbox, before its
		// confirmation timed out, loops through restarts.
		s.loops = s.loops || w == native && Kind(s.kind).native() && t.phase != uint8(protocol.TimedOut) &&
			protocol.Acts(protocol.Legacy, in.Sandbox, m.observe(s, in.Sandbox))
		m.stop(s, ctrOf(w), cExited0)
	case protocol.HandOver:
		if w != legacy {
			return fmt.Errorf("kubesim: %s decided %v", w, protocol.Action(t.act))
		}
		if err := m.recordHandover(s, in.Sandbox); err != nil {
			return err
		}
		// The sandbox is the native twin's from now on.
		s.designated, s.handing = native, !s.n.runsSidecar()
		t.step = sFresh // observe and decide again
	case protocol.StandBy:
		t.step = sStandBy
	case protocol.Confirm:
		t.step = sConfirming
	default:
		return fmt.Errorf("kubesim: %s decided %v", w, t.act)
	}
	return nil
}

// watch is a step of the legacy twin's handshake while its sidecar runs
// (as the sidecar's parent): it observes and decides, and starts
// stopping the sidecar when it is to hand over; it ignores any other
// decision.
func (m *model) watch(s *state) error {
	dec, err := m.next(s, m.input(s, legacy))
	if err != nil {
		return err
	}
	if dec.Action == protocol.HandOver {
		s.l.step = sStopping
	}
	return nil
}

// kubeletRestart is a restart of the kubelet (same binary): containers
// keep running; what the kubelet knows of probes is lost (v1.34 and
// earlier: probed again), kept (v1.35.4 and later seed a started sidecar's
// startup result, kubernetes#136910), or, with that bug, lost for good.
func (m *model) kubeletRestart(s *state, how uint8) {
	switch how {
	case 0:
		s.n.started, s.n.probeFailed = false, false
	case 1:
		s.n.probeFailed = false
	case 2:
		if s.n.started {
			s.n.noProbe = true
		}
		s.n.started, s.n.probeFailed = false, false
	}
}

// upgrade replaces the kubelet in place by one of kind to: containers
// keep running; the new kubelet re-admits the Pod (a kubelet that rejects
// native sidecars fails it, lifecycle.predicateAdmitHandler, v1.28.15),
// probes again, and restarts the containers whose hash changed.
func (m *model) upgrade(s *state, to Kind, h hashChange) {
	s.upgraded, s.kind = true, uint8(to)
	if to == Reject {
		s.phase = pRejected
		m.stopAll(s)
		return
	}
	if to == Native {
		m.kubeletRestart(s, 1) // a started N is seeded (v1.37.2 prober worker)
	} else {
		m.kubeletRestart(s, 0)
	}
	restart := func(c ctr) {
		if m.status(s, c) != cRunning {
			return
		}
		m.start(s, c)
		if c == cN || c == cL {
			s.twin(whoOf(c)).faulted = true // recovering, not a fault of the pair
		}
	}
	if h == hashRegular || h == hashAll {
		restart(cL)
		restart(cA)
	}
	if h == hashAll {
		restart(cN)
	}
}

// recreate is computePodActions with a sandbox to (re-)create.
func (m *model) recreate(s *state, id uint8, lose bool) {
	s.recreations++
	m.noteFault(s, cA)
	ran := s.n.st != cNone || s.i.st != cNone || s.l.st != cNone || s.a.st != cNone
	switch m.policy() {
	case corev1.RestartPolicyNever:
		if ran {
			// A Pod that ran containers never gets a new sandbox.
			s.phase = pFailed
			m.stopAll(s)
			return
		}
	case corev1.RestartPolicyOnFailure:
		if s.l.st == cExited0 && s.a.st == cExited0 {
			s.phase = pSucceeded
			m.stopAll(s)
			return
		}
	}
	if id == s.ids {
		s.ids++
	} else {
		s.collided = true
	}
	s.sandbox = id
	if lose {
		s.losses++
		s.files = [maxFiles]file{}
		s.probed, s.excused = false, 0
	}
	// Every container is killed; init containers' statuses belong to the
	// old sandbox; regular containers keep their last status.
	if s.i.st == cRunning {
		s.i.st = cFailed
	}
	if s.i.st != cNone && m.stale {
		s.iPrev = s.i.st
	}
	s.n, s.i = twin{}, plain{}
	if s.l.st == cRunning {
		s.l.st = cFailed
	}
	s.l = twin{st: s.l.st}
	if s.a.st == cRunning {
		s.a.st = cFailed
	}
	s.a.active = false
	s.designated, s.handoff, s.handing = nobody, false, false
	s.sbOld, s.early, s.nExited = !Kind(s.kind).native(), false, false
	// The sync that creates the sandbox starts the first init container
	// (computePodActions: InitContainersToStart = [0], or
	// NextInitContainerToStart on kubelets without native sidecars).
	m.start(s, cN)
}

func whoOf(c ctr) who {
	if c == cL {
		return legacy
	}
	return native
}

func ctrOf(w who) ctr {
	if w == legacy {
		return cL
	}
	return cN
}
