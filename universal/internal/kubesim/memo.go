package kubesim

import (
	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// The handshake's calls are functions of the directory and their
// arguments (Protocol requires it), and most states share a directory
// with many others: the model remembers each call's answer and the
// directory it leaves, instead of parsing the markers again.

type op uint8

const (
	opNext op = iota
	opClaim
	opSeen
	opEarly
	opProbe
	opHandOver
)

type memoKey struct {
	op    op
	files [maxFiles]file
	role  protocol.Role
	sb    string
	phase protocol.Phase
}

type memoVal struct {
	files [maxFiles]file
	dec   protocol.Decision
	ok    bool
	v     protocol.Verdict
	err   error
}

// call runs f, a call of kind o of the protocol with input in, on s's
// directory, or replays its remembered effect and answer.
func (m *model) call(s *state, o op, in protocol.Input, f func(d protocol.Dir) memoVal) memoVal {
	k := memoKey{op: o, files: s.files, role: in.Role, sb: in.Sandbox, phase: in.Phase}
	if v, ok := m.memo[k]; ok {
		s.files = v.files
		return v
	}
	v := f(memDir{s, m.tab})
	v.files = s.files
	m.memo[k] = v
	return v
}

func (m *model) next(s *state, in protocol.Input) (protocol.Decision, error) {
	v := m.call(s, opNext, in, func(d protocol.Dir) memoVal {
		dec, err := m.proto.Next(d, in)
		return memoVal{dec: dec, err: err}
	})
	return v.dec, v.err
}

func (m *model) claim(s *state, sb string, role protocol.Role) (bool, error) {
	v := m.call(s, opClaim, protocol.Input{Sandbox: sb, Role: role}, func(d protocol.Dir) memoVal {
		ok, err := m.proto.Claim(d, sb, role)
		return memoVal{ok: ok, err: err}
	})
	return v.ok, v.err
}

func (m *model) recordSeen(s *state, sb string) error {
	return m.call(s, opSeen, protocol.Input{Sandbox: sb}, func(d protocol.Dir) memoVal {
		return memoVal{err: m.proto.RecordSeen(d, sb)}
	}).err
}

func (m *model) recordEarly(s *state, sb string) error {
	return m.call(s, opEarly, protocol.Input{Sandbox: sb}, func(d protocol.Dir) memoVal {
		return memoVal{err: m.proto.RecordEarly(d, sb)}
	}).err
}

func (m *model) recordHandover(s *state, sb string) error {
	return m.call(s, opHandOver, protocol.Input{Sandbox: sb}, func(d protocol.Dir) memoVal {
		return memoVal{err: m.proto.RecordHandover(d, sb)}
	}).err
}

// observe returns the markers of s's directory for sandbox sb (for
// properties; it changes nothing).
func (m *model) observe(s *state, sb string) protocol.Markers {
	mk, _ := protocol.Observe(memDir{s, m.tab}, sb)
	return mk
}

func (m *model) probeVerdict(s *state, sb string) (protocol.Verdict, error) {
	v := m.call(s, opProbe, protocol.Input{Sandbox: sb}, func(d protocol.Dir) memoVal {
		v, err := m.proto.Probe(d, sb)
		return memoVal{v: v, err: err}
	})
	return v.v, v.err
}
