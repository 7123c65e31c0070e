package observe

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// JobCount is how many background jobs of one kind are in one state.
type JobCount struct {
	Kind  string
	State string
	N     int
}

// RegisterJobs exports wagraph_jobs{kind,state}, counted in the database
// when /metrics is scraped, so every instance reports the same totals. Each
// kind that has jobs gets a series for every state in states (0 included),
// so alerts can compare states without missing series.
func (m *Metrics) RegisterJobs(count func(context.Context) ([]JobCount, error), states []string) {
	m.Registry.MustRegister(&jobsCollector{
		count:  count,
		states: states,
		jobs: prometheus.NewDesc("wagraph_jobs", "Background jobs by kind and state (River: available, scheduled, running, retryable, completed, cancelled, discarded, pending).",
			[]string{"kind", "state"}, nil),
		up: prometheus.NewDesc("wagraph_jobs_count_up", "1 when the last /metrics scrape could count the jobs, 0 when the database did not answer.", nil, nil),
	})
}

type jobsCollector struct {
	count    func(context.Context) ([]JobCount, error)
	states   []string
	jobs, up *prometheus.Desc
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.jobs; ch <- c.up }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	byKind := map[string]map[string]int{}
	for _, jc := range counts {
		if byKind[jc.Kind] == nil {
			byKind[jc.Kind] = map[string]int{}
			for _, s := range c.states {
				byKind[jc.Kind][s] = 0
			}
		}
		byKind[jc.Kind][jc.State] += jc.N
	}
	for kind, states := range byKind {
		for state, n := range states {
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n), kind, state)
		}
	}
}
