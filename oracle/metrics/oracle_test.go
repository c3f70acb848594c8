package metrics

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sidecarkit/sidecarkit/compat"
)

// series is a SidecarContainers series as either parser sees it.
type series struct {
	stage string
	value float64
}

// oracle parses with expfmt. ok is false when expfmt rejects the input.
// It returns the distinct SidecarContainers series in input order, and
// whether any gate has two distinct series (which compat must reject).
func oracle(data []byte) (found []series, conflict, ok bool) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		return nil, false, false
	}
	mf := families["kubernetes_feature_enabled"]
	if mf == nil {
		return nil, false, true
	}
	byGate := map[string][]series{}
	for _, m := range mf.GetMetric() {
		name, hasName, stage := "", false, ""
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "name":
				name, hasName = l.GetValue(), true
			case "stage":
				stage = l.GetValue()
			}
		}
		if !hasName {
			continue
		}
		s := series{stage, value(mf.GetType(), m)}
		dup := false
		for _, f := range byGate[name] {
			dup = dup || f.stage == s.stage && sameFloat(f.value, s.value)
		}
		if !dup {
			byGate[name] = append(byGate[name], s)
			conflict = conflict || len(byGate[name]) > 1
		}
	}
	return byGate[compat.GateSidecarContainers], conflict, true
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// compare checks the property on one input; it returns whether expfmt
// accepted it.
func compare(t *testing.T, data []byte) bool {
	t.Helper()
	want, conflict, ok := oracle(data)
	if !ok {
		return false
	}
	got, err := compat.ParseFeatureMetrics(bytes.NewReader(data))
	switch {
	case conflict:
		if err == nil || !strings.Contains(err.Error(), "contradicts") {
			t.Fatalf("expfmt found conflicting series; compat: %v, %v\ninput: %q", got.Gates, err, data)
		}
	case err != nil:
		t.Fatalf("expfmt accepts, compat rejects: %v\ninput: %q", err, data)
	default:
		g, found := got.Lookup(compat.GateSidecarContainers)
		if found != (len(want) == 1) {
			t.Fatalf("compat found %v (%+v), expfmt found %v\ninput: %q", found, g, want, data)
		}
		if found && (g.Stage != want[0].stage || !sameFloat(g.Value, want[0].value)) {
			t.Fatalf("compat %q=%v, expfmt %q=%v\ninput: %q", g.Stage, g.Value, want[0].stage, want[0].value, data)
		}
	}
	return true
}

func sameFloat(a, b float64) bool { return a == b || a != a && b != b }

// TestRealistic compares both parsers on the compat test fixtures.
func TestRealistic(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "compat", "testdata", "metrics", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		f := f
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(f, "openmetrics") {
				// expfmt has no OpenMetrics parser: compare the classic
				// form, up to # EOF and without the float timestamps.
				data = classic(data)
			}
			if !compare(t, data) {
				t.Fatalf("expfmt rejects the fixture")
			}
		})
	}
}

func classic(data []byte) []byte {
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if line == "# EOF" {
			break
		}
		if f := strings.Fields(line); len(f) == 3 && !strings.HasPrefix(line, "#") {
			line = f[0] + " " + f[1]
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

// TestRandom compares both parsers on generated inputs: valid expositions
// in many shapes, and the same with random damage.
func TestRandom(t *testing.T) {
	r := rand.New(rand.NewSource(20261126))
	accepted, withSeries := 0, 0
	for i := 0; i < 4000; i++ {
		data := generate(r)
		if i%3 == 2 {
			data = damage(r, data)
		}
		if compare(t, data) {
			accepted++
			if want, _, _ := oracle(data); len(want) > 0 {
				withSeries++
			}
		}
	}
	t.Logf("%d of 4000 inputs accepted by expfmt, %d of them with the series", accepted, withSeries)
	if accepted < 2000 || withSeries < 1000 {
		t.Errorf("the generator is too weak: %d accepted, %d with the series", accepted, withSeries)
	}
}

// FuzzAgainstExpfmt compares both parsers on arbitrary inputs.
func FuzzAgainstExpfmt(f *testing.F) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		f.Add(generate(r))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compare(t, data)
	})
}

