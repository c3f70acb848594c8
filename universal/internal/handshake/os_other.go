//go:build !unix

package handshake

import (
	"errors"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

var errUnsupported = errors.New("handshake: needs a Unix system (Linux for the sandbox identity)")

func execve(string, []string, []string) error { return errUnsupported }

func readSandbox(string, func() (uint64, error), string) (protocol.Sandbox, error) {
	return protocol.Sandbox{}, errUnsupported
}

func startChild(string, []string, []string) (Child, error) { return nil, errUnsupported }
