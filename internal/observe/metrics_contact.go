package observe

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"wagraph/internal/contact"
)

// ContactMetrics counts the contact base; it implements contact.Metrics.
type ContactMetrics struct {
	upserts    *prometheus.CounterVec
	importRows *prometheus.CounterVec
}

var _ contact.Metrics = (*ContactMetrics)(nil)

// Contacts registers and returns the contact base's metrics, and
// wagraph_contacts, counted at scrape time by count (at most 2 s; a scrape
// whose count fails leaves the series out).
func (m *Metrics) Contacts(count func(context.Context) (int, error)) *ContactMetrics {
	c := &ContactMetrics{
		upserts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_contact_upserts_total", Help: "Contacts written outside imports (scrapes, LID mappings, the API), by outcome (CREATED, UPDATED, UNCHANGED, MERGED).",
		}, []string{"outcome"}),
		importRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_contact_import_rows_total", Help: "Rows of committed contact imports, by outcome (created, updated, unchanged, merged, duplicate, invalid).",
		}, []string{"outcome"}),
	}
	m.Registry.MustRegister(c.upserts, c.importRows, contactCount{count: count, desc: prometheus.NewDesc(
		"wagraph_contacts", "Contacts in the contact base, counted at scrape time.", nil, nil)})
	return c
}

// Upserted implements contact.Metrics.
func (c *ContactMetrics) Upserted(o contact.Outcome) { c.upserts.WithLabelValues(string(o)).Inc() }

// ImportRows implements contact.Metrics.
func (c *ContactMetrics) ImportRows(outcome string, n int) {
	c.importRows.WithLabelValues(outcome).Add(float64(n))
}

type contactCount struct {
	count func(context.Context) (int, error)
	desc  *prometheus.Desc
}

func (c contactCount) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c contactCount) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if n, err := c.count(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
	}
}
