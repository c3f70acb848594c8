package sidecar

import (
	"fmt"

	"github.com/sidecarkit/sidecarkit/compat"
)

// Recommendation is the mode Inject chooses for a capability with some
// Options, and why.
type Recommendation struct {
	// Mode is the concrete mode (never Auto).
	Mode Mode `json:"mode"`
	// Code is the machine-readable reason when Auto chose the mode; empty
	// when Options.Mode forced it.
	Code compat.Code `json:"code,omitempty"`
	// Reason explains the choice in a sentence.
	Reason string `json:"reason"`
	// Warnings are caveats of the choice, for the caller to surface.
	Warnings []compat.Finding `json:"warnings,omitempty"`
}

// Recommend returns the mode Inject chooses with o where the API server and
// the weakest node the Pod may land on have capability c: for a
// cluster-wide report (sidecarctl doctor prints it per node pool), or to
// know the mode before injecting. A mode o forces is kept, with warnings
// where c says it will fail. Auto decides from c and the mode policy of o
// (AllowPinned, Fallback, AvoidUnorderedTermination, and Universal: a
// planner allows the universal pair), as docs/modes.md#auto describes:
//   - API server drops the field or does not know it → Legacy;
//   - API server unknown → o.Fallback;
//   - weakest node native → Native (with a warning, or Legacy when
//     AvoidUnorderedTermination is set, if termination is unordered);
//   - some node rejects → Pinned if allowed, else Legacy; never Universal,
//     which does not help on a rejecting node;
//   - weakest node strips → Universal if allowed, else Pinned if allowed,
//     else Legacy;
//   - kubelet unknown → o.Fallback.
//
// It fails only on a Mode or Fallback that is not one of the modes.
func Recommend(c compat.Capability, o Options) (Recommendation, error) {
	switch o.Mode {
	case Native, Legacy, Pinned, Universal:
		return Recommendation{Mode: o.Mode, Reason: requestedReason(o.Mode), Warnings: forcedWarnings(c, o.Mode)}, nil
	case Auto:
	default:
		return Recommendation{}, fmt.Errorf("sidecar: unknown mode %q (want one of auto, native, legacy, pinned, universal)", string(o.Mode))
	}
	switch o.Fallback {
	case Auto, Native, Legacy, Pinned, Universal:
	default:
		return Recommendation{}, fmt.Errorf("sidecar: Options.Fallback: unknown mode %q", string(o.Fallback))
	}
	return recommend(c, &o), nil
}

// universalCostText is the warning a Universal recommendation carries;
// Inject replaces it with the planner's own, which have the numbers.
const universalCostText = "the universal pair runs the sidecar twice: both twins' resource requests count (docs/universal.md#resources)"

func universalCost() compat.Finding { return warning(compat.CodeModeCaveat, "", universalCostText) }

// pinnedCaveat is the warning a Pinned recommendation carries.
func pinnedCaveat() compat.Finding {
	return warning(compat.CodeModeCaveat, "", "the Pod only schedules on nodes labelled "+compat.NodeLabel+"=native: label capable nodes, or it stays Pending")
}

// recommend is Auto's choice; o.Fallback is a mode (Auto meaning Legacy).
func recommend(c compat.Capability, o *Options) Recommendation {
	switch c.APIServer {
	case compat.APIServerDrops, compat.APIServerUnknownField:
		code := compat.CodeAPIServerDrops
		if c.APIServer == compat.APIServerUnknownField {
			code = compat.CodeAPIServerUnknownField
		}
		return Recommendation{Mode: Legacy, Code: code,
			Reason: "the API server " + c.APIServer.Description() + ": only a regular container survives"}
	case compat.APIServerUnknown:
		return fallback(o, compat.CodeAPIServerUnknown, "the API server's capability is unknown")
	}
	switch c.Kubelet {
	case compat.KubeletNative:
		return native(c, o)
	case compat.KubeletRejects:
		return pinnedOr(o, compat.CodeNodeRejects, "a node the Pod may land on "+compat.KubeletRejects.Description(), "pinning is not allowed")
	case compat.KubeletStrips:
		why := "a node the Pod may land on " + compat.KubeletStrips.Description()
		if o.Universal != nil {
			return Recommendation{Mode: Universal, Code: compat.CodeNodeStrips,
				Reason:   why + "; the universal pair's legacy twin takes over there",
				Warnings: []compat.Finding{universalCost()}}
		}
		return pinnedOr(o, compat.CodeNodeStrips, why, "neither the universal pair nor pinning is allowed")
	}
	return fallback(o, compat.CodeKubeletUnknown, "the capability of the weakest node the Pod may land on is unknown")
}

