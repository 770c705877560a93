// Package testmetrics scrapes a svcdisco --metrics-addr endpoint with a real
// HTTP client and parses the Prometheus text exposition format.
package testmetrics

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is one scrape, by metric name.
type Families map[string]*dto.MetricFamily

// Scrape GETs http://addr/metrics and parses it; an error when the
// endpoint does not answer or the answer does not parse.
func Scrape(addr string) (Families, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	return fams, nil
}

// MustScrape is Scrape failing t.
func MustScrape(t testing.TB, addr string) Families {
	t.Helper()
	f, err := Scrape(addr)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Value is the value of the sample of name whose labels include labels
// (counter, gauge or untyped; a histogram's sample count), and whether
// there is one.
func (f Families) Value(name string, labels map[string]string) (float64, bool) {
	fam, ok := f[name]
	if !ok {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// Get is Value with 0 for a missing sample.
func (f Families) Get(name string, labels map[string]string) float64 {
	v, _ := f.Value(name, labels)
	return v
}

func matches(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, lp := range m.GetLabel() {
		have[lp.GetName()] = lp.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
