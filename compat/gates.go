package compat

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// GateSidecarContainers is the name of the feature gate behind native
// sidecars (KEP-753).
const GateSidecarContainers = "SidecarContainers"

// The stage label values of kubernetes_feature_enabled
// (docs/capability.md#feature-metrics): the
// string form of the gate's pre-release, "" for GA.
const (
	stageAlpha      = "ALPHA"
	stageBeta       = "BETA"
	stageGA         = ""
	stageDeprecated = "DEPRECATED"
)

// ErrNoGateSeries is wrapped by the metrics detectors when a component whose
// version has the SidecarContainers gate (1.28–1.36) exposes no series for
// it: the text is probably not that component's /metrics.
var ErrNoGateSeries = errors.New("no SidecarContainers series although the component's version has the gate")

// FeatureGates is what [ParseFeatureMetrics] found: one entry per
// kubernetes_feature_enabled series, sorted by gate name.
type FeatureGates struct {
	Gates []FeatureGate `json:"gates"`
}

// FeatureGate is one kubernetes_feature_enabled series.
type FeatureGate struct {
	// Name is the gate's name (the "name" label).
	Name string `json:"name"`
	// Stage is the "stage" label: "ALPHA", "BETA", "" (GA) or
	// "DEPRECATED".
	Stage string `json:"stage"`
	// Value is the sample value: 1 enabled, 0 disabled.
	Value float64 `json:"value"`
	// Line is the line of the input that held the series.
	Line int `json:"line"`
}

// Lookup returns the series of the named gate.
func (g FeatureGates) Lookup(name string) (FeatureGate, bool) {
	for _, x := range g.Gates {
		if x.Name == name {
			return x, true
		}
	}
	return FeatureGate{}, false
}

// Enabled reads the value: 1 is Supported, 0 Unsupported, anything else
// Unknown.
func (g FeatureGate) Enabled() Support {
	switch g.Value {
	case 1:
		return Supported
	case 0:
		return Unsupported
	}
	return Unknown
}

// FromKubeletMetrics infers a kubelet's capability from its /metrics
// (parsed by [ParseFeatureMetrics]) and, optionally, its version ("" if
// unknown). The SidecarContainers series decides
// (docs/capability.md#feature-metrics):
// stage ALPHA (1.28) or BETA (1.29–1.32) with value 1 is native, 0 rejects;
// stage "" (GA) is native. The stage also tells whether termination is
// ordered (not on ALPHA). Without a series the version decides: ≥1.37
// native (the gate is removed), ≤1.27 strips (the gate does not exist);
// for 1.28–1.36, where a series must exist, the result is Unknown and the
// error wraps [ErrNoGateSeries]. An unparsable version is reported as an
// error, but a series still decides.
func FromKubeletMetrics(g FeatureGates, kubeletVersion string) (Capability, error) {
	return kubeletMetrics("kubelet", g, kubeletVersion)
}

// FromAPIServerMetrics is [FromKubeletMetrics] for an API server: a series
// with value 1 stores the field, 0 drops it; without a series ≥1.37 stores
// it, ≤1.27 does not know it. The API server's metrics say nothing about
// kubelets: the kubelet fields stay Unknown.
func FromAPIServerMetrics(g FeatureGates, apiserverVersion string) (Capability, error) {
	r, err := readGate(g, "API server", apiserverVersion)
	c := Capability{}
	switch r.on {
	case Supported:
		c.APIServer = APIServerStores
	case Unsupported:
		c.APIServer = APIServerDrops
		if r.absent {
			c.APIServer = APIServerUnknownField
		}
	}
	return c.withEvidence(Evidence{sourceMetrics, subjectAPIServer, r.detail + ": API server " + c.APIServer.String()}), err
}

// FromNodeMetrics reads a node with [ParseNode] and lets its kubelet's
// /metrics override the result (see [FromKubeletMetrics]); an operator can
// store the outcome with [NodeLabel] and [NodeLabelValue]. When the metrics
// are inconclusive the node's label or version stands.
func FromNodeMetrics(n *corev1.Node, g FeatureGates) (Capability, error) {
	c, err := ParseNode(n)
	if n == nil {
		return c, err
	}
	ver := n.Status.NodeInfo.KubeletVersion
	if _, verr := parseMinor("kubelet", ver); verr != nil {
		ver = "" // ParseNode has reported it
	}
	m, merr := kubeletMetrics("node/"+n.Name, g, ver)
	return c.Override(m), errors.Join(err, merr)
}

