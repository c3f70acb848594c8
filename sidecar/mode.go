package sidecar

import (
	"fmt"
	"strings"
)

// Mode is how a sidecar is injected.
type Mode string

// The modes. The zero value is Auto.
const (
	// Auto chooses a mode from the cluster's capability; see
	// docs/modes.md#auto and [Recommend].
	Auto Mode = ""
	// Native injects an init container with restartPolicy Always.
	Native Mode = "native"
	// Legacy injects a regular container.
	Legacy Mode = "legacy"
	// Pinned injects natively and adds a required node-affinity term that
	// keeps the Pod on nodes labelled native-capable.
	Pinned Mode = "pinned"
	// Universal injects a native and a legacy twin that decide at run time
	// which of them acts (package universal builds the pair).
	Universal Mode = "universal"
)

// String returns the mode's text form; Auto is "auto".
func (m Mode) String() string {
	if m == Auto {
		return "auto"
	}
	return string(m)
}

// ParseMode parses a mode's text form, case-insensitively.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return Auto, nil
	case string(Native):
		return Native, nil
	case string(Legacy):
		return Legacy, nil
	case string(Pinned):
		return Pinned, nil
	case string(Universal):
		return Universal, nil
	}
	return Auto, fmt.Errorf("sidecar: unknown mode %q (want one of auto, native, legacy, pinned, universal)", s)
}
