// Package metrics checks compat.ParseFeatureMetrics against the Prometheus
// text parser of github.com/prometheus/common/expfmt, a test-only oracle
// that the library itself does not depend on.
//
// The property: whenever expfmt accepts an input, compat accepts it too and
// finds the same kubernetes_feature_enabled{name="SidecarContainers"}
// series (stage and value), or reports a contradiction where expfmt holds
// two series with different stages or values. compat is deliberately more
// lenient than expfmt (CRLF, OpenMetrics "# EOF" and float timestamps,
// trailing blanks, no final newline; lines of other metrics are only
// checked to start with a name), so inputs expfmt rejects are not compared.
package metrics