func kubeletMetrics(subject string, g FeatureGates, ver string) (Capability, error) {
	r, err := readGate(g, "kubelet", ver)
	c := Capability{}
	switch r.on {
	case Supported:
		c.Kubelet, c.OrderedTermination = KubeletNative, r.ordered
	case Unsupported:
		c.Kubelet, c.OrderedTermination = KubeletRejects, Unsupported
		if r.absent {
			c.Kubelet = KubeletStrips
		}
	}
	return c.withEvidence(Evidence{sourceMetrics, subject, r.detail + ": kubelet " + c.Kubelet.String()}), err
}

// gateReading is what the SidecarContainers series (or its absence) says.
type gateReading struct {
	on      Support // the gate's effective state
	absent  bool    // Unsupported because the gate does not exist yet (≤1.27)
	ordered Support // ordered termination, when on
	detail  string
}

func readGate(g FeatureGates, component, ver string) (gateReading, error) {
	var verErr error
	minor, haveVersion := uint(0), false
	if ver != "" {
		m, err := parseMinor(component, ver)
		if err != nil {
			verErr = fmt.Errorf("compat: %s metrics: %w", component, err)
		} else {
			minor, haveVersion = m, true
		}
	}
	s, found := g.Lookup(GateSidecarContainers)
	if !found {
		r := gateReading{detail: fmt.Sprintf("no %s series among %d feature gates", GateSidecarContainers, len(g.Gates))}
		switch {
		case !haveVersion:
			r.detail += " and no usable version: unknown"
		case minor >= minorRemoved:
			r.on, r.ordered = Supported, Supported
			r.detail += fmt.Sprintf("; 1.%d has no gate any more: always on", minor)
		case minor < minorAlpha:
			r.on, r.absent, r.ordered = Unsupported, true, Unsupported
			r.detail += fmt.Sprintf("; 1.%d has no such gate: the field is unknown", minor)
		default:
			r.detail += fmt.Sprintf("; 1.%d must have one: unknown", minor)
			verErr = fmt.Errorf("compat: %s metrics for version %q: %w", component, ver, ErrNoGateSeries)
		}
		return r, verErr
	}
	r := gateReading{detail: fmt.Sprintf("line %d: %s stage=%q value=%v", s.Line, GateSidecarContainers, s.Stage, s.Value)}
	var err error
	switch on := s.Enabled(); {
	case on == Unknown:
		err = fmt.Errorf("compat: %s metrics line %d: %s value %v is neither 0 nor 1", component, s.Line, GateSidecarContainers, s.Value)
	case s.Stage == stageAlpha:
		r.on, r.ordered = on, Unsupported // 1.28: terminated like regular containers
	case s.Stage == stageBeta:
		r.on, r.ordered = on, Supported
	case s.Stage == stageGA && on == Supported:
		r.on, r.ordered = on, Supported
	case s.Stage == stageGA:
		err = fmt.Errorf("compat: %s metrics line %d: %s is GA (locked on) but reported off", component, s.Line, GateSidecarContainers)
	default:
		err = fmt.Errorf("compat: %s metrics line %d: %s has unexpected stage %q", component, s.Line, GateSidecarContainers, s.Stage)
	}
	if err != nil {
		r.detail += ": unknown"
		return r, errors.Join(verErr, err)
	}
	if haveVersion && !stageMatches(s.Stage, minor) {
		r.detail += fmt.Sprintf(" (unexpected for version %q; the metric wins)", ver)
	}
	return r, verErr
}

// stageMatches reports whether a stage is the one a minor version ships.
func stageMatches(stage string, minor uint) bool {
	switch stage {
	case stageAlpha:
		return minor == minorAlpha
	case stageBeta:
		return minor >= minorBeta && minor < minorGA
	case stageGA:
		return minor >= minorGA && minor < minorRemoved
	}
	return false
}