var (
	gateNames = []string{"SidecarContainers", "WatchList", "APIListChunking", "Sidecar", "sidecarcontainers"}
	stages    = []string{"ALPHA", "BETA", "", "DEPRECATED"}
	values    = []string{"0", "1", "1.0", "0e0", "+1", "NaN", "2", "-0"}
	oddValues = []string{`a\\b`, `quote\"d`, `new\nline`, "ünï", "", "x,}y", "{}=", "#", "  spaced  "}
)

// generate writes a valid exposition: other families, comments, and a
// kubernetes_feature_enabled family in a random style.
func generate(r *rand.Rand) []byte {
	var b bytes.Buffer
	pick := func(list []string) string { return list[r.Intn(len(list))] }
	for i := r.Intn(3); i > 0; i-- {
		fmt.Fprintf(&b, "# HELP other_%d Some help with \\\\ and \\n escapes.\n# TYPE other_%d %s\n", i, i, pick([]string{"gauge", "counter", "untyped"}))
		for j := r.Intn(3); j >= 0; j-- {
			fmt.Fprintf(&b, "other_%d{path=\"%s\",code=\"%d\"} %s\n", i, pick(oddValues), 200+j, pick(values))
		}
	}
	if r.Intn(4) > 0 {
		b.WriteString("# HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.\n")
	}
	if r.Intn(4) > 0 {
		fmt.Fprintf(&b, "# TYPE kubernetes_feature_enabled %s\n", pick([]string{"gauge", "gauge", "untyped", "counter"}))
	}
	for i := r.Intn(5); i >= 0; i-- {
		b.WriteString(sample(r, pick(gateNames), pick(stages), pick(values)))
	}
	if r.Intn(5) == 0 {
		b.WriteString("# a trailing comment\n")
	}
	return b.Bytes()
}

// sample writes one kubernetes_feature_enabled sample in a random style.
func sample(r *rand.Rand, name, stage, value string) string {
	labels := []string{fmt.Sprintf("name=%q", name)}
	if r.Intn(6) > 0 {
		labels = append(labels, fmt.Sprintf("stage=%q", stage))
	}
	if r.Intn(3) == 0 {
		labels = append(labels, fmt.Sprintf(`instance="%s"`, oddValues[r.Intn(len(oddValues))]))
	}
	if r.Intn(4) == 0 {
		labels = append(labels, `"quoted.label"="v"`)
	}
	r.Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
	sep := []string{",", ", ", " ,\t"}[r.Intn(3)]
	set := strings.Join(labels, sep)
	if r.Intn(5) == 0 {
		set += ","
	}
	lead := []string{"", " ", "\t"}[r.Intn(3)]
	var line string
	switch r.Intn(5) {
	case 0:
		line = `{"kubernetes_feature_enabled"` + sep + set + "}"
	case 1:
		line = "kubernetes_feature_enabled {" + set + "}"
	default:
		line = "kubernetes_feature_enabled{" + set + "}"
	}
	line = lead + line + []string{" ", "\t", "  "}[r.Intn(3)] + value
	if r.Intn(4) == 0 {
		line += fmt.Sprintf(" %d", r.Int63n(2e12)-1e11)
	}
	return line + "\n"
}

// damage flips, inserts or deletes a few bytes.
func damage(r *rand.Rand, data []byte) []byte {
	if len(data) == 0 {
		return data
	}
	out := append([]byte(nil), data...)
	const alphabet = "{}\",=\\ \t\n#abcSidecar01.eE+-_:"
	for i := r.Intn(3); i >= 0; i-- {
		p := r.Intn(len(out))
		switch r.Intn(3) {
		case 0:
			out[p] = alphabet[r.Intn(len(alphabet))]
		case 1:
			out = append(out[:p], append([]byte{alphabet[r.Intn(len(alphabet))]}, out[p:]...)...)
		default:
			out = append(out[:p], out[p+1:]...)
		}
	}
	return out
}
