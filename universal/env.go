package universal

import "time"

// Defaults shared by the Planner and the handshake runner.
const (
	// DefaultMountPath is where the twins mount the handshake volume.
	DefaultMountPath = "/sidecarkit/handshake"
	// DefaultConfirmTimeout is how long a restarted native twin waits for
	// the kubelet's startup probe before it concludes that the node is
	// old and exits 0.
	DefaultConfirmTimeout = 30 * time.Second
)
