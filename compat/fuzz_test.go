package compat_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/sidecarkit/sidecarkit/compat"
)

// FuzzParseKubeletVersion checks that the version detectors agree with
// apimachinery's ParseGeneric (docs/capability.md#versions), that a failure is Unknown
// with an error, and that a distribution suffix never changes the result.
func FuzzParseKubeletVersion(f *testing.F) {
	for _, tc := range versionCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, kerr := compat.ParseKubeletVersion(s)
		a, aerr := compat.ParseAPIServerVersion(s)
		v, verr := version.ParseGeneric(s)
		wantOK := verr == nil && v.Major() == 1
		if (kerr == nil) != wantOK || (aerr == nil) != wantOK {
			t.Fatalf("%q: kubelet error %v, API server error %v, ParseGeneric %v, %v", s, kerr, aerr, v, verr)
		}
		if !wantOK {
			if k.Kubelet != compat.KubeletUnknown || k.OrderedTermination != compat.Unknown || a.APIServer != compat.APIServerUnknown {
				t.Fatalf("%q: failure is not Unknown: %v / %v", s, k, a)
			}
			return
		}
		if k.Kubelet == compat.KubeletUnknown || k.OrderedTermination == compat.Unknown || a.APIServer == compat.APIServerUnknown {
			t.Fatalf("%q parsed but gave Unknown: %v / %v", s, k, a)
		}
		wantK, wantA := compat.KubeletNative, compat.APIServerStores // docs/capability.md#versions
		switch m := v.Minor(); {
		case m < 28:
			wantK, wantA = compat.KubeletStrips, compat.APIServerUnknownField
		case m == 28:
			wantK, wantA = compat.KubeletRejects, compat.APIServerDrops
		}
		if k.Kubelet != wantK || a.APIServer != wantA {
			t.Fatalf("%q: kubelet %v, API server %v; want %v, %v", s, k.Kubelet, a.APIServer, wantK, wantA)
		}
		for _, suffix := range []string{"-eks-ae9a62a", "-gke.1043002", "+k3s1", "+a0b1c2d"} {
			ks, err := compat.ParseKubeletVersion(s + suffix)
			if err != nil || ks.Kubelet != k.Kubelet || ks.OrderedTermination != k.OrderedTermination {
				t.Fatalf("%q%s = %v, %v; want %v as without the suffix", s, suffix, ks, err, k)
			}
		}
	})
}

// FuzzParseFeatureMetrics feeds arbitrary text: no panic, the same result
// twice, sorted unique gates, and a SidecarContainers series only where
// the input has one.
func FuzzParseFeatureMetrics(f *testing.F) {
	f.Add([]byte(refText))
	f.Add([]byte(strings.ReplaceAll(refText, "\n", "\r\n")))
	f.Add([]byte(`{"kubernetes_feature_enabled",name="SidecarContainers"} 1 # {a="b"} 2` + "\n# EOF\n"))
	f.Add([]byte("kubernetes_feature_enabled{name=\"SidecarContainers\",stage=\"\\\"\"} 0x1 9 9\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := compat.ParseFeatureMetrics(bytes.NewReader(data))
		again, err2 := compat.ParseFeatureMetrics(bytes.NewReader(data))
		if (err == nil) != (err2 == nil) || !cmp.Equal(got, again, cmp.Comparer(sameFloat)) {
			t.Fatalf("two runs differ: %v %v / %v %v", got, err, again, err2)
		}
		if err != nil {
			if len(got.Gates) != 0 {
				t.Fatalf("gates returned with error %v", err)
			}
			return
		}
		for i := 1; i < len(got.Gates); i++ {
			if got.Gates[i-1].Name >= got.Gates[i].Name {
				t.Fatalf("gates not sorted and unique: %q, %q", got.Gates[i-1].Name, got.Gates[i].Name)
			}
		}
		if g, ok := got.Lookup(compat.GateSidecarContainers); ok {
			lines := bytes.Split(data, []byte("\n"))
			if g.Line < 1 || g.Line > len(lines) {
				t.Fatalf("series at line %d of %d", g.Line, len(lines))
			}
			line := lines[g.Line-1]
			if !bytes.Contains(line, []byte(compat.GateSidecarContainers)) || !bytes.Contains(line, []byte("kubernetes_feature_enabled")) {
				t.Fatalf("line %d %q does not hold the series", g.Line, line)
			}
		}
	})
}

func sameFloat(a, b float64) bool { return a == b || a != a && b != b }

