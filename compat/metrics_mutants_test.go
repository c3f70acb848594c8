package compat_test

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestMetricsOverlongLines: which lines longer than maxMetricsLine are
// skipped (comments, blank runs, samples of another metric whose name,
// bare or quoted, can be read) and which are an error.
func TestMetricsOverlongLines(t *testing.T) {
	long := strings.Repeat("x", compat.MaxMetricsLine+10)
	gate := "kubernetes_feature_enabled{name=\"SidecarContainers\",stage=\"BETA\"} 1\n"
	for _, c := range []struct {
		name, line string
		ok         bool
	}{
		{"blanks", strings.Repeat(" \t", compat.MaxMetricsLine), true},
		{"indented comment", "   # " + long, true},
		{"quoted name of another metric", `"other.metric"{a="` + long + `"} 1`, true},
		{"indented sample of another metric", "\t other_metric{a=\"" + long + "\"} 1", true},
		{"quoted name of the feature metric", `"kubernetes_feature_enabled"{name="` + long + `"} 1`, false},
		{"name inside the braces", `{"other.metric",a="` + long + `"} 1`, false},
		{"a name that does not end", strings.Repeat("a", compat.MaxMetricsLine+10) + " 1", false},
		{"not a sample", "<html>" + long, false},
	} {
		g, err := compat.ParseFeatureMetrics(strings.NewReader(c.line + "\n" + gate))
		if !c.ok {
			var me *compat.MetricsError
			if !errors.Is(err, compat.ErrLineTooLong) || !errors.As(err, &me) || me.Line != 1 {
				t.Errorf("%s: %v, want ErrLineTooLong on line 1", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if s, found := g.Lookup(compat.GateSidecarContainers); !found || s.Line != 2 {
			t.Errorf("%s: the gate on line 2 was not read: %+v", c.name, g)
		}
	}
}

// TestMetricsReadErrorAfterLongLine: a read error while an overlong line is
// skipped is reported, on that line.
func TestMetricsReadErrorAfterLongLine(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("# "+strings.Repeat("x", 2*compat.MaxMetricsLine)), iotest.ErrReader(boom))
	_, err := compat.ParseFeatureMetrics(r)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "compat: reading metrics at line 1: ") {
		t.Errorf("error %v, want the read error on line 1", err)
	}
}

// TestMetricsNames: names are read the way the Prometheus text parser
// reads them: a quoted part ends the name, and \n in a quoted label value
// is a newline.
func TestMetricsNames(t *testing.T) {
	for _, c := range []struct {
		name, line string
		gates      []string // the gate names read
		err        string
	}{
		{name: "quoted part in the middle", line: `kubernetes_"feature"_enabled{name="G"} 1`, gates: []string{}},
		{name: "text after a quoted part", line: `kubernetes_feature_"enabled"x{name="G"} 1`, err: `metrics line 1: value "x{name=\"G\"}" is not a number`},
		{name: "unterminated quoted name", line: `"kubernetes_feature_enabled 1`, err: "metrics line 1: unterminated quoted string"},
		{name: "escapes in a label value", line: `kubernetes_feature_enabled{name="a\nb\\c\"d"} 1`, gates: []string{"a\nb\\c\"d"}},
	} {
		g, err := compat.ParseFeatureMetrics(strings.NewReader(c.line + "\n"))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := []string{}
		for _, x := range g.Gates {
			got = append(got, x.Name)
		}
		if strings.Join(got, "|") != strings.Join(c.gates, "|") || len(got) != len(c.gates) {
			t.Errorf("%s: gates %q, want %q", c.name, got, c.gates)
		}
	}
}

// TestMetricsNoGatesJSON: text that was read but holds no feature gates
// gives an empty list, not the null of a failed read.
func TestMetricsNoGatesJSON(t *testing.T) {
	g, err := compat.ParseFeatureMetrics(strings.NewReader("# HELP up x\nup 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(g)
	if err != nil || string(b) != `{"gates":[]}` {
		t.Errorf("JSON %s (%v), want {\"gates\":[]}", b, err)
	}
}

// TestFromMetricsWithoutSeriesEvidence: the evidence of metrics without the
// SidecarContainers series says how many gates were read.
func TestFromMetricsWithoutSeriesEvidence(t *testing.T) {
	got, err := compat.FromKubeletMetrics(gates("none", 0, "WatchList", "InPlacePodVerticalScaling"), "")
	if err != nil {
		t.Fatal(err)
	}
	const want = "no SidecarContainers series among 2 feature gates and no usable version: unknown: kubelet unknown"
	if evidence(got) != want {
		t.Errorf("evidence %q, want %q", evidence(got), want)
	}
}
