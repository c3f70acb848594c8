package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the metrics as Prometheus does: GET /metrics, the text
// format parsed.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the value of the series of family with exactly labels
// (a counter's or gauge's value, a histogram's count), and whether it is
// there.
func value(fams map[string]*dto.MetricFamily, family string, labels map[string]string) (float64, bool) {
	f := fams[family]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics: after reviews of each outcome, /metrics counts them by
// outcome and mode, the skips by reason, times each in the histogram by
// outcome, and shows a review in flight while one is.
func TestMetrics(t *testing.T) {
	m := newMetrics()
	ts := startServerWith(t, testOptions{config: testConfig, metrics: m})
	ms := httptest.NewServer(m.handler())
	defer ms.Close()

	post := func(ctype, body string) int {
		t.Helper()
		r, err := http.NewRequest("POST", ts.url+"/mutate", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", ctype)
		resp, err := ts.client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	const j = "application/json"
	optedOut := strings.Replace(testPod, `"name":"web"`, `"name":"web","labels":{"sidecar.sidecarkit.io/inject":"false"}`, 1)
	clash := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"proxy","image":"nginx"}]}}`
	for _, rq := range []struct{ ctype, body string }{
		{j, reviewBody("Pod", "", testPod)},
		{j, reviewBody("Pod", "", testPod)},
		{j, reviewBody("Pod", "", optedOut)},
		{j, reviewBody("Service", "", `{"kind":"Service"}`)},
		{j, reviewBody("Pod", "", clash)},
		{j, `{"apiVersion":"admission.k8s.io/v1",`},
		{"text/plain", reviewBody("Pod", "", testPod)},
	} {
		post(rq.ctype, rq.body)
	}
	// Observe runs once a response is written, so the client can see the
	// last answer before its review is counted and leaves the in-flight
	// gauge: scrape until all seven are counted and none is in flight.
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; {
		fams = scrape(t, ms.URL)
		var n float64
		for _, s := range fams["sidecarkit_webhook_reviews_total"].GetMetric() {
			n += s.GetCounter().GetValue()
		}
		busy, _ := value(fams, "sidecarkit_webhook_reviews_in_flight", map[string]string{})
		if n >= 7 && busy == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"sidecarkit_webhook_reviews_total", map[string]string{"outcome": "injected", "mode": "native"}, 2},
		{"sidecarkit_webhook_reviews_total", map[string]string{"outcome": "skipped", "mode": "none"}, 2},
		{"sidecarkit_webhook_reviews_total", map[string]string{"outcome": "denied", "mode": "none"}, 1},
		{"sidecarkit_webhook_reviews_total", map[string]string{"outcome": "rejected", "mode": "none"}, 2},
		{"sidecarkit_webhook_skips_total", map[string]string{"reason": "Declined"}, 1},
		{"sidecarkit_webhook_skips_total", map[string]string{"reason": "Kind"}, 1},
		{"sidecarkit_webhook_review_duration_seconds", map[string]string{"outcome": "injected"}, 2},
		{"sidecarkit_webhook_review_duration_seconds", map[string]string{"outcome": "skipped"}, 2},
		{"sidecarkit_webhook_review_duration_seconds", map[string]string{"outcome": "denied"}, 1},
		{"sidecarkit_webhook_review_duration_seconds", map[string]string{"outcome": "rejected"}, 2},
		{"sidecarkit_webhook_reviews_in_flight", map[string]string{}, 0},
	} {
		if got, ok := value(fams, c.family, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.family, c.labels, got, ok, c.want)
		}
	}
	var total float64
	for _, s := range fams["sidecarkit_webhook_reviews_total"].GetMetric() {
		total += s.GetCounter().GetValue()
	}
	if total != 7 {
		t.Errorf("reviews_total sums to %v, want the 7 requests", total)
	}
	h := fams["sidecarkit_webhook_review_duration_seconds"].GetMetric()[0].GetHistogram()
	if n := len(h.GetBucket()); n != len(durationBuckets)+1 { // and +Inf
		t.Errorf("%d buckets, want %d and +Inf", n, len(durationBuckets))
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	// A review whose body is still coming is in flight.
	pr, pw := io.Pipe()
	r, err := http.NewRequest("POST", ts.url+"/mutate", pr)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", j)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := ts.client.Do(r); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	_, _ = io.WriteString(pw, `{"apiVersion":"admission.k8s.io/v1",`)
	waitFor := func(want float64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, _ := value(scrape(t, ms.URL), "sidecarkit_webhook_reviews_in_flight", map[string]string{})
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("in flight %v, want %v", got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(1)
	pw.Close()
	<-done
	waitFor(0)
}

// TestMetricsListener: run with --metrics-addr serves /metrics over plain
// HTTP next to the webhook, until run returns.
func TestMetricsListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newMetrics()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.serve(ctx, l) }()
	url := "http://" + l.Addr().String()
	if _, ok := scrape(t, url)["sidecarkit_webhook_reviews_in_flight"]; !ok {
		t.Error("no sidecarkit_webhook_reviews_in_flight")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if _, err := http.Get(url + "/metrics"); err == nil {
		t.Error("still serving after ctx ended")
	}
}
