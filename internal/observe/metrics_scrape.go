package observe

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"wagraph/internal/contact"
)

// ScrapeMetrics counts group scraping; it implements contact.ScrapeMetrics.
// Every label has a fixed set of values: calls (joined_groups,
// group_info), results (ok, rate_limited, not_found, not_connected,
// error) and scrape states.
type ScrapeMetrics struct {
	calls    *prometheus.CounterVec
	members  prometheus.Counter
	finished *prometheus.CounterVec
}

var _ contact.ScrapeMetrics = (*ScrapeMetrics)(nil)

// Scrapes registers and returns the scrape metrics, and wagraph_scrape_jobs,
// the scrape jobs by state counted at scrape time by count (at most 2 s; a
// scrape whose count fails leaves the series out).
func (m *Metrics) Scrapes(count func(context.Context) (map[contact.ScrapeState]int, error)) *ScrapeMetrics {
	s := &ScrapeMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_scrape_whatsapp_calls_total", Help: "Group calls to WhatsApp by refreshes and scrapes, by call (joined_groups, group_info) and result (ok, rate_limited, not_found, not_connected, error).",
		}, []string{"call", "result"}),
		members: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wagraph_scrape_members_total", Help: "Group members written to the contact base by scrapes (a person in two groups counts twice).",
		}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_scrape_jobs_finished_total", Help: "Scrape jobs that ended, by state (DONE, FAILED, CANCELED).",
		}, []string{"state"}),
	}
	m.Registry.MustRegister(s.calls, s.members, s.finished, scrapeCount{count: count, desc: prometheus.NewDesc(
		"wagraph_scrape_jobs", "Scrape jobs by state (QUEUED, RUNNING, WAITING, DONE, FAILED, CANCELED), counted at scrape time.", []string{"state"}, nil)})
	return s
}

// WhatsAppCall implements contact.ScrapeMetrics.
func (s *ScrapeMetrics) WhatsAppCall(call string, err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, contact.ErrRateLimited):
		result = "rate_limited"
	case errors.Is(err, contact.ErrGroupNotFound):
		result = "not_found"
	case errors.Is(err, contact.ErrNotConnected):
		result = "not_connected"
	default:
		result = "error"
	}
	s.calls.WithLabelValues(call, result).Inc()
}

// MembersScraped implements contact.ScrapeMetrics.
func (s *ScrapeMetrics) MembersScraped(n int) { s.members.Add(float64(n)) }

// ScrapeFinished implements contact.ScrapeMetrics.
func (s *ScrapeMetrics) ScrapeFinished(state contact.ScrapeState) {
	s.finished.WithLabelValues(string(state)).Inc()
}

type scrapeCount struct {
	count func(context.Context) (map[contact.ScrapeState]int, error)
	desc  *prometheus.Desc
}

func (c scrapeCount) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c scrapeCount) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		return
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(state))
	}
}
