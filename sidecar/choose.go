package sidecar

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

// chooseMode turns Options.Mode into a concrete mode: an explicit mode is
// kept (with warnings where the capability says it will fail), Auto asks
// compat.Recommend.
func chooseMode(c compat.Capability, o *Options, spec *corev1.PodSpec) (choice, error) {
	switch o.Mode {
	case Native, Legacy, Pinned, Universal:
		return choice{mode: o.Mode, reason: fmt.Sprintf("%s mode was requested", o.Mode), warnings: forcedWarnings(c, o.Mode)}, nil
	case Auto:
	default:
		return choice{}, fmt.Errorf("sidecar: unknown mode %q (want one of auto, native, legacy, pinned, universal)", string(o.Mode))
	}
	fallback, err := toStrategy(o.Fallback)
	if err != nil {
		return choice{}, fmt.Errorf("sidecar: Options.Fallback: %w", err)
	}
	rec := compat.Recommend(c, compat.Preference{
		AllowPinned:               o.AllowPinned,
		AllowUniversal:            o.Universal != nil,
		Fallback:                  fallback,
		AvoidUnorderedTermination: o.AvoidUnorderedTermination,
	})
	mode, err := fromStrategy(rec.Strategy)
	if err != nil {
		return choice{}, err
	}
	return choice{mode: mode, code: rec.Code, reason: rec.Reason, warnings: rec.Warnings}, nil
}

// choice is what chooseMode decided.
type choice struct {
	mode     Mode
	code     compat.Code
	reason   string
	warnings []string
}

func forcedWarnings(c compat.Capability, m Mode) []string {
	if m == Legacy {
		return nil
	}
	var w []string
	switch c.APIServer {
	case compat.APIServerDrops:
		w = append(w, "the API server drops restartPolicy on init containers (SidecarContainers gate off): the sidecar becomes a blocking init container, and the pod is rejected if it has probes or lifecycle hooks")
	case compat.APIServerUnknownField:
		w = append(w, "the API server (1.27 or older) does not know restartPolicy on init containers")
	}
	if m == Native {
		switch c.Kubelet {
		case compat.KubeletStrips:
			w = append(w, "some nodes (kubelet 1.27 or older) ignore restartPolicy: there the sidecar blocks the pod in Init")
		case compat.KubeletRejects:
			w = append(w, "some nodes (SidecarContainers gate off) reject pods with native sidecars")
		}
	}
	return w
}

func toStrategy(m Mode) (compat.Strategy, error) {
	switch m {
	case Auto, Legacy:
		// Auto as a fallback means the zero value: Legacy.
		return compat.Legacy, nil
	case Native:
		return compat.Native, nil
	case Pinned:
		return compat.Pinned, nil
	case Universal:
		return compat.Universal, nil
	}
	return compat.Legacy, fmt.Errorf("unknown mode %q", string(m))
}

func fromStrategy(s compat.Strategy) (Mode, error) {
	switch s {
	case compat.Native:
		return Native, nil
	case compat.Legacy:
		return Legacy, nil
	case compat.Pinned:
		return Pinned, nil
	case compat.Universal:
		return Universal, nil
	}
	return Auto, fmt.Errorf("sidecar: compat recommended no strategy (%v)", s)
}
