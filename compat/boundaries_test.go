package compat_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/compat"
)

// evidence joins the details of c's evidence.
func evidence(c compat.Capability) string {
	var d []string
	for _, e := range c.Evidence {
		d = append(d, e.Detail)
	}
	return strings.Join(d, "; ")
}

// TestVersionBoundaries: every minor from 1.20 to 1.40, for a kubelet and
// an API server: the capability and the stage of SidecarContainers the
// evidence names (alpha 1.28, beta 1.29–1.32, GA 1.33–1.36, removed from
// 1.37), so that each boundary is pinned on both sides.
func TestVersionBoundaries(t *testing.T) {
	for minor := 20; minor <= 40; minor++ {
		var (
			kubelet compat.Kubelet
			api     compat.APIServer
			ordered compat.Support
			phrase  string
		)
		switch {
		case minor < 28:
			kubelet, api, ordered, phrase = compat.KubeletStrips, compat.APIServerUnknownField, compat.Unsupported, "does not know restartPolicy"
		case minor == 28:
			kubelet, api, ordered, phrase = compat.KubeletRejects, compat.APIServerDrops, compat.Unsupported, "alpha and off by default"
		case minor < 33:
			kubelet, api, ordered, phrase = compat.KubeletNative, compat.APIServerStores, compat.Supported, "beta and on by default"
		case minor < 37:
			kubelet, api, ordered, phrase = compat.KubeletNative, compat.APIServerStores, compat.Supported, "GA and locked on"
		default:
			kubelet, api, ordered, phrase = compat.KubeletNative, compat.APIServerStores, compat.Supported, "gate is removed: always on"
		}
		v := fmt.Sprintf("v1.%d.2", minor)
		k, err := compat.ParseKubeletVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		if k.Kubelet != kubelet || k.OrderedTermination != ordered || !strings.Contains(evidence(k), phrase) {
			t.Errorf("kubelet %s: %v %v %q; want %v %v and %q", v, k.Kubelet, k.OrderedTermination, evidence(k), kubelet, ordered, phrase)
		}
		a, err := compat.ParseAPIServerVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		if a.APIServer != api || !strings.Contains(evidence(a), phrase) {
			t.Errorf("API server %s: %v %q; want %v and %q", v, a.APIServer, evidence(a), api, phrase)
		}
	}
}

// TestOldestKubeletSmallMinors: n-2 before 1.28, n-3 from it, never below 1.0.
func TestOldestKubeletSmallMinors(t *testing.T) {
	for _, c := range []struct{ api, want string }{
		{"v1.0.0", "1.0"}, {"v1.1.0", "1.0"}, {"v1.2.0", "1.0"}, {"v1.3.0", "1.1"},
		{"v1.27.1", "1.25"}, {"v1.28.1", "1.25"}, {"v1.31.0", "1.28"},
	} {
		v, err := compat.OldestKubelet(c.api)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%d.%d", v.Major(), v.Minor()); got != c.want {
			t.Errorf("OldestKubelet(%s) = %s, want %s", c.api, got, c.want)
		}
	}
}

// TestGateReadings: the evidence of a metrics reading, with and without a
// SidecarContainers series, against the version the component reports:
// a stage unexpected for the version is flagged at each boundary, and a
// missing series is explained by the version.
func TestGateReadings(t *testing.T) {
	series := func(stage string, value int) string {
		return fmt.Sprintf("kubernetes_feature_enabled{name=\"SidecarContainers\",stage=%q} %d\n", stage, value)
	}
	other := "kubernetes_feature_enabled{name=\"Other\",stage=\"BETA\"} 1\n"
	for _, c := range []struct {
		name, metrics, version string
		want                   string // in the evidence
		unexpected             bool   // the stage is flagged for the version
		err                    bool
	}{
		{"alpha at 1.28", series("ALPHA", 1), "v1.28.0", "stage=\"ALPHA\"", false, false},
		{"alpha at 1.29", series("ALPHA", 1), "v1.29.0", "stage=\"ALPHA\"", true, false},
		{"beta at 1.28", series("BETA", 1), "v1.28.0", "stage=\"BETA\"", true, false},
		{"beta at 1.29", series("BETA", 1), "v1.29.0", "stage=\"BETA\"", false, false},
		{"beta at 1.32", series("BETA", 0), "v1.32.0", "stage=\"BETA\"", false, false},
		{"beta at 1.33", series("BETA", 1), "v1.33.0", "stage=\"BETA\"", true, false},
		{"GA at 1.32", series("", 1), "v1.32.0", "stage=\"\"", true, false},
		{"GA at 1.33", series("", 1), "v1.33.0", "stage=\"\"", false, false},
		{"GA at 1.36", series("", 1), "v1.36.0", "stage=\"\"", false, false},
		{"GA at 1.37", series("", 1), "v1.37.0", "stage=\"\"", true, false},
		{"no series, no version", other, "", "no usable version: unknown", false, false},
		{"no series at 1.27", other, "v1.27.0", "1.27 has no such gate", false, false},
		{"no series at 1.28", other, "v1.28.0", "1.28 must have one: unknown", false, true},
		{"no series at 1.36", other, "v1.36.0", "1.36 must have one: unknown", false, true},
		{"no series at 1.37", other, "v1.37.0", "1.37 has no gate any more: always on", false, false},
		{"GA reported off", series("", 0), "v1.33.0", ": unknown", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := compat.ParseFeatureMetrics(strings.NewReader(c.metrics))
			if err != nil {
				t.Fatal(err)
			}
			got, err := compat.FromKubeletMetrics(g, c.version)
			if (err != nil) != c.err {
				t.Errorf("error %v, want one: %v", err, c.err)
			}
			ev := evidence(got)
			if !strings.Contains(ev, c.want) {
				t.Errorf("evidence %q lacks %q", ev, c.want)
			}
			if strings.Contains(ev, "unexpected for version") != c.unexpected {
				t.Errorf("evidence %q: stage flagged unexpected: %v, want %v", ev, !c.unexpected, c.unexpected)
			}
		})
	}
}