func native(c compat.Capability, o *Options) Recommendation {
	r := Recommendation{Mode: Native, Code: compat.CodeAllNative,
		Reason: "every node the Pod may land on runs native sidecars and the API server stores the field"}
	switch c.OrderedTermination {
	case compat.Unsupported:
		const why = "native sidecars start in order but are terminated together with the app containers on the weakest node (1.28; docs/native-sidecars.md#termination)"
		if o.AvoidUnorderedTermination {
			return Recommendation{Mode: Legacy, Code: compat.CodeUnorderedTermination,
				Reason: why + "; AvoidUnorderedTermination is set, so legacy keeps one termination behaviour everywhere"}
		}
		r.Code = compat.CodeUnorderedTermination
		r.Warnings = []compat.Finding{warning(compat.CodeUnorderedTermination, "", why)}
	case compat.Unknown:
		r.Warnings = []compat.Finding{warning(compat.CodeKubeletUnknown, "", "whether native sidecars are terminated in order (1.29+) is unknown")}
	}
	return r
}

func pinnedOr(o *Options, code compat.Code, why, notAllowed string) Recommendation {
	if o.AllowPinned {
		return Recommendation{Mode: Pinned, Code: code,
			Reason:   why + "; the Pod is pinned to native-capable nodes",
			Warnings: []compat.Finding{pinnedCaveat()}}
	}
	return Recommendation{Mode: Legacy, Code: code, Reason: why + "; " + notAllowed + ", and legacy works on every node"}
}

func fallback(o *Options, code compat.Code, why string) Recommendation {
	m := o.Fallback
	if m == Auto {
		m = Legacy
	}
	var warn []compat.Finding
	switch m {
	case Pinned:
		warn = append(warn, pinnedCaveat())
	case Universal:
		warn = append(warn, universalCost())
	}
	return Recommendation{Mode: m, Code: code, Reason: why + ": using the caller's fallback, " + m.String(), Warnings: warn}
}

// forcedWarnings are the warnings of a mode Options.Mode forces where c
// says it will fail.
func forcedWarnings(c compat.Capability, m Mode) []compat.Finding {
	if m == Legacy {
		return nil
	}
	var w []compat.Finding
	switch c.APIServer {
	case compat.APIServerDrops:
		w = append(w, warning(compat.CodeAPIServerDrops, "", "the API server drops restartPolicy on init containers (SidecarContainers gate off): the sidecar becomes a blocking init container, and the pod is rejected if it has probes or lifecycle hooks"))
	case compat.APIServerUnknownField:
		w = append(w, warning(compat.CodeAPIServerUnknownField, "", "the API server (1.27 or older) does not know restartPolicy on init containers"))
	}
	if m == Native {
		switch c.Kubelet {
		case compat.KubeletStrips:
			w = append(w, warning(compat.CodeNodeStrips, "", "some nodes (kubelet 1.27 or older) ignore restartPolicy: there the sidecar blocks the pod in Init"))
		case compat.KubeletRejects:
			w = append(w, warning(compat.CodeNodeRejects, "", "some nodes (SidecarContainers gate off) reject pods with native sidecars"))
		}
	}
	return w
}

// requestedReason is the reason of a requested mode: a constant for each
// mode, not a string built per call.
func requestedReason(m Mode) string {
	switch m {
	case Native:
		return "native mode was requested"
	case Legacy:
		return "legacy mode was requested"
	case Pinned:
		return "pinned mode was requested"
	case Universal:
		return "universal mode was requested"
	}
	return string(m) + " mode was requested"
}
