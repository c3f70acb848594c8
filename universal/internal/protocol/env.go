package protocol

// The environment variables the Planner sets in both twins. The handshake
// runner reads them when the matching flag is absent; the sidecar, which
// inherits them, may read them too.
const (
	// EnvRole is "native" or "legacy".
	EnvRole = "SIDECARKIT_HANDSHAKE_ROLE"
	// EnvDir is the handshake directory (the mount path of the handshake
	// volume).
	EnvDir = "SIDECARKIT_HANDSHAKE_DIR"
	// EnvRestartPolicy is the Pod's restartPolicy, which the downward API
	// does not expose.
	EnvRestartPolicy = "SIDECARKIT_POD_RESTART_POLICY"
	// EnvPodIP is the Pod's IP (downward API status.podIP), the host that
	// wrapped httpGet and tcpSocket probes check by default, as the
	// kubelet does.
	EnvPodIP = "SIDECARKIT_POD_IP"
)
