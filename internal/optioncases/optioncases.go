// Package optioncases is the table of mode-choice options (Options.Mode,
// AllowPinned, Fallback, AvoidUnorderedTermination, the presence of a
// Universal planner) against capabilities, with the mode, compat code and
// placement each must produce. The tests of every injection entry point
// (sidecar.Inject, sidecar.Injector.Inject, admission.Webhook.Review) run
// it, so that an option dropped on the way from an entry point to
// sidecar.Recommend fails a test. Only tests use it.
package optioncases

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

// Case is one row: injecting the sidecar with Options into a Pod for a
// cluster of Capability gives Mode, with Code (empty when the mode was
// forced) and a warning containing Warning (when not empty), or no
// warning at all when Quiet is set.
type Case struct {
	Name       string
	Capability compat.Capability
	Options    sidecar.Options
	Mode       sidecar.Mode
	Code       compat.Code
	Warning    string
	Quiet      bool
}

// The capabilities of the table.
var (
	// NativeOrdered: every node runs native sidecars and stops them in order (1.29+).
	NativeOrdered = compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}
	// NativeUnordered: native sidecars terminated with the app (1.28).
	NativeUnordered = compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Unsupported, APIServer: compat.APIServerStores}
	// Rejects: some node rejects Pods with native sidecars (gate off).
	Rejects = compat.Capability{Kubelet: compat.KubeletRejects, OrderedTermination: compat.Unsupported, APIServer: compat.APIServerStores}
	// Strips: some node ignores restartPolicy (1.27 or older).
	Strips = compat.Capability{Kubelet: compat.KubeletStrips, OrderedTermination: compat.Unsupported, APIServer: compat.APIServerStores}
	// APIServerUnknown: nothing known of the API server.
	APIServerUnknown = compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported}
	// KubeletUnknown: the API server stores the field, nothing known of the nodes.
	KubeletUnknown = compat.Capability{APIServer: compat.APIServerStores}
	// APIServerDrops: the API server drops the field.
	APIServerDrops = compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerDrops}
)

// Sidecar is the sidecar container of the table's cases: "proxy", with the
// command the universal pair's handshake execs.
func Sidecar() corev1.Container {
	return corev1.Container{Name: "proxy", Image: "proxy:1", Command: []string{"/proxy"}, Args: []string{"--port=15001"}}
}

// Planner is the universal planner of the table's cases.
func Planner() sidecar.Planner {
	return universal.Planner{Handshake: []string{"/usr/local/bin/sidecarctl", "handshake"}}
}

// Cases returns the table. Each option flips the outcome of at least one
// pair of rows that differ only in it.
func Cases() []Case {
	u := Planner()
	return []Case{
		// Options.Mode forces the mode, whatever the capability.
		{Name: "auto, all native", Capability: NativeOrdered, Mode: sidecar.Native, Code: compat.CodeAllNative, Quiet: true},
		{Name: "forced legacy on native nodes", Capability: NativeOrdered, Options: sidecar.Options{Mode: sidecar.Legacy}, Mode: sidecar.Legacy},
		{Name: "forced pinned on native nodes", Capability: NativeOrdered, Options: sidecar.Options{Mode: sidecar.Pinned}, Mode: sidecar.Pinned},
		{Name: "forced universal on native nodes", Capability: NativeOrdered, Options: sidecar.Options{Mode: sidecar.Universal, Universal: u}, Mode: sidecar.Universal},
		{Name: "forced native on stripping nodes", Capability: Strips, Options: sidecar.Options{Mode: sidecar.Native}, Mode: sidecar.Native, Warning: "ignore restartPolicy"},
		{Name: "forced native past a dropping API server", Capability: APIServerDrops, Options: sidecar.Options{Mode: sidecar.Native}, Mode: sidecar.Native, Warning: "drops restartPolicy"},
		{Name: "forced legacy past a dropping API server: nothing to warn of", Capability: APIServerDrops, Options: sidecar.Options{Mode: sidecar.Legacy}, Mode: sidecar.Legacy, Quiet: true},
		{Name: "forced pinned on rejecting nodes: no kubelet warning (pinned avoids them)", Capability: Rejects, Options: sidecar.Options{Mode: sidecar.Pinned}, Mode: sidecar.Pinned, Quiet: true},
		// AvoidUnorderedTermination.
		{Name: "auto, unordered termination", Capability: NativeUnordered, Mode: sidecar.Native, Code: compat.CodeUnorderedTermination, Warning: "terminated together"},
		{Name: "auto, unordered termination avoided", Capability: NativeUnordered, Options: sidecar.Options{AvoidUnorderedTermination: true}, Mode: sidecar.Legacy, Code: compat.CodeUnorderedTermination},
		{Name: "auto, ordered termination: nothing to avoid", Capability: NativeOrdered, Options: sidecar.Options{AvoidUnorderedTermination: true}, Mode: sidecar.Native, Code: compat.CodeAllNative},
		// AllowPinned.
		{Name: "auto, a node rejects", Capability: Rejects, Mode: sidecar.Legacy, Code: compat.CodeNodeRejects},
		{Name: "auto, a node rejects, pinning allowed", Capability: Rejects, Options: sidecar.Options{AllowPinned: true}, Mode: sidecar.Pinned, Code: compat.CodeNodeRejects, Warning: compat.NodeLabel},
		{Name: "auto, a node rejects, universal present (no help there)", Capability: Rejects, Options: sidecar.Options{Universal: u}, Mode: sidecar.Legacy, Code: compat.CodeNodeRejects},
		// Universal presence.
		{Name: "auto, a node strips", Capability: Strips, Mode: sidecar.Legacy, Code: compat.CodeNodeStrips},
		{Name: "auto, a node strips, pinning allowed", Capability: Strips, Options: sidecar.Options{AllowPinned: true}, Mode: sidecar.Pinned, Code: compat.CodeNodeStrips},
		{Name: "auto, a node strips, universal present", Capability: Strips, Options: sidecar.Options{Universal: u}, Mode: sidecar.Universal, Code: compat.CodeNodeStrips},
		{Name: "auto, a node strips, universal and pinning: universal first", Capability: Strips, Options: sidecar.Options{Universal: u, AllowPinned: true}, Mode: sidecar.Universal, Code: compat.CodeNodeStrips},
		// Fallback.
		{Name: "auto, API server unknown", Capability: APIServerUnknown, Mode: sidecar.Legacy, Code: compat.CodeAPIServerUnknown},
		{Name: "auto, API server unknown, fallback native", Capability: APIServerUnknown, Options: sidecar.Options{Fallback: sidecar.Native}, Mode: sidecar.Native, Code: compat.CodeAPIServerUnknown},
		{Name: "auto, API server unknown, fallback pinned", Capability: APIServerUnknown, Options: sidecar.Options{Fallback: sidecar.Pinned}, Mode: sidecar.Pinned, Code: compat.CodeAPIServerUnknown, Warning: compat.NodeLabel},
		{Name: "auto, kubelet unknown, fallback universal", Capability: KubeletUnknown, Options: sidecar.Options{Fallback: sidecar.Universal, Universal: u}, Mode: sidecar.Universal, Code: compat.CodeKubeletUnknown},
		{Name: "auto, kubelet unknown, fallback legacy", Capability: KubeletUnknown, Options: sidecar.Options{Fallback: sidecar.Legacy}, Mode: sidecar.Legacy, Code: compat.CodeKubeletUnknown},
		// No option overrides a dropping API server in auto mode.
		{Name: "auto, API server drops, everything allowed", Capability: APIServerDrops, Options: sidecar.Options{AllowPinned: true, Universal: u, Fallback: sidecar.Native}, Mode: sidecar.Legacy, Code: compat.CodeAPIServerDrops},
	}
}

