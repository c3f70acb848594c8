package compat

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/version"
)

// Minor versions where the SidecarContainers story changes
// (docs/native-sidecars.md#the-sidecarcontainers-feature-gate).
const (
	minorMetric  = 26 // kubernetes_feature_enabled exists
	minorAlpha   = 28 // gate alpha, off by default; the field exists
	minorBeta    = 29 // gate beta, on by default; ordered termination
	minorGA      = 33 // gate GA, locked on
	minorRemoved = 37 // gate removed, always on

	minorSkew3 = 28 // kubelets may be n-3 (KEP-3935), n-2 before (docs/capability.md#version-skew)
)

// ParseKubeletVersion infers a kubelet's capability from its version, as
// found in status.nodeInfo.kubeletVersion. Any distribution suffix is
// accepted (v1.29.3-eks-ae9a62a, v1.29.4-gke.1043002, v1.29.4+k3s1, ...):
// only major.minor is compared (docs/capability.md#versions). The inference
// assumes the gate's default: 1.28 rejects (alpha, off), 1.29–1.32 is
// native (beta, on; metrics can prove otherwise), 1.33+ is native, ≤1.27
// strips. An unparsable version gives the zero Capability (Unknown), with
// evidence saying why, and an error.
func ParseKubeletVersion(s string) (Capability, error) {
	c, err := kubeletFromVersion("kubelet", s)
	if err != nil {
		err = fmt.Errorf("compat: %w", err)
	}
	return c, err
}

// ParseAPIServerVersion infers an API server's capability from its version
// (the gitVersion of /version): ≤1.27 does not know the field, 1.28 drops it
// (gate off by default), 1.29+ stores it. Only major.minor is compared. An
// unparsable version gives Unknown, with evidence, and an error.
func ParseAPIServerVersion(s string) (Capability, error) {
	c, _, err := apiServerFromVersion(s)
	return c, err
}

// apiServerFromVersion is ParseAPIServerVersion that also returns the
// minor version.
func apiServerFromVersion(s string) (Capability, uint, error) {
	minor, err := parseMinor("API server", s)
	if err != nil {
		return Capability{}.withEvidence(Evidence{sourceAPIServerVersion, subjectAPIServer, unparsable(s)}), 0, fmt.Errorf("compat: %w", err)
	}
	a, why := apiServerByMinor(minor)
	return Capability{APIServer: a}.withEvidence(Evidence{sourceAPIServerVersion, subjectAPIServer,
		fmt.Sprintf("version %q is 1.%d: %s", s, minor, why)}), minor, nil
}

const subjectAPIServer = "kube-apiserver"

func kubeletFromVersion(subject, s string) (Capability, error) {
	minor, err := parseMinor("kubelet", s)
	if err != nil {
		return Capability{}.withEvidence(Evidence{sourceKubeletVersion, subject, unparsable(s)}), err
	}
	k, t, why := kubeletByMinor(minor)
	return Capability{Kubelet: k, OrderedTermination: t}.withEvidence(Evidence{sourceKubeletVersion, subject,
		fmt.Sprintf("version %q is 1.%d: %s", s, minor, why)}), nil
}

func unparsable(s string) string {
	return fmt.Sprintf("version %q cannot be parsed: capability unknown", s)
}

// parseMinor parses a Kubernetes version with ParseGeneric, never
// ParseSemantic, which ranks v1.29.0-eks-x below v1.29.0
// (docs/capability.md#versions).
// Its errors lack the "compat: " prefix; callers add it with context.
func parseMinor(component, s string) (uint, error) {
	v, err := version.ParseGeneric(s)
	if err != nil {
		return 0, fmt.Errorf("%s version %q: %w", component, s, err)
	}
	if v.Major() != 1 {
		return 0, fmt.Errorf("%s version %q: major version %d is not a Kubernetes 1.x release", component, s, v.Major())
	}
	return v.Minor(), nil
}

// kubeletByMinor is the version-only inference for a kubelet
// (docs/capability.md#versions).
func kubeletByMinor(minor uint) (Kubelet, Support, string) {
	switch {
	case minor < minorAlpha:
		return KubeletStrips, Unsupported, "the kubelet does not know restartPolicy on init containers (≤1.27): the sidecar runs as an ordinary init container"
	case minor == minorAlpha:
		return KubeletRejects, Unsupported, "SidecarContainers is alpha and off by default: the kubelet rejects the Pod unless metrics show the gate on; even then termination is unordered"
	case minor < minorGA:
		return KubeletNative, Supported, "SidecarContainers is beta and on by default (it can be turned off; metrics can verify)"
	case minor < minorRemoved:
		return KubeletNative, Supported, "SidecarContainers is GA and locked on"
	}
	return KubeletNative, Supported, "the SidecarContainers gate is removed: always on"
}

// apiServerByMinor is the version-only inference for an API server.
func apiServerByMinor(minor uint) (APIServer, string) {
	switch {
	case minor < minorAlpha:
		return APIServerUnknownField, "the API server does not know restartPolicy on init containers (≤1.27)"
	case minor == minorAlpha:
		return APIServerDrops, "SidecarContainers is alpha and off by default: the field is dropped unless metrics show the gate on"
	case minor < minorGA:
		return APIServerStores, "SidecarContainers is beta and on by default (it can be turned off; metrics can verify)"
	case minor < minorRemoved:
		return APIServerStores, "SidecarContainers is GA and locked on"
	}
	return APIServerStores, "the SidecarContainers gate is removed: always on"
}

// oldestKubelet returns the oldest kubelet version (major.minor) that the
// version-skew policy allows next to an API server of the given version:
// n-3 from API server 1.28 on, n-2 before (docs/capability.md#version-skew).
func oldestKubelet(apiserverVersion string) (*version.Version, error) {
	minor, err := parseMinor("API server", apiserverVersion)
	if err != nil {
		return nil, fmt.Errorf("compat: %w", err)
	}
	return version.MajorMinor(1, oldestMinor(minor)), nil
}

func oldestMinor(apiMinor uint) uint {
	skew := uint(2)
	if apiMinor >= minorSkew3 {
		skew = 3
	}
	if apiMinor < skew {
		return 0
	}
	return apiMinor - skew
}

// FromSkewPolicy infers the capability of a cluster from its API server
// version alone: the API server's own capability, and the weakest kubelet
// that the skew policy allows, from the oldest allowed minor up to the API
// server's (kubelets are never newer). For example API server 1.29 allows
// 1.26 to 1.29, and 1.28 kubelets reject by default, so the kubelet is
// Rejects; only from 1.32 are all allowed kubelets native by default.
// Skew outside the policy happens; prefer real node data, and let it
// override this with [Capability.Override].
func FromSkewPolicy(apiserverVersion string) (Capability, error) {
	c, apiMinor, err := apiServerFromVersion(apiserverVersion)
	if err != nil {
		return c, err
	}
	oldest := oldestMinor(apiMinor)
	var peers []Capability
	for i := uint(0); i <= apiMinor-oldest; i++ { // at most 4: never overflows
		k, t, _ := kubeletByMinor(oldest + i)
		peers = append(peers, Capability{Kubelet: k, OrderedTermination: t})
	}
	w := Weakest(peers...)
	c.Kubelet, c.OrderedTermination = w.Kubelet, w.OrderedTermination
	return c.withEvidence(Evidence{sourceSkewPolicy, "kubelet", fmt.Sprintf(
		"API server 1.%d allows kubelets 1.%d to 1.%d (n-%d): the weakest %s",
		apiMinor, oldest, apiMinor, apiMinor-oldest, w.Kubelet)}), nil
}
