package compat

import "fmt"

// Strategy is a concrete way to inject a sidecar.
type Strategy int

// The strategies. Legacy is the zero value, so a zero [Preference] falls
// back to it.
const (
	// Legacy injects a regular container: works everywhere, but without
	// startup ordering, and Jobs need an exit handshake.
	Legacy Strategy = iota
	// Native injects an init container with restartPolicy: Always.
	Native
	// Pinned is Native plus a required node-affinity requirement
	// ([NativeNodeSelectorRequirement]) that keeps the Pod on nodes labelled
	// native-capable.
	Pinned
	// Universal injects the native and the legacy twin, and a runtime
	// handshake decides which one acts.
	Universal
)

func strategyNames() []string {
	return []string{"legacy", "native", "pinned", "universal"}
}

// String returns "legacy", "native", "pinned" or "universal".
func (s Strategy) String() string { return enumString(strategyNames(), int(s), "Strategy") }

// MarshalText encodes s as its String form.
func (s Strategy) MarshalText() ([]byte, error) {
	return enumMarshal(strategyNames(), int(s), "Strategy")
}

// UnmarshalText decodes the String form.
func (s *Strategy) UnmarshalText(b []byte) error {
	return enumUnmarshal(strategyNames(), b, "Strategy", (*int)(s))
}

// Preference is what the caller allows. The zero value allows neither
// pinning nor the universal pair and falls back to Legacy.
type Preference struct {
	// AllowPinned lets Recommend pin the Pod to nodes labelled
	// [NodeLabel]=native. Only set it when such nodes exist (an operator
	// labels them), or pinned Pods stay Pending.
	AllowPinned bool
	// AllowUniversal says the sidecar image can run the universal handshake.
	AllowUniversal bool
	// Fallback is the strategy when the capability is Unknown. Defaults to
	// Legacy.
	Fallback Strategy
	// AvoidUnorderedTermination asks for Legacy rather than native sidecars
	// that start in order but are terminated together with the app (1.28
	// nodes; docs/modes.md#unordered-termination). It keeps one termination behaviour
	// on every node for sidecars written for the legacy mode.
	AvoidUnorderedTermination bool
}

// Recommendation is the outcome of [Recommend].
type Recommendation struct {
	// Strategy is the recommended strategy.
	Strategy Strategy `json:"strategy"`
	// Code is the machine-readable reason.
	Code Code `json:"code"`
	// Reason explains the choice in a sentence.
	Reason string `json:"reason"`
	// Warnings are caveats of the choice, for the caller to surface.
	Warnings []string `json:"warnings,omitempty"`
}

// Recommend chooses a strategy from the API server's and the weakest node's
// capability (docs/modes.md#auto):
//   - API server drops the field or does not know it → Legacy;
//   - API server unknown → the caller's fallback;
//   - weakest node native → Native (with a warning, or Legacy when asked,
//     if termination is unordered);
//   - some node rejects → Pinned if allowed, else Legacy; never Universal,
//     which does not help on a rejecting node (docs/modes.md#auto);
//   - weakest node strips → Universal if allowed, else Pinned if allowed,
//     else Legacy;
//   - kubelet unknown → the caller's fallback.
func Recommend(c Capability, p Preference) Recommendation {
	switch c.APIServer {
	case APIServerDrops, APIServerUnknownField:
		code := CodeAPIServerDrops
		if c.APIServer == APIServerUnknownField {
			code = CodeAPIServerUnknownField
		}
		return Recommendation{Strategy: Legacy, Code: code,
			Reason: "the API server " + c.APIServer.Description() + ": only a regular container survives"}
	case APIServerUnknown:
		return fallback(p, CodeAPIServerUnknown, "the API server's capability is unknown")
	}
	switch c.Kubelet {
	case KubeletNative:
		return native(c, p)
	case KubeletRejects:
		return pinnedOr(p, CodeNodeRejects, "a node the Pod may land on "+KubeletRejects.Description(), "pinning is not allowed")
	case KubeletStrips:
		why := "a node the Pod may land on " + KubeletStrips.Description()
		if p.AllowUniversal {
			return Recommendation{Strategy: Universal, Code: CodeNodeStrips,
				Reason:   why + "; the universal pair's legacy twin takes over there",
				Warnings: []string{universalCost}}
		}
		return pinnedOr(p, CodeNodeStrips, why, "neither the universal pair nor pinning is allowed")
	}
	return fallback(p, CodeKubeletUnknown, "the capability of the weakest node the Pod may land on is unknown")
}

// UniversalCostWarning is the warning Recommend attaches to a Universal
// recommendation. A caller that reports the doubled requests precisely
// (sidecar.Inject with a universal planner does) may drop it.
const UniversalCostWarning = universalCost

const (
	universalCost = "the universal pair runs the sidecar twice: both twins' resource requests count (docs/universal.md#resources)"
	pinnedCaveat  = "the Pod only schedules on nodes labelled " + NodeLabel + "=" + NodeLabelNative + ": label capable nodes, or it stays Pending"
)

func native(c Capability, p Preference) Recommendation {
	r := Recommendation{Strategy: Native, Code: CodeAllNative,
		Reason: "every node the Pod may land on runs native sidecars and the API server stores the field"}
	switch c.OrderedTermination {
	case Unsupported:
		const why = "native sidecars start in order but are terminated together with the app containers on the weakest node (1.28; docs/native-sidecars.md#termination)"
		if p.AvoidUnorderedTermination {
			return Recommendation{Strategy: Legacy, Code: CodeUnorderedTermination,
				Reason: why + "; the preference avoids that, so legacy keeps one termination behaviour everywhere"}
		}
		r.Code = CodeUnorderedTermination
		r.Warnings = []string{why}
	case Unknown:
		r.Warnings = []string{"whether native sidecars are terminated in order (1.29+) is unknown"}
	}
	return r
}

func pinnedOr(p Preference, code Code, why, notAllowed string) Recommendation {
	if p.AllowPinned {
		return Recommendation{Strategy: Pinned, Code: code,
			Reason:   why + "; the Pod is pinned to native-capable nodes",
			Warnings: []string{pinnedCaveat}}
	}
	return Recommendation{Strategy: Legacy, Code: code, Reason: why + "; " + notAllowed + ", and legacy works on every node"}
}

func fallback(p Preference, code Code, why string) Recommendation {
	s := p.Fallback
	var warn []string
	if _, err := s.MarshalText(); err != nil {
		warn = append(warn, fmt.Sprintf("fallback %v is not a strategy: using legacy", s))
		s = Legacy
	}
	switch s {
	case Pinned:
		warn = append(warn, pinnedCaveat)
	case Universal:
		warn = append(warn, universalCost)
	}
	return Recommendation{Strategy: s, Code: code, Reason: why + ": using the caller's fallback, " + s.String(), Warnings: warn}
}
