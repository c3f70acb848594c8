package kubesim

import (
	"github.com/sidecarkit/sidecarkit/universal"
)

// Protocol is the handshake logic the simulated twins and the native
// twin's startup probe run.
type Protocol interface {
	// Next observes d and decides, like universal.Next.
	Next(d universal.Dir, in universal.Input) (universal.Decision, error)
	// Claim claims the sandbox, like universal.Claim.
	Claim(d universal.Dir, sandbox string, role universal.Role) (bool, error)
	// RecordSeen records the native twin's first run, like
	// universal.RecordSeen.
	RecordSeen(d universal.Dir, sandbox string) error
	// Probe is the native twin's wrapped startup probe, like
	// universal.Probe.
	Probe(d universal.Dir, sandbox string) (universal.Verdict, error)
}

// Production returns the handshake logic of package universal, the one
// package handshake runs.
func Production() Protocol { return production{} }

type production struct{}

func (production) Next(d universal.Dir, in universal.Input) (universal.Decision, error) {
	dec, _, err := universal.Next(d, in)
	return dec, err
}

func (production) Claim(d universal.Dir, sandbox string, role universal.Role) (bool, error) {
	return universal.Claim(d, sandbox, role)
}

func (production) RecordSeen(d universal.Dir, sandbox string) error {
	return universal.RecordSeen(d, sandbox)
}

func (production) Probe(d universal.Dir, sandbox string) (universal.Verdict, error) {
	v, _, err := universal.Probe(d, universal.Native, universal.StartupProbe, sandbox)
	return v, err
}
