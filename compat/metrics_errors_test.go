package compat_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestMetricsSyntaxErrors: each malformed feature-metric line is refused
// with what is wrong, on its line.
func TestMetricsSyntaxErrors(t *testing.T) {
	const m = "kubernetes_feature_enabled"
	for _, c := range []struct{ line, want string }{
		{m + "{", "unterminated label set"},
		{m + "{name=\"G\"", "unterminated label set"},
		{m + "{name=\"G\" stage=\"BETA\"} 1", `expected "," or "}" after label "name"`},
		{m + "{name=\"G\\", "unterminated escape sequence"},
		{m + "{name=\"G\\x\"} 1", `invalid escape sequence`},
		{m + "{=\"G\"} 1", "expected a name"},
		{m + "{\"\"=\"G\"} 1", "empty name"},
		{m + "{name=\"G\"}", "value"},
		{m + "{name=\"G\"} x", "value"},
	} {
		_, err := compat.ParseFeatureMetrics(strings.NewReader("# HELP x\n" + c.line + "\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: %v, want %q on line 2", c.line, err, c.want)
		}
	}
}

// TestMetricsGateLimit: at most 4096 feature gates are read.
func TestMetricsGateLimit(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 4096; i++ {
		fmt.Fprintf(&b, "kubernetes_feature_enabled{name=\"G%d\",stage=\"BETA\"} 1\n", i)
	}
	g, err := compat.ParseFeatureMetrics(strings.NewReader(b.String()))
	if err != nil || len(g.Gates) != 4096 {
		t.Fatalf("4096 gates: %d, %v", len(g.Gates), err)
	}
	b.WriteString("kubernetes_feature_enabled{name=\"one-more\",stage=\"BETA\"} 1\n")
	if _, err := compat.ParseFeatureMetrics(strings.NewReader(b.String())); err == nil || !strings.Contains(err.Error(), "more than 4096 feature gates") {
		t.Errorf("4097 gates: %v", err)
	}
}

// TestSkewPolicyEvidence: the evidence names the allowed range and the skew.
func TestSkewPolicyEvidence(t *testing.T) {
	for _, c := range []struct{ api, want string }{
		{"v1.31.0", "allows kubelets 1.28 to 1.31 (n-3)"},
		{"v1.27.3", "allows kubelets 1.25 to 1.27 (n-2)"},
	} {
		got, err := compat.FromSkewPolicy(c.api)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(evidence(got), c.want) {
			t.Errorf("%s: %q lacks %q", c.api, evidence(got), c.want)
		}
	}
}
