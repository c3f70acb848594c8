package compat_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarkit/sidecarkit/compat"
)

// sidecarGate is the parse result of interest: the SidecarContainers series.
type sidecarGate struct {
	Found bool
	Stage string
	Value float64
	Line  int
}

func lookupSidecar(g compat.FeatureGates) sidecarGate {
	s, ok := g.Lookup(compat.GateSidecarContainers)
	return sidecarGate{ok, s.Stage, s.Value, s.Line}
}

// refText is the exact text of docs/capability.md#feature-metrics.
const refText = `# HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.
# TYPE kubernetes_feature_enabled gauge
kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"} 1
`

func TestParseFeatureMetrics(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    sidecarGate
		gates   int
		wantErr string
		reason  string
	}{
		{name: "reference", in: refText, want: sidecarGate{true, "BETA", 1, 3}, gates: 1},
		{name: "labels-reversed", in: `kubernetes_feature_enabled{stage="ALPHA",name="SidecarContainers"} 0` + "\n", want: sidecarGate{true, "ALPHA", 0, 1}, gates: 1},
		{name: "ga-empty-stage", in: `kubernetes_feature_enabled{name="SidecarContainers",stage=""} 1`, want: sidecarGate{true, "", 1, 1}, gates: 1,
			reason: "no final newline either"},
		{name: "stage-missing", in: `kubernetes_feature_enabled{name="SidecarContainers"} 1`, want: sidecarGate{true, "", 1, 1}, gates: 1,
			reason: "an absent label equals an empty one in the Prometheus data model"},
		{name: "extra-labels-escaped", in: `kubernetes_feature_enabled{job="a\\b\"c\nd",name="SidecarContainers",instance="x,}y",stage="BETA"} 1`,
			want: sidecarGate{true, "BETA", 1, 1}, gates: 1, reason: "escapes and separators inside label values"},
		{name: "escaped-name-value", in: `kubernetes_feature_enabled{name="Sidecar\"Containers",stage="BETA"} 1` + "\n",
			want: sidecarGate{}, gates: 1, reason: "the unescaped name is Sidecar\"Containers, another gate"},
		{name: "spaces-and-trailing-comma", in: "\t kubernetes_feature_enabled { name = \"SidecarContainers\" ,\tstage=\"BETA\" , } \t1\n",
			want: sidecarGate{true, "BETA", 1, 1}, gates: 1},
		{name: "no-space-before-value", in: `kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"}1`, want: sidecarGate{true, "BETA", 1, 1}, gates: 1},
		{name: "timestamp", in: `kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"} 1 1732565120123` + "\n", want: sidecarGate{true, "BETA", 1, 1}, gates: 1},
		{name: "openmetrics-timestamp", in: `kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"} 1.0 1732565120.123` + "\n", want: sidecarGate{true, "BETA", 1, 1}, gates: 1},
		{name: "crlf", in: strings.ReplaceAll(refText, "\n", "\r\n"), want: sidecarGate{true, "BETA", 1, 3}, gates: 1},
		{name: "value-forms", in: "kubernetes_feature_enabled{name=\"SidecarContainers\",stage=\"BETA\"} 1e0\nkubernetes_feature_enabled{name=\"B\",stage=\"BETA\"} +0.0\n",
			want: sidecarGate{true, "BETA", 1, 1}, gates: 2},
		{name: "eof-stops", in: "# EOF\n" + `kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"} 1` + "\n<html>",
			want: sidecarGate{}, gates: 0, reason: "nothing after an OpenMetrics # EOF is read"},
		{name: "eof-not-first-token", in: "# EOF trailing\n" + `kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"} 1`,
			want: sidecarGate{true, "BETA", 1, 2}, gates: 1, reason: "only an exact # EOF line ends the input"},
		{name: "exemplar", in: `kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"} 1 # {trace_id="x"} 1`,
			want: sidecarGate{true, "BETA", 1, 1}, gates: 1},
		{name: "quoted-name-in-braces", in: `{"kubernetes_feature_enabled",name="SidecarContainers","stage"="BETA"} 1`,
			want: sidecarGate{true, "BETA", 1, 1}, gates: 1, reason: "the UTF-8 exposition form"},
		{name: "quoted-name-last", in: `{name="SidecarContainers",stage="BETA","kubernetes_feature_enabled"} 1`,
			want: sidecarGate{true, "BETA", 1, 1}, gates: 1},
		{name: "quoted-name-outside", in: `"kubernetes_feature_enabled"{name="SidecarContainers",stage="BETA"} 1`,
			want: sidecarGate{true, "BETA", 1, 1}, gates: 1},
		{name: "other-metric-braced", in: `{"some.metric",name="SidecarContainers",stage="BETA"} 1`, want: sidecarGate{}, gates: 0},
		{name: "prefix-name", in: `kubernetes_feature_enabled_total{name="SidecarContainers",stage="BETA"} 1`, want: sidecarGate{}, gates: 0},
		{name: "no-name-label", in: `kubernetes_feature_enabled{stage="BETA"} 1`, want: sidecarGate{}, gates: 0},
		{name: "no-labels", in: "kubernetes_feature_enabled 1\nkubernetes_feature_enabled{} 1\n", want: sidecarGate{}, gates: 0},
		{name: "identical-duplicate", in: refText + `kubernetes_feature_enabled{stage="BETA",name="SidecarContainers"} 1.0`,
			want: sidecarGate{true, "BETA", 1, 3}, gates: 1, reason: "an agreeing repeat keeps the first line"},
		{name: "empty", in: "", gates: 0},
		{name: "only-comments", in: "# hello\n#\n   # indented\n\n", gates: 0},
		{name: "other-metrics-unchecked", in: "go_goroutines{a=b} junk\n", gates: 0,
			reason: "other families are only checked to start with a name"},
		{name: "conflicting-duplicate", in: refText + `kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"} 0`,
			wantErr: "compat: metrics line 4: series for gate \"SidecarContainers\" (stage \"BETA\", value 0) contradicts line 3"},
		{name: "html", in: "<html><body>Forbidden</body></html>\n", wantErr: "compat: metrics line 1: expected a metric name or a comment"},
		{name: "json", in: `{"kind":"Status","status":"Failure"}`, wantErr: "compat: metrics line 1:"},
		{name: "bad-escape", in: `kubernetes_feature_enabled{name="Sidecar\tContainers"} 1`, wantErr: `invalid escape sequence "\\t"`},
		{name: "unterminated-value", in: `kubernetes_feature_enabled{name="SidecarContainers} 1`, wantErr: "unterminated quoted string"},
		{name: "unterminated-labels", in: `kubernetes_feature_enabled{name="SidecarContainers"`, wantErr: "unterminated label set"},
		{name: "missing-equals", in: `kubernetes_feature_enabled{name "x"} 1`, wantErr: `expected "=" after label name "name"`},
		{name: "unquoted-value", in: `kubernetes_feature_enabled{name=x} 1`, wantErr: "value must be a quoted string"},
		{name: "duplicate-label", in: `kubernetes_feature_enabled{name="a",name="b"} 1`, wantErr: `duplicate label "name"`},
		{name: "reserved-label", in: `kubernetes_feature_enabled{__name__="a"} 1`, wantErr: `"__name__" is reserved`},
		{name: "two-names", in: `{"kubernetes_feature_enabled","other"} 1`, wantErr: `expected "=" after label name "other"`},
		{name: "braces-without-name", in: `{name="SidecarContainers"} 1`, wantErr: "no metric name"},
		{name: "missing-value", in: `kubernetes_feature_enabled{name="SidecarContainers"}`, wantErr: "missing value"},
		{name: "bad-value", in: `kubernetes_feature_enabled{name="SidecarContainers"} yes`, wantErr: `value "yes" is not a number`},
		{name: "hex-value", in: `kubernetes_feature_enabled{name="SidecarContainers"} 0x1p0`, wantErr: `value "0x1p0" is not a number`},
		{name: "bad-timestamp", in: `kubernetes_feature_enabled{name="SidecarContainers"} 1 soon`, wantErr: `timestamp "soon" is not a number`},
		{name: "junk-after-timestamp", in: `kubernetes_feature_enabled{name="SidecarContainers"} 1 2 3`, wantErr: `unexpected text "3" after the timestamp`},
		{name: "label-name-digit", in: `kubernetes_feature_enabled{1a="x"} 1`, wantErr: "label name: expected a name"},
		{name: "label-name-colon", in: `kubernetes_feature_enabled{a:b="x"} 1`, wantErr: `expected "=" after label name "a"`},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got, err := compat.ParseFeatureMetrics(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				var me *compat.MetricsError
				if !errors.As(err, &me) {
					t.Errorf("error %T is not a *MetricsError", err)
				}
				if len(got.Gates) != 0 {
					t.Errorf("gates %v returned with an error", got.Gates)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, lookupSidecar(got)); diff != "" {
				t.Errorf("SidecarContainers (-want +got):\n%s", diff)
			}
			if len(got.Gates) != tc.gates {
				t.Errorf("%d gates, want %d: %v", len(got.Gates), tc.gates, got.Gates)
			}
		})
	}
}

