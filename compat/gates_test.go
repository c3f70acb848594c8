package compat_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

func gates(stage string, value float64, others ...string) compat.FeatureGates {
	var g compat.FeatureGates
	for _, o := range others {
		g.Gates = append(g.Gates, compat.FeatureGate{Name: o, Stage: "BETA", Value: 1, Line: 1})
	}
	if stage != "none" {
		g.Gates = append(g.Gates, compat.FeatureGate{Name: compat.GateSidecarContainers, Stage: stage, Value: value, Line: 7})
	}
	return g
}

// TestFromMetrics checks docs/capability.md#feature-metrics for both components.
func TestFromMetrics(t *testing.T) {
	tests := []struct {
		name    string
		gates   compat.FeatureGates
		version string
		kubelet compat.Kubelet
		ordered compat.Support
		api     compat.APIServer
		errText string
		errIs   error
		reason  string
	}{
		{name: "alpha-on", gates: gates("ALPHA", 1), kubelet: compat.KubeletNative, ordered: compat.Unsupported, api: compat.APIServerStores,
			reason: "1.28 with the gate on: native, but terminated like regular containers"},
		{name: "alpha-off", gates: gates("ALPHA", 0), version: "v1.28.3", kubelet: compat.KubeletRejects, ordered: compat.Unsupported, api: compat.APIServerDrops},
		{name: "beta-on", gates: gates("BETA", 1), version: "v1.30.2-eks-1", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
		{name: "beta-off", gates: gates("BETA", 0), version: "v1.30.2", kubelet: compat.KubeletRejects, ordered: compat.Unsupported, api: compat.APIServerDrops},
		{name: "ga", gates: gates("", 1), version: "v1.34.0", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
		{name: "metric-beats-version", gates: gates("BETA", 0), version: "v1.34.0", kubelet: compat.KubeletRejects, ordered: compat.Unsupported, api: compat.APIServerDrops,
			reason: "metrics override version inference, with a note in the evidence"},
		{name: "ga-off", gates: gates("", 0), kubelet: compat.KubeletUnknown, api: compat.APIServerUnknown, errText: "is GA (locked on) but reported off"},
		{name: "deprecated-stage", gates: gates("DEPRECATED", 1), kubelet: compat.KubeletUnknown, api: compat.APIServerUnknown, errText: `unexpected stage "DEPRECATED"`},
		{name: "odd-value", gates: gates("BETA", 0.5), kubelet: compat.KubeletUnknown, api: compat.APIServerUnknown, errText: "value 0.5 is neither 0 nor 1"},
		{name: "none-1.37", gates: gates("none", 0, "WatchList"), version: "v1.37.2", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores,
			reason: "the gate is removed in 1.37: always on"},
		{name: "none-1.27", gates: gates("none", 0, "WatchList"), version: "v1.27.4", kubelet: compat.KubeletStrips, ordered: compat.Unsupported, api: compat.APIServerUnknownField,
			reason: "the gate does not exist before 1.28"},
		{name: "none-1.25", gates: gates("none", 0), version: "v1.25.0", kubelet: compat.KubeletStrips, ordered: compat.Unsupported, api: compat.APIServerUnknownField,
			reason: "the metric does not exist before 1.26"},
		{name: "none-1.30", gates: gates("none", 0, "WatchList"), version: "v1.30.0", kubelet: compat.KubeletUnknown, api: compat.APIServerUnknown,
			errIs: compat.ErrNoGateSeries, reason: "a 1.30 component must expose the series: the text is not its /metrics"},
		{name: "none-no-version", gates: gates("none", 0, "WatchList"), kubelet: compat.KubeletUnknown, api: compat.APIServerUnknown},
		{name: "none-bad-version", gates: gates("none", 0), version: "latest", kubelet: compat.KubeletUnknown, api: compat.APIServerUnknown,
			errText: `version "latest"`},
		{name: "series-bad-version", gates: gates("BETA", 1), version: "latest", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores,
			errText: `version "latest"`, reason: "the series decides; the bad version is still reported"},
	}
	for _, tc := range tests {
		tc := tc
		check := func(t *testing.T, got compat.Capability, err error, want compat.Capability) {
			t.Helper()
			switch {
			case tc.errIs != nil:
				if !errors.Is(err, tc.errIs) {
					t.Fatalf("error %v, want %v", err, tc.errIs)
				}
			case tc.errText != "":
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %v, want one containing %q", err, tc.errText)
				}
			case err != nil:
				t.Fatalf("unexpected error %v", err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "compat: ") {
				t.Errorf("error %q lacks the compat: prefix", err)
			}
			if diff := cmp.Diff(want, withoutEvidence(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if len(got.Evidence) != 1 || got.Evidence[0].Source != "metrics" {
				t.Errorf("evidence %v, want one metrics entry", got.Evidence)
			}
		}
		t.Run(tc.name+"/kubelet", func(t *testing.T) {
			got, err := compat.FromKubeletMetrics(tc.gates, tc.version)
			check(t, got, err, compat.Capability{Kubelet: tc.kubelet, OrderedTermination: tc.ordered})
		})
		t.Run(tc.name+"/apiserver", func(t *testing.T) {
			got, err := compat.FromAPIServerMetrics(tc.gates, tc.version)
			check(t, got, err, compat.Capability{APIServer: tc.api})
		})
	}
}

func TestFromMetricsEvidence(t *testing.T) {
	got, _ := compat.FromKubeletMetrics(gates("BETA", 0), "v1.34.1")
	const want = `line 7: SidecarContainers stage="BETA" value=0 (unexpected for version "v1.34.1"; the metric wins): kubelet rejects`
	if got.Evidence[0].Detail != want {
		t.Errorf("detail %q, want %q", got.Evidence[0].Detail, want)
	}
}

func TestFromNodeMetrics(t *testing.T) {
	tests := []struct {
		name    string
		node    corev1.Node
		gates   compat.FeatureGates
		kubelet compat.Kubelet
		ordered compat.Support
		errText string
		reason  string
	}{
		{name: "metrics-on-1.28", node: node("w", "v1.28.5", nil), gates: gates("ALPHA", 1), kubelet: compat.KubeletNative, ordered: compat.Unsupported},
		{name: "metrics-off-beats-label", node: node("w", "v1.31.0", label("native")), gates: gates("BETA", 0), kubelet: compat.KubeletRejects, ordered: compat.Unsupported,
			reason: "live metrics beat a stale label"},
		{name: "inconclusive-keeps-version", node: node("w", "v1.31.0", nil), gates: gates("none", 0), kubelet: compat.KubeletNative, ordered: compat.Supported,
			errText: "no SidecarContainers series", reason: "Unknown from metrics never replaces the version's inference"},
		{name: "bad-version-reported-once", node: node("w", "nope", nil), gates: gates("BETA", 1), kubelet: compat.KubeletNative, ordered: compat.Supported,
			errText: `compat: node "w": status.nodeInfo.kubeletVersion`},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got, err := compat.FromNodeMetrics(&tc.node, tc.gates)
			if (err != nil) != (tc.errText != "") || (err != nil && !strings.Contains(err.Error(), tc.errText)) {
				t.Fatalf("error %v, want %q", err, tc.errText)
			}
			if err != nil && strings.Count(err.Error(), `"nope"`) > 2 {
				t.Errorf("the bad version is reported twice: %v", err)
			}
			want := compat.Capability{Kubelet: tc.kubelet, OrderedTermination: tc.ordered}
			if diff := cmp.Diff(want, withoutEvidence(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			last := got.Evidence[len(got.Evidence)-1]
			if last.Source != "metrics" || last.Subject != "node/w" {
				t.Errorf("last evidence %+v, want metrics about node/w", last)
			}
		})
	}
	if _, err := compat.FromNodeMetrics(nil, gates("BETA", 1)); err == nil {
		t.Error("FromNodeMetrics(nil) gave no error")
	}
}
