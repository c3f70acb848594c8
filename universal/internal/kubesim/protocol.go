package kubesim

import (
	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// Protocol is the handshake logic the simulated twins and the native
// twin's startup probe run.
type Protocol interface {
	// Next observes d and decides, like protocol.Next.
	Next(d protocol.Dir, in protocol.Input) (protocol.Decision, error)
	// Claim claims the sandbox, like protocol.Claim.
	Claim(d protocol.Dir, sandbox string, role protocol.Role) (bool, error)
	// RecordSeen records the native twin's first run, like
	// protocol.RecordSeen.
	RecordSeen(d protocol.Dir, sandbox string) error
	// Probe is the native twin's wrapped startup probe, like
	// protocol.Probe.
	Probe(d protocol.Dir, sandbox string) (protocol.Verdict, error)
	// RecordEarly records the legacy twin's early start, like
	// protocol.RecordEarly.
	RecordEarly(d protocol.Dir, sandbox string) error
	// RecordHandover records the legacy twin's handover, like
	// protocol.RecordHandover.
	RecordHandover(d protocol.Dir, sandbox string) error
	// Identify is what a process does with the identity it read and the
	// error of reading it, like protocol.Identify: the key to use, or an
	// error (the process fails).
	Identify(sb protocol.Sandbox, err error) (string, error)
}

// Production returns the handshake logic of package universal, the one
// package handshake runs.
func Production() Protocol { return production{} }

type production struct{}

func (production) Next(d protocol.Dir, in protocol.Input) (protocol.Decision, error) {
	dec, _, err := protocol.Next(d, in)
	return dec, err
}

func (production) Claim(d protocol.Dir, sandbox string, role protocol.Role) (bool, error) {
	return protocol.Claim(d, sandbox, role)
}

func (production) RecordSeen(d protocol.Dir, sandbox string) error {
	return protocol.RecordSeen(d, sandbox)
}

func (production) RecordEarly(d protocol.Dir, sandbox string) error {
	return protocol.RecordEarly(d, sandbox)
}

func (production) RecordHandover(d protocol.Dir, sandbox string) error {
	return protocol.RecordHandover(d, sandbox)
}

func (production) Identify(sb protocol.Sandbox, err error) (string, error) {
	return protocol.Identify(sb, err)
}

func (production) Probe(d protocol.Dir, sandbox string) (protocol.Verdict, error) {
	v, _, err := protocol.Probe(d, protocol.Native, protocol.StartupProbe, sandbox)
	return v, err
}
