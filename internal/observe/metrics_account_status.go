package observe

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"wagraph/internal/account"
)

// AccountStatuses registers wagraph_accounts, the accounts in each status,
// counted at scrape time by count (at most 2 s; a scrape whose count fails
// leaves the series out). Every status has a series, 0 when empty, so an
// alert on "not ACTIVE for long" sees the count drop back.
func (m *Metrics) AccountStatuses(count func(context.Context) (map[account.Status]int, error)) {
	m.Registry.MustRegister(statusCount{count: count, desc: prometheus.NewDesc(
		"wagraph_accounts", "Accounts by status, counted at scrape time.", []string{"status"}, nil)})
}

type statusCount struct {
	count func(context.Context) (map[account.Status]int, error)
	desc  *prometheus.Desc
}

func (c statusCount) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c statusCount) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := c.count(ctx)
	if err != nil {
		return
	}
	for _, s := range account.Statuses {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n[s]), string(s))
	}
}
