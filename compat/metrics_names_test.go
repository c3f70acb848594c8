package compat_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestMetricsNameCharacters: a line starts with a metric name (a letter,
// '_' or ':'), and the feature metric's label names go on with letters,
// digits and '_' (no ':'), as in the Prometheus text format; each end of
// each character range is accepted, the byte just outside it is not.
func TestMetricsNameCharacters(t *testing.T) {
	gate := "kubernetes_feature_enabled{name=\"SidecarContainers\",stage=\"BETA\"} 1\n"
	for _, first := range []string{"a", "z", "A", "Z", "_", ":"} {
		g, err := compat.ParseFeatureMetrics(strings.NewReader(first + "x 1\n" + gate))
		if err != nil {
			t.Errorf("%q: %v", first, err)
			continue
		}
		if _, ok := g.Lookup(compat.GateSidecarContainers); !ok {
			t.Errorf("%q: the gate after it was lost", first)
		}
	}
	for _, first := range []string{"`", "@", "[", "0", "9", "/"} {
		if _, err := compat.ParseFeatureMetrics(strings.NewReader(first + "x 1\n")); err == nil {
			t.Errorf("a line starting %q: accepted", first)
		}
	}
	labels := "kubernetes_feature_enabled{name=\"SidecarContainers\",stage=\"BETA\",a0=\"1\",z9=\"2\",Z=\"3\",A=\"4\",a_z=\"5\",aZ=\"6\"} 1\n"
	if _, err := compat.ParseFeatureMetrics(strings.NewReader(labels)); err != nil {
		t.Errorf("labels of every name character: %v", err)
	}
	for _, bad := range []string{":a", "a:b", "a/b", "a;b", "a@b", "a[b", "a`b", "a{b"} {
		line := "kubernetes_feature_enabled{name=\"G\"," + bad + "=\"1\"} 1\n"
		if _, err := compat.ParseFeatureMetrics(strings.NewReader(line)); err == nil {
			t.Errorf("label name %q: accepted", bad)
		}
	}
}

// TestMetricsSnippet: errors quote at most 80 bytes of the line.
func TestMetricsSnippet(t *testing.T) {
	for _, n := range []int{79, 80, 81} {
		line := "!" + strings.Repeat("x", n-1)
		_, err := compat.ParseFeatureMetrics(strings.NewReader(line + "\n"))
		if err == nil {
			t.Fatalf("%d bytes of garbage accepted", n)
		}
		cut := strings.Contains(err.Error(), "...")
		if cut != (n > 80) {
			t.Errorf("%d bytes: %v (cut: %v)", n, err, cut)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", line[:minInt(n, 80)])) {
			t.Errorf("%d bytes: %v does not quote the line's start", n, err)
		}
	}
}

// TestMetricsRepeatedSeries: the same gate twice with the same value (NaN
// equal to NaN) is fine; a different value or stage is a contradiction.
func TestMetricsRepeatedSeries(t *testing.T) {
	line := func(stage string, v string) string {
		return fmt.Sprintf("kubernetes_feature_enabled{name=\"G\",stage=%q} %s\n", stage, v)
	}
	for _, c := range []struct {
		in string
		ok bool
	}{
		{line("BETA", "1") + line("BETA", "1"), true},
		{line("BETA", "NaN") + line("BETA", "NaN"), true},
		{line("BETA", "1") + line("BETA", "NaN"), false},
		{line("BETA", "NaN") + line("BETA", "1"), false},
		{line("BETA", "1") + line("BETA", "0"), false},
		{line("BETA", "1") + line("ALPHA", "1"), false},
	} {
		g, err := compat.ParseFeatureMetrics(strings.NewReader(c.in))
		if (err == nil) != c.ok {
			t.Errorf("%q: error %v, want ok=%v", c.in, err, c.ok)
		}
		if c.ok {
			if s, found := g.Lookup("G"); !found || (s.Value != 1 && !math.IsNaN(s.Value)) {
				t.Errorf("%q: gate %+v", c.in, s)
			}
		}
	}
}

// TestMetricsLongLines: an overlong comment or foreign sample is skipped
// and the lines after it are read; an overlong line of the feature metric
// is an error.
func TestMetricsLongLines(t *testing.T) {
	long := strings.Repeat("x", compat.MaxMetricsLine+10)
	gate := "kubernetes_feature_enabled{name=\"SidecarContainers\",stage=\"BETA\"} 1\n"
	for _, c := range []struct {
		name, in string
		ok       bool
	}{
		{"comment", "# " + long + "\n" + gate, true},
		{"foreign sample", "other_metric{a=\"" + long + "\"} 1\n" + gate, true},
		{"foreign sample at the end", gate + "other_metric{a=\"" + long + "\"} 1", true},
		{"the feature metric", "kubernetes_feature_enabled{name=\"" + long + "\"} 1\n" + gate, false},
	} {
		g, err := compat.ParseFeatureMetrics(strings.NewReader(c.in))
		if (err == nil) != c.ok {
			t.Errorf("%s: error %v", c.name, err)
			continue
		}
		if !c.ok {
			if !errors.Is(err, compat.ErrLineTooLong) {
				t.Errorf("%s: %v, want ErrLineTooLong", c.name, err)
			}
			continue
		}
		if _, found := g.Lookup(compat.GateSidecarContainers); !found {
			t.Errorf("%s: the gate line was not read", c.name)
		}
	}
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}