func TestParseFeatureMetricsFiles(t *testing.T) {
	tests := []struct {
		file  string
		want  sidecarGate
		gates int
	}{
		{file: "apiserver-1.30-beta-on.txt", want: sidecarGate{true, "BETA", 1, 156}, gates: 46},
		{file: "apiserver-1.31-beta-off.txt", want: sidecarGate{true, "BETA", 0, 127}, gates: 46},
		{file: "apiserver-1.34-ga.txt", want: sidecarGate{true, "", 1, 179}, gates: 46},
		{file: "kubelet-1.27-no-gate.txt", want: sidecarGate{}, gates: 45},
		{file: "kubelet-1.28-alpha-off.txt", want: sidecarGate{true, "ALPHA", 0, 51}, gates: 46},
		{file: "kubelet-1.37-removed.txt", want: sidecarGate{}, gates: 45},
		{file: "kubelet-1.31-openmetrics.txt", want: sidecarGate{true, "BETA", 1, 7}, gates: 2},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "metrics", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := compat.ParseFeatureMetrics(f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, lookupSidecar(got)); diff != "" {
				t.Errorf("SidecarContainers (-want +got):\n%s", diff)
			}
			if len(got.Gates) != tc.gates {
				t.Errorf("%d gates, want %d", len(got.Gates), tc.gates)
			}
			for i := 1; i < len(got.Gates); i++ {
				if got.Gates[i-1].Name >= got.Gates[i].Name {
					t.Fatalf("gates not sorted: %q before %q", got.Gates[i-1].Name, got.Gates[i].Name)
				}
			}
		})
	}
}

