package handshake_test

import (
	"os"

	"github.com/sidecarkit/sidecarkit/universal/handshake"
)

// A command-line program runs the handshake with the real operating
// system; args are what follows its "handshake" command word, for example
// "--role=native --dir=/sidecarkit/handshake -- /proxy --listen=:15001".
func ExampleRunner() {
	r := handshake.Runner{System: handshake.OS(), Env: os.Environ(), Stderr: os.Stderr}
	if len(os.Args) > 2 && os.Args[1] == "handshake" {
		os.Exit(r.Main(os.Args[2:]))
	}
}
