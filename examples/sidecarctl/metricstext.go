package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sidecarkit/sidecarkit/compat"
)

// parseFeatureMetrics reads the feature gates of a /metrics text that the
// user handed in (doctor metrics, --metrics). compat.ParseFeatureMetrics
// reads only kubernetes_feature_enabled and passes over every other line
// unchecked, so an HTML error page, a JSON document or an empty file
// would read as "no gates: unknown". Here the whole text must first be
// the Prometheus text exposition format (prometheus/common's parser, the
// one client_golang's own tests use) with at least one sample; if not,
// the error names the line.
func parseFeatureMetrics(text []byte) (compat.FeatureGates, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		var pe expfmt.ParseError
		if errors.As(err, &pe) {
			return compat.FeatureGates{}, fmt.Errorf("not the Prometheus text format: line %d: %s: %s", pe.Line, pe.Msg, lineSnippet(text, pe.Line))
		}
		return compat.FeatureGates{}, fmt.Errorf("not the Prometheus text format: %w", err)
	}
	if len(fams) == 0 {
		return compat.FeatureGates{}, errors.New("not the Prometheus text format: no metric samples")
	}
	return compat.ParseFeatureMetrics(bytes.NewReader(text))
}

// lineSnippet quotes the start of line n (from 1) of text.
func lineSnippet(text []byte, n int) string {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(text, '\n')
		if j < 0 {
			return `""`
		}
		text = text[j+1:]
	}
	if j := bytes.IndexByte(text, '\n'); j >= 0 {
		text = text[:j]
	}
	const limit = 80
	if len(text) > limit {
		return strconv.Quote(string(text[:limit])) + "..."
	}
	return strconv.Quote(string(text))
}