func TestParseFeatureMetricsLongLines(t *testing.T) {
	long := strings.Repeat("x", compat.MaxMetricsLine+10)
	tests := []struct {
		name    string
		in      string
		want    sidecarGate
		wantErr bool
		reason  string
	}{
		{name: "long-comment", in: "# " + long + "\n" + refText, want: sidecarGate{true, "BETA", 1, 4}},
		{name: "long-other-metric", in: `other_metric{v="` + long + `"} 1` + "\n" + refText, want: sidecarGate{true, "BETA", 1, 4}},
		{name: "long-last-line", in: refText + "# " + long, want: sidecarGate{true, "BETA", 1, 3}, reason: "no final newline after a long comment"},
		{name: "long-feature-line", in: `kubernetes_feature_enabled{name="SidecarContainers",x="` + long + `"} 1` + "\n", wantErr: true},
		{name: "long-name", in: long + " 1\n", wantErr: true, reason: "the name does not end within the limit: it may be ours"},
		{name: "long-braced", in: `{"other",v="` + long + `"} 1`, wantErr: true},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got, err := compat.ParseFeatureMetrics(strings.NewReader(tc.in))
			if tc.wantErr {
				if !errors.Is(err, compat.ErrLineTooLong) || !strings.Contains(err.Error(), "longer than 65536 bytes") {
					t.Fatalf("error %v, want ErrLineTooLong saying the limit", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, lookupSidecar(got)); diff != "" {
				t.Errorf("SidecarContainers (-want +got):\n%s", diff)
			}
		})
	}
}

type failingReader struct{ r io.Reader }

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

func TestParseFeatureMetricsReadError(t *testing.T) {
	_, err := compat.ParseFeatureMetrics(failingReader{strings.NewReader(refText)})
	if err == nil || !strings.Contains(err.Error(), "compat: reading metrics at line 4: connection reset") {
		t.Errorf("error %v, want the read error with its line", err)
	}
}

// TestParseFeatureMetricsLarge streams an input of several megabytes, the
// size of a real API server's /metrics, with the series near the end.
func TestParseFeatureMetricsLarge(t *testing.T) {
	var b bytes.Buffer
	line := `apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="GET",version="v1",le="0.05"} 1234` + "\n"
	for b.Len() < 8<<20 {
		b.WriteString(line)
	}
	lines := strings.Count(b.String(), "\n")
	b.WriteString(refText)
	start := time.Now()
	got, err := compat.ParseFeatureMetrics(&b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sidecarGate{true, "BETA", 1, lines + 3}, lookupSidecar(got)); diff != "" {
		t.Errorf("SidecarContainers (-want +got):\n%s", diff)
	}
	t.Logf("8 MiB in %v", time.Since(start))
}

func TestFeatureGateEnabled(t *testing.T) {
	for v, want := range map[float64]compat.Support{1: compat.Supported, 0: compat.Unsupported, 0.5: compat.Unknown, -1: compat.Unknown} {
		if got := (compat.FeatureGate{Value: v}).Enabled(); got != want {
			t.Errorf("Enabled(%v) = %v, want %v", v, got, want)
		}
	}
}
