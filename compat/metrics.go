package compat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// maxMetricsLine is the longest line, in bytes with its line end, that
// [ParseFeatureMetrics] reads. Longer comment lines, and longer sample lines whose metric name
// can be read and is not kubernetes_feature_enabled, are skipped; any other
// longer line is a [MetricsError] that says so.
const maxMetricsLine = 64 << 10

// maxFeatureGates bounds the memory ParseFeatureMetrics uses; Kubernetes
// components have a few hundred gates.
const maxFeatureGates = 4096

const featureMetric = "kubernetes_feature_enabled"

// errLineTooLong is wrapped by [ParseFeatureMetrics] errors for a line
// longer than [maxMetricsLine] that may hold a feature gate.
var errLineTooLong = errors.New("line too long")

// MetricsError is a syntax error in metrics text, at a line (1-based).
type MetricsError struct {
	Line int
	Err  error
}

func (e *MetricsError) Error() string {
	return fmt.Sprintf("compat: metrics line %d: %v", e.Line, e.Err)
}

// Unwrap returns the underlying error.
func (e *MetricsError) Unwrap() error { return e.Err }

// ParseFeatureMetrics reads the Prometheus text exposition of a Kubernetes
// component's /metrics (kubectl get --raw /metrics for the API server,
// /api/v1/nodes/<node>/proxy/metrics for a kubelet) and returns every
// kubernetes_feature_enabled series (docs/capability.md#feature-metrics).
//
// It streams line by line in bounded memory: inputs of many megabytes are
// fine. It accepts labels in any order and with escaped values, spaces
// around label tokens, a trailing comma, HELP/TYPE lines and other comments,
// timestamps (integer, or OpenMetrics float seconds), exemplars, CRLF line
// ends, a missing final newline, and quoted (UTF-8) metric and label names.
// It stops at an OpenMetrics "# EOF" line. Lines of other metrics are only
// checked to start with a metric name (so an HTML error page is an error,
// not "no series"); series of kubernetes_feature_enabled are checked fully.
// A series without a name label is ignored; a missing stage label means
// stage "" (GA), as in the Prometheus data model. Two series for the same
// gate (any gate) must agree in stage and value; otherwise the input is not
// one component's and the result is an error.
//
// On error the result is empty: nothing is known.
func ParseFeatureMetrics(r io.Reader) (FeatureGates, error) {
	br := bufio.NewReaderSize(r, maxMetricsLine)
	gates := make(map[string]FeatureGate)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !skippableLongLine(line) {
				return FeatureGates{}, &MetricsError{n, fmt.Errorf("%w: longer than %d bytes: %s", errLineTooLong, maxMetricsLine, snippet(line))}
			}
			if err = discardLine(br); err == nil {
				continue
			}
			line = nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return FeatureGates{}, fmt.Errorf("compat: reading metrics at line %d: %w", n, err)
		}
		if len(line) > 0 {
			stop, perr := parseMetricsLine(trimEOL(line), n, gates)
			if perr != nil {
				return FeatureGates{}, perr
			}
			if stop {
				break
			}
		}
		if err != nil { // io.EOF
			break
		}
	}
	out := FeatureGates{Gates: make([]FeatureGate, 0, len(gates))}
	for _, g := range gates {
		out.Gates = append(out.Gates, g)
	}
	sort.Slice(out.Gates, func(i, j int) bool { return out.Gates[i].Name < out.Gates[j].Name })
	return out, nil
}

