package metrics

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sidecarkit/sidecarkit/compat"
)

// BenchmarkParse compares compat.ParseFeatureMetrics, which keeps only the
// kubernetes_feature_enabled series and bounds its memory by line and gate
// counts, with expfmt's text parser, which builds every metric family, on
// the largest real /metrics fixture. The ratio (expfmt / compat, ns/op
// and B/op of one run) is why compat keeps its own parser, besides the
// library's dependency policy (expfmt is not among its five modules).
func BenchmarkParse(b *testing.B) {
	data := largestFixture(b)
	b.Run("compat", func(b *testing.B) {
		g, err := compat.ParseFeatureMetrics(bytes.NewReader(data))
		if err != nil || len(g.Gates) == 0 {
			b.Fatalf("%d gates, %v", len(g.Gates), err)
		}
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_, _ = compat.ParseFeatureMetrics(bytes.NewReader(data))
		}
	})
	b.Run("expfmt", func(b *testing.B) {
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(data))
		if err != nil || fams["kubernetes_feature_enabled"] == nil {
			b.Fatalf("%d families, %v", len(fams), err)
		}
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			p := expfmt.NewTextParser(model.UTF8Validation)
			_, _ = p.TextToMetricFamilies(bytes.NewReader(data))
		}
	})
}

func largestFixture(b *testing.B) []byte {
	b.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "compat", "testdata", "metrics", "*.txt"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no fixtures: %v", err)
	}
	var best []byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if len(data) > len(best) && !bytes.Contains(data, []byte("# EOF")) {
			best = data
		}
	}
	return best
}
