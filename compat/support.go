package compat

import "fmt"

// Support is a tri-state answer. Unknown, the zero value, is never treated as
// either of the other two.
type Support int

// The Support values.
const (
	Unknown Support = iota
	Unsupported
	Supported
)

func supportNames() []string {
	return []string{"unknown", "unsupported", "supported"}
}

// String returns "unknown", "unsupported" or "supported".
func (s Support) String() string { return enumString(supportNames(), int(s), "Support") }

// MarshalText encodes s as its String form.
func (s Support) MarshalText() ([]byte, error) { return enumMarshal(supportNames(), int(s), "Support") }

// UnmarshalText decodes the String form.
func (s *Support) UnmarshalText(b []byte) error {
	return enumUnmarshal(supportNames(), b, "Support", (*int)(s))
}

// weakness orders Support from best to worst for [Weakest]: a known gap is
// weaker than an unknown, an unknown is weaker than support.
func (s Support) weakness() int {
	switch s {
	case Supported:
		return 0
	case Unsupported:
		return 2
	}
	return 1
}

// Kubelet says what a kubelet does with an init container that carries
// restartPolicy: Always (docs/capability.md#the-capability).
type Kubelet int

// The Kubelet values.
const (
	// KubeletUnknown is the zero value: nothing is known.
	KubeletUnknown Kubelet = iota
	// KubeletNative runs the container as a native sidecar: ≥1.33, 1.29–1.32
	// unless the gate is off, 1.28 only with the gate on.
	KubeletNative
	// KubeletStrips (≤1.27) decodes the Pod with types that lack the field, so
	// the sidecar becomes an ordinary init container that must exit 0 before
	// anything else starts: a long-running sidecar hangs the Pod in Init.
	KubeletStrips
	// KubeletRejects (1.28–1.32 with the SidecarContainers gate off) refuses
	// the Pod at kubelet admission (reason InitContainerRestartPolicyForbidden);
	// the Pod goes Failed and a controller recreates it in a loop.
	KubeletRejects
)

func kubeletNames() []string {
	return []string{"unknown", "native", "strips", "rejects"}
}

func kubeletDescriptions() []string {
	return []string{
		"unknown: nothing says what the kubelet does with restartPolicy: Always",
		"runs init containers with restartPolicy: Always as native sidecars",
		"ignores restartPolicy (kubelet ≤1.27): the sidecar becomes an ordinary init container that must exit 0, so a long-running sidecar hangs the Pod in Init",
		"rejects the Pod at admission (SidecarContainers gate off on a 1.28–1.32 kubelet, reason InitContainerRestartPolicyForbidden): the Pod goes Failed",
	}
}

// String returns "unknown", "native", "strips" or "rejects".
func (k Kubelet) String() string { return enumString(kubeletNames(), int(k), "Kubelet") }

// Description says in a sentence what the kubelet does, and how a native
// sidecar fails there.
func (k Kubelet) Description() string {
	return enumString(kubeletDescriptions(), int(k), "Kubelet")
}

// MarshalText encodes k as its String form.
func (k Kubelet) MarshalText() ([]byte, error) { return enumMarshal(kubeletNames(), int(k), "Kubelet") }

// UnmarshalText decodes the String form.
func (k *Kubelet) UnmarshalText(b []byte) error {
	return enumUnmarshal(kubeletNames(), b, "Kubelet", (*int)(k))
}

// weakness orders kubelet capabilities for [Weakest]. Native is best. Strips
// comes next, since the universal pair handles it. Unknown is worse, since it
// may hide a rejecting node. Rejects is worst: nothing but legacy or pinning
// works on such a node.
func (k Kubelet) weakness() int {
	switch k {
	case KubeletNative:
		return 0
	case KubeletStrips:
		return 1
	case KubeletRejects:
		return 3
	}
	return 2
}

// APIServer says what an API server does with restartPolicy: Always on an
// init container (docs/field-stripping.md).
type APIServer int

// The APIServer values.
const (
	// APIServerUnknown is the zero value: nothing is known.
	APIServerUnknown APIServer = iota
	// APIServerStores keeps the field: 1.29+ by default, 1.28 with the gate on.
	APIServerStores
	// APIServerDrops (SidecarContainers gate off: 1.28 by default, 1.29–1.32
	// when disabled) silently drops the field on create; a sidecar with
	// probes or lifecycle then gets the whole Pod rejected.
	APIServerDrops
	// APIServerUnknownField (≤1.27) does not know the field: strict clients
	// get "unknown field", other paths (webhooks) drop it silently.
	APIServerUnknownField
)

func apiServerNames() []string {
	return []string{"unknown", "stores", "drops", "unknown-field"}
}

func apiServerDescriptions() []string {
	return []string{
		"unknown: nothing says what the API server does with restartPolicy: Always",
		"stores restartPolicy: Always on init containers",
		"silently drops restartPolicy on create (SidecarContainers gate off); a sidecar with probes or lifecycle then gets the Pod rejected",
		"does not know the field (API server ≤1.27): strict clients get \"unknown field\", webhook patches lose it silently",
	}
}

// String returns "unknown", "stores", "drops" or "unknown-field".
func (a APIServer) String() string { return enumString(apiServerNames(), int(a), "APIServer") }

// Description says in a sentence what the API server does with the field.
func (a APIServer) Description() string {
	return enumString(apiServerDescriptions(), int(a), "APIServer")
}

// MarshalText encodes a as its String form.
func (a APIServer) MarshalText() ([]byte, error) {
	return enumMarshal(apiServerNames(), int(a), "APIServer")
}

// UnmarshalText decodes the String form.
func (a *APIServer) UnmarshalText(b []byte) error {
	return enumUnmarshal(apiServerNames(), b, "APIServer", (*int)(a))
}

// weakness orders API server capabilities for [Weakest]: stores, unknown,
// drops, unknown field.
func (a APIServer) weakness() int {
	switch a {
	case APIServerStores:
		return 0
	case APIServerDrops:
		return 2
	case APIServerUnknownField:
		return 3
	}
	return 1
}

func enumString(names []string, i int, typ string) string {
	if i < 0 || i >= len(names) {
		return fmt.Sprintf("%s(%d)", typ, i)
	}
	return names[i]
}

func enumMarshal(names []string, i int, typ string) ([]byte, error) {
	if i < 0 || i >= len(names) {
		return nil, fmt.Errorf("compat: invalid %s %d", typ, i)
	}
	return []byte(names[i]), nil
}

func enumUnmarshal(names []string, b []byte, typ string, dst *int) error {
	for i, n := range names {
		if string(b) == n {
			*dst = i
			return nil
		}
	}
	return fmt.Errorf("compat: unknown %s %q (want one of %q)", typ, b, names)
}
