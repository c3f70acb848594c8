package kubesim

import (
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
		err = m.probe(&s)
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
	case eCrash, eProbeKill:
		s.faults++
		m.stop(&s, e.c, cFailed)
		switch e.c {
		case cN:
			s.n.faulted = true
		case cL:
			s.l.faulted = true
		}
	case eRecreate:
		m.recreate(&s, e.arg)
	case eDelete:
		s.deleting = true
	}
	if s.deleting && !s.phase.terminal() && s.n.st != cRunning && s.i.st != cRunning && s.l.st != cRunning && s.a.st != cRunning {
		s.phase = pDeleted
	}
	return s, err
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
}

// stop ends c's run with status st.
func (m *model) stop(s *state, c ctr, st cstat) {
	switch c {
	case cN, cL:
		t := s.twin(whoOf(c))
		*t = twin{st: st, active: t.active, faulted: t.faulted}
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
// has one) passes once the sidecar runs.
func (m *model) probe(s *state) error {
	v, err := m.proto.Probe(memDir{s, m.tab}, key(s.sandbox))
	if err != nil {
		return err
	}
	pass := v == protocol.Pass || v == protocol.Check && s.n.step == sRunning
	s.n.started, s.n.probeFailed = pass, !pass
	return nil
}

// step is one step of twin w's handshake: observe and decide, or act.
func (m *model) step(s *state, w who) error {
	t := s.twin(w)
	in := m.input(s, w)
	d := memDir{s, m.tab}
	if t.step == sFresh {
		dec, err := m.proto.Next(d, in)
		if err != nil {
			return err
		}
		t.step, t.act, t.claim = sDecided, uint8(dec.Action), dec.Claim
		return nil
	}
	if t.step == sExiting {
		m.stop(s, ctrOf(w), cExited0)
		return nil
	}
	switch protocol.Action(t.act) {
	case protocol.Run:
		if t.claim {
			ok, err := m.proto.Claim(d, in.Sandbox, in.Role)
			if err != nil {
				return err
			}
			if !ok {
				t.step = sFresh // observe and decide again
				return nil
			}
		}
		t.step, t.faulted = sRunning, false
		switch s.designated {
		case nobody:
			s.designated = w
		case w:
		default:
			s.handoff = true
		}
	case protocol.RecordAndExit0:
		if err := m.proto.RecordSeen(d, in.Sandbox); err != nil {
			return err
		}
		t.step = sExiting
	case protocol.RecordEarlyAndWait:
		if err := m.proto.RecordEarly(d, in.Sandbox); err != nil {
			return err
		}
		t.step = sFresh // observe and decide again
	case protocol.Exit0Now:
		m.stop(s, ctrOf(w), cExited0)
	case protocol.StandBy:
		t.step = sStandBy
	case protocol.Confirm:
		t.step = sConfirming
	default:
		return fmt.Errorf("kubesim: %s decided %v", w, t.act)
	}
	return nil
}

// recreate is computePodActions with a sandbox to (re-)create.
func (m *model) recreate(s *state, id uint8) {
	s.recreations++
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
	// Every container is killed; init containers' statuses belong to the
	// old sandbox; regular containers keep their last status.
	s.n, s.i = twin{}, plain{}
	if s.l.st == cRunning {
		s.l.st = cFailed
	}
	s.l = twin{st: s.l.st}
	if s.a.st == cRunning {
		s.a.st = cFailed
	}
	s.a.active = false
	s.designated, s.handoff = nobody, false
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