// discardLine reads up to and including the next newline.
func discardLine(br *bufio.Reader) error {
	for {
		_, err := br.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// skippableLongLine reports whether an overlong line is a comment or a
// sample whose metric name (bare or quoted, not inside braces) ends within
// the prefix and is not ours. Anything else fails to read as a name.
func skippableLongLine(prefix []byte) bool {
	s := lineScanner{b: prefix}
	s.skipBlank()
	if s.done() {
		return true
	}
	if s.peek() == '#' {
		return true
	}
	name, err := s.name(true)
	return err == nil && !s.done() && name != featureMetric
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// parseMetricsLine handles one line without its line end. It reports
// whether the input ends here (# EOF).
func parseMetricsLine(line []byte, n int, gates map[string]FeatureGate) (bool, error) {
	s := lineScanner{b: line}
	s.skipBlank()
	if s.done() {
		return false, nil
	}
	switch c := s.peek(); {
	case c == '#':
		return string(s.rest()) == "# EOF", nil
	case c == '{' || c == '"':
		// The name is inside the braces or quoted: parse it all.
	case isNameStart(c):
		start := s.pos
		if name, err := s.name(true); err == nil && name != featureMetric {
			return false, nil // another metric: not ours to check
		}
		s.pos = start
	default:
		return false, &MetricsError{n, fmt.Errorf("expected a metric name or a comment: %s", snippet(line))}
	}
	smp, err := s.sample()
	if err != nil {
		return false, &MetricsError{n, fmt.Errorf("%v: %s", err, snippet(line))}
	}
	if smp.name != featureMetric {
		return false, nil
	}
	name, ok := smp.labels["name"]
	if !ok {
		return false, nil
	}
	g := FeatureGate{Name: name, Stage: smp.labels["stage"], Value: smp.value, Line: n}
	if prev, seen := gates[name]; seen {
		if prev.Stage != g.Stage || !sameValue(prev.Value, g.Value) {
			return false, &MetricsError{n, fmt.Errorf("series for gate %q (stage %q, value %v) contradicts line %d (stage %q, value %v); is the input from one component?",
				name, g.Stage, g.Value, prev.Line, prev.Stage, prev.Value)}
		}
		return false, nil
	}
	if len(gates) >= maxFeatureGates {
		return false, &MetricsError{n, fmt.Errorf("more than %d feature gates", maxFeatureGates)}
	}
	gates[name] = g
	return false, nil
}

// sameValue compares sample values, NaN equal to NaN.
func sameValue(a, b float64) bool { return a == b || a != a && b != b }

// snippet quotes the start of a line for an error message.
func snippet(b []byte) string {
	const limit = 80
	if len(b) > limit {
		return strconv.Quote(string(b[:limit])) + "..."
	}
	return strconv.Quote(string(b))
}

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// lineScanner reads the tokens of one sample line. Its methods never read
// past the end of b.
type lineScanner struct {
	b   []byte
	pos int
}

func (s *lineScanner) done() bool   { return s.pos >= len(s.b) }
func (s *lineScanner) peek() byte   { return s.b[s.pos] }
func (s *lineScanner) rest() []byte { return s.b[s.pos:] }

func (s *lineScanner) skipBlank() {
	for !s.done() && (s.peek() == ' ' || s.peek() == '\t') {
		s.pos++
	}
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':'
}

func isNameChar(c byte, colon bool) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9' || colon && c == ':'
}

// name reads a metric name (colon true) or label name the way the
// Prometheus text parser (expfmt) does: a run of name characters in which
// a double quote opens a quoted part that may hold any byte and the
// escapes \\, \" and \n (UTF-8 names, `{"my.metric"}`); the name ends
// right after the closing quote, or at the first other byte. So `a"b"`
// reads as "ab", as expfmt has it.
func (s *lineScanner) name(colon bool) (string, error) {
	if s.done() {
		return "", errors.New("expected a name, found end of line")
	}
	if c := s.peek(); c != '"' && (!isNameStart(c) || !colon && c == ':') {
		return "", fmt.Errorf("expected a name, found %q", c)
	}
	var out strings.Builder
	for !s.done() {
		c := s.peek()
		if c == '"' {
			q, err := s.quoted()
			if err != nil {
				return "", err
			}
			out.WriteString(q)
			break
		}
		if !isNameChar(c, colon) {
			break
		}
		out.WriteByte(c)
		s.pos++
	}
	if out.Len() == 0 {
		return "", errors.New("empty name")
	}
	return out.String(), nil
}

// quoted reads a double-quoted string with the escapes \\, \" and \n.
func (s *lineScanner) quoted() (string, error) {
	s.pos++ // opening quote
	var out strings.Builder
	for !s.done() {
		c := s.peek()
		s.pos++
		switch c {
		case '"':
			return out.String(), nil
		case '\\':
			if s.done() {
				return "", errors.New("unterminated escape sequence")
			}
			e := s.peek()
			s.pos++
			switch e {
			case '\\', '"':
				out.WriteByte(e)
			case 'n':
				out.WriteByte('\n')
			default:
				return "", fmt.Errorf("invalid escape sequence %q", []byte{'\\', e})
			}
		default:
			out.WriteByte(c)
		}
	}
	return "", errors.New("unterminated quoted string")
}

// sample parses a whole sample line: name, labels, value, timestamp.
func (s *lineScanner) sample() (sample, error) {
	var smp sample
	braced := s.peek() == '{'
	if !braced {
		name, err := s.name(true)
		if err != nil {
			return smp, err
		}
		smp.name = name
		s.skipBlank()
	}
	if !s.done() && s.peek() == '{' {
		if err := s.labels(&smp, braced); err != nil {
			return smp, err
		}
	}
	if smp.name == "" {
		return smp, errors.New("no metric name")
	}
	s.skipBlank()
	tok := s.token()
	if tok == "" {
		return smp, errors.New("missing value")
	}
	v, err := parseSampleFloat(tok)
	if err != nil {
		return smp, fmt.Errorf("value %q is not a number", tok)
	}
	smp.value = v
	s.skipBlank()
	if s.done() || s.peek() == '#' { // OpenMetrics exemplar
		return smp, nil
	}
	ts := s.token()
	if _, err := parseSampleFloat(ts); err != nil {
		return smp, fmt.Errorf("timestamp %q is not a number", ts)
	}
	s.skipBlank()
	if !s.done() && s.peek() != '#' {
		return smp, fmt.Errorf("unexpected text %q after the timestamp", s.rest())
	}
	return smp, nil
}

// labels parses "{...}". In the braced form the metric name may be one of
// the items: a name without "=".
func (s *lineScanner) labels(smp *sample, braced bool) error {
	s.pos++ // {
	for {
		s.skipBlank()
		if s.done() {
			return errors.New("unterminated label set")
		}
		if s.peek() == '}' {
			s.pos++
			return nil
		}
		key, err := s.name(false)
		if err != nil {
			return fmt.Errorf("label name: %w", err)
		}
		s.skipBlank()
		if !s.done() && s.peek() == '=' {
			s.pos++
			s.skipBlank()
			if s.done() || s.peek() != '"' {
				return fmt.Errorf("label %q: value must be a quoted string", key)
			}
			val, err := s.quoted()
			if err != nil {
				return fmt.Errorf("label %q: %w", key, err)
			}
			if key == "__name__" {
				return errors.New(`label name "__name__" is reserved`)
			}
			if _, dup := smp.labels[key]; dup {
				return fmt.Errorf("duplicate label %q", key)
			}
			if smp.labels == nil {
				smp.labels = make(map[string]string, 2)
			}
			smp.labels[key] = val
		} else {
			if !braced || smp.name != "" {
				return fmt.Errorf("expected \"=\" after label name %q", key)
			}
			smp.name = key
		}
		s.skipBlank()
		if s.done() {
			return errors.New("unterminated label set")
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return fmt.Errorf("expected \",\" or \"}\" after label %q, found %q", key, s.peek())
		}
	}
}

// token reads up to the next blank or the end of the line.
func (s *lineScanner) token() string {
	start := s.pos
	for !s.done() && s.peek() != ' ' && s.peek() != '\t' {
		s.pos++
	}
	return string(s.b[start:s.pos])
}

// parseSampleFloat parses a value as the Prometheus text parser does:
// strconv.ParseFloat without hex floats or digit separators.
func parseSampleFloat(s string) (float64, error) {
	if strings.ContainsAny(s, "pP_") {
		return 0, errors.New("unsupported character in number")
	}
	return strconv.ParseFloat(s, 64)
}