// FuzzFeatureMetricsSeries builds an input from parts, so the test knows
// whether the series is there: filler comment and sample lines around an
// optional SidecarContainers series written in one of many valid ways.
// The series must be found exactly when present, with its stage and value.
func FuzzFeatureMetricsSeries(f *testing.F) {
	f.Add("# HELP x\nsome_metric 1", "go_goroutines 42", uint8(1), true, true, uint8(0), false, false)
	f.Add("", "", uint8(2), false, true, uint8(7), true, true)
	f.Add("a\"b\\c\nd", "# EOF", uint8(0), true, false, uint8(255), true, false)
	f.Fuzz(func(t *testing.T, before, after string, stageN uint8, enabled, present bool, style uint8, crlf, eof bool) {
		stage := []string{"ALPHA", "BETA", ""}[int(stageN)%3]
		value := "0"
		if enabled {
			value = []string{"1", "1.0", "1e0", "+1"}[int(style>>6)%4]
		} else if style&32 != 0 {
			value = "0.0"
		}
		var b strings.Builder
		nl := "\n"
		if crlf {
			nl = "\r\n"
		}
		filler(&b, before, nl)
		if present {
			b.WriteString(seriesLine(stage, value, style))
			b.WriteString(nl)
		}
		filler(&b, after, nl)
		if eof {
			b.WriteString("# EOF" + nl + `kubernetes_feature_enabled{name="SidecarContainers",stage="DEPRECATED"} 5` + nl)
		}
		in := b.String()
		got, err := compat.ParseFeatureMetrics(strings.NewReader(in))
		if err != nil {
			t.Fatalf("valid input rejected: %v\n%q", err, in)
		}
		g, found := got.Lookup(compat.GateSidecarContainers)
		if found != present {
			t.Fatalf("found %v, present %v\n%q", found, present, in)
		}
		wantValue := 0.0
		if enabled {
			wantValue = 1
		}
		if found && (g.Stage != stage || g.Value != wantValue) {
			t.Fatalf("got stage %q value %v, want %q %v\n%q", g.Stage, g.Value, stage, wantValue, in)
		}
	})
}

// filler writes each line of s as a comment or as a sample of another
// metric, so that it can never be, or end, the series.
func filler(b *strings.Builder, s, nl string) {
	if s == "" {
		return
	}
	for i, line := range strings.Split(strings.ReplaceAll(s, "\r", ""), "\n") {
		if i%2 == 0 {
			b.WriteString("#~" + line + nl)
			continue
		}
		b.WriteString(`other_metric{v="` + escapeLabel(line) + `"} 1` + nl)
	}
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// seriesLine writes the series in a style chosen by the bits of style:
// label order, an extra label, spaces, a trailing comma, a timestamp, the
// braced (UTF-8) form.
func seriesLine(stage, value string, style uint8) string {
	labels := []string{fmt.Sprintf(`name="%s"`, compat.GateSidecarContainers), fmt.Sprintf(`stage="%s"`, stage)}
	if style&1 != 0 {
		labels[0], labels[1] = labels[1], labels[0]
	}
	if style&2 != 0 {
		labels = append(labels, `instance="10.0.0.1:10250",job="kubelet\\\"x\n"`)
	}
	sep := ","
	if style&4 != 0 {
		sep = " , "
	}
	set := strings.Join(labels, sep)
	if style&8 != 0 {
		set += ","
	}
	line := "kubernetes_feature_enabled{" + set + "} " + value
	if style&16 != 0 {
		line = `{"kubernetes_feature_enabled",` + set + "}\t" + value
	}
	if style&32 != 0 {
		line += " 1732565120123"
	}
	return line
}

// FuzzDiagnose decodes arbitrary Pods: Diagnose must not panic, must be
// deterministic, and every finding must be complete.
func FuzzDiagnose(f *testing.F) {
	f.Add([]byte(`{"spec":{"nodeName":"n","initContainers":[{"name":"a","restartPolicy":"Always"},{"name":"b"}]},"status":{"phase":"Pending","initContainerStatuses":[{"name":"a","state":{"running":{}}}]}}`),
		[]byte(`{"initContainers":[{"name":"b","restartPolicy":"Always","startupProbe":{}}]}`), uint8(2), uint8(1))
	f.Add([]byte(`{"metadata":{"managedFields":[{"manager":"m","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:initContainers":{"k:{\"name\":\"a\"}":{"f:restartPolicy":{}}}}}}]},"spec":{"initContainers":[{"name":"a"}]}}`),
		[]byte(`null`), uint8(0), uint8(2))
	f.Add([]byte(`{"status":{"reason":"InitContainerRestartPolicyForbidden"}}`), []byte(`{}`), uint8(3), uint8(3))
	f.Fuzz(func(t *testing.T, podJSON, intendedJSON []byte, kubelet, api uint8) {
		var pod corev1.Pod
		if json.Unmarshal(podJSON, &pod) != nil {
			return
		}
		facts := compat.Facts{Pod: &pod, Capability: compat.Capability{
			Kubelet: compat.Kubelet(kubelet % 5), OrderedTermination: compat.Support(kubelet / 5 % 3), APIServer: compat.APIServer(api % 5)}}
		var intended corev1.PodSpec
		if json.Unmarshal(intendedJSON, &intended) == nil {
			facts.Intended = &intended
		}
		got := compat.Diagnose(facts)
		if diff := cmp.Diff(got, compat.Diagnose(facts)); diff != "" {
			t.Fatalf("two runs differ:\n%s", diff)
		}
		for _, fd := range got {
			if fd.Code == "" || fd.Message == "" || fd.Severity.String() != severityName(fd.Severity) {
				t.Fatalf("incomplete finding %+v", fd)
			}
			if fd.Path != "" && !strings.HasPrefix(fd.Path, "spec.") && !strings.HasPrefix(fd.Path, "status.") && !strings.HasPrefix(fd.Path, "metadata.") {
				t.Fatalf("finding path %q", fd.Path)
			}
		}
	})
}

func severityName(s compat.Severity) string {
	b, err := s.MarshalText()
	if err != nil {
		return "invalid"
	}
	return string(b)
}