// CheckPlacement reports whether spec (the Pod after injection) holds the
// sidecar name as mode m places it: native, an init container with
// restartPolicy Always; legacy, a regular container without one; pinned,
// native plus the required node-affinity requirement on [compat.NodeLabel];
// universal, the native twin as an init container and the legacy twin
// ([universal.LegacyName]) as a regular one.
func CheckPlacement(spec *corev1.PodSpec, name string, m sidecar.Mode) error {
	init := find(spec.InitContainers, name)
	reg := find(spec.Containers, name)
	twin := find(spec.Containers, universal.LegacyName(name))
	pinned := hasNativeRequirement(spec)
	always := init != nil && init.RestartPolicy != nil && *init.RestartPolicy == corev1.ContainerRestartPolicyAlways
	var problems []string
	want := func(ok bool, what string) {
		if !ok {
			problems = append(problems, what)
		}
	}
	switch m {
	case sidecar.Native, sidecar.Pinned, sidecar.Universal:
		want(always, "an init container "+name+" with restartPolicy Always")
		want(reg == nil, "no regular container "+name)
		want(pinned == (m == sidecar.Pinned), fmt.Sprintf("the native-node requirement only when pinned (present: %v)", pinned))
		want((twin != nil) == (m == sidecar.Universal), fmt.Sprintf("the legacy twin only in universal mode (present: %v)", twin != nil))
	case sidecar.Legacy:
		want(reg != nil && reg.RestartPolicy == nil, "a regular container "+name+" without restartPolicy")
		want(init == nil, "no init container "+name)
		want(twin == nil, "no legacy twin")
		want(!pinned, "no native-node requirement")
	default:
		return fmt.Errorf("mode %q is not a concrete mode", m)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s mode wants %s", m, strings.Join(problems, "; "))
	}
	return nil
}

func find(l []corev1.Container, name string) *corev1.Container {
	for i := range l {
		if l[i].Name == name {
			return &l[i]
		}
	}
	return nil
}

func hasNativeRequirement(spec *corev1.PodSpec) bool {
	req := compat.NativeNodeSelectorRequirement()
	a := spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return false
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if e.Key == req.Key && e.Operator == req.Operator && strings.Join(e.Values, ",") == strings.Join(req.Values, ",") {
				return true
			}
		}
	}
	return false
}

// CheckWarnings reports whether warnings are what tc wants: one that
// contains tc.Warning, none when tc.Quiet.
func CheckWarnings(tc Case, warnings []compat.Finding) error {
	if tc.Quiet && len(warnings) > 0 {
		return fmt.Errorf("warnings %q, want none", warnings)
	}
	if !HasWarning(warnings, tc.Warning) {
		return fmt.Errorf("no warning containing %q in %q", tc.Warning, warnings)
	}
	return nil
}

// HasWarning reports whether one of warnings contains sub (always true
// for an empty sub).
func HasWarning(warnings []compat.Finding, sub string) bool {
	if sub == "" {
		return true
	}
	for _, w := range warnings {
		if w.Severity != compat.SeverityWarning || w.Code == "" {
			return false
		}
		if strings.Contains(w.Message, sub) {
			return true
		}
	}
	return false
}
