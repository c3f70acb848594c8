package main

import (
	"bufio"
	"bytes"
	"fmt"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The API server metrics that show which webhooks it called for the probe
// (docs/doctor.md#which-webhooks-were-called-the-api-servers-counters).
const (
	metricWebhookRequests = "apiserver_admission_webhook_request_total" // {name, type, operation, code, rejected}
	metricRequests        = "apiserver_request_total"                   // {verb, dry_run, group, version, resource, subresource, ...}
)

// webhookCounters is what one read of the API server's /metrics says about
// admission webhooks.
type webhookCounters struct {
	// calls counts, per webhook name, the mutating (type "admit") calls for
	// CREATE.
	calls map[string]int64
	// dryRunPodCreates counts the dry-run Pod creates the API server served.
	dryRunPodCreates int64
	// found says whether the request counter was there at all (a metrics
	// text without it is not an API server's).
	found bool
}

// parseWebhookCounters reads the two counter families from an API
// server's metrics text. Only their lines reach the Prometheus parser, so
// the rest of a large text costs a scan.
func parseWebhookCounters(text []byte) (webhookCounters, error) {
	var filtered bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), len(text)+1)
	for sc.Scan() {
		line := sc.Bytes()
		if familyLine(line, metricWebhookRequests) || familyLine(line, metricRequests) {
			filtered.Write(line)
			filtered.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return webhookCounters{}, fmt.Errorf("metrics: %w", err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(&filtered)
	if err != nil {
		return webhookCounters{}, fmt.Errorf("metrics: %w", err)
	}
	c := webhookCounters{calls: map[string]int64{}}
	if f := fams[metricWebhookRequests]; f != nil {
		for _, m := range f.GetMetric() {
			l := labelMap(m)
			if l["type"] == "admit" && l["operation"] == "CREATE" {
				c.calls[l["name"]] += int64(m.GetCounter().GetValue())
			}
		}
	}
	if f := fams[metricRequests]; f != nil {
		c.found = true
		for _, m := range f.GetMetric() {
			l := labelMap(m)
			if l["verb"] == "POST" && l["dry_run"] == "All" && l["group"] == "" && l["resource"] == "pods" && l["subresource"] == "" {
				c.dryRunPodCreates += int64(m.GetCounter().GetValue())
			}
		}
	}
	return c, nil
}

// familyLine reports whether a metrics line belongs to the family: its
// HELP or TYPE comment, or a sample of it.
func familyLine(line []byte, family string) bool {
	if rest, ok := bytes.CutPrefix(line, []byte("# HELP ")); ok {
		line = rest
	} else if rest, ok := bytes.CutPrefix(line, []byte("# TYPE ")); ok {
		line = rest
	}
	rest, ok := bytes.CutPrefix(line, []byte(family))
	return ok && len(rest) > 0 && (rest[0] == '{' || rest[0] == ' ')
}

func labelMap(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}
