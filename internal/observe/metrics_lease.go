package observe

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"wagraph/internal/supervisor"
)

// LeaseMetrics counts account ownership and routing between instances; it
// implements supervisor.LeaseMetrics. Each instance exports its own series
// (Prometheus adds the instance label when it scrapes).
type LeaseMetrics struct {
	owned    prometheus.Gauge
	takeover *prometheus.CounterVec
	routed   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

var _ supervisor.LeaseMetrics = (*LeaseMetrics)(nil)

// Leases registers and returns the ownership and routing metrics.
func (m *Metrics) Leases() *LeaseMetrics {
	l := &LeaseMetrics{
		owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wagraph_lease_accounts_owned", Help: "Accounts whose lease this instance holds (it runs their sessions).",
		}),
		takeover: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_lease_takeovers_total",
			Help: "Leases this instance took while nobody held them, by why they were free: lapsed (the owner stopped renewing: crash, hang, lost database), released (drain or rebalance), unowned (never owned).",
		}, []string{"reason"}),
		routed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_routed_commands_total",
			Help: "Commands sent to the instance that owns the account, by kind and outcome (ok, error: the owner answered with an error, timeout, failed: not sent).",
		}, []string{"kind", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wagraph_routed_command_duration_seconds", Help: "Time from sending a command to the owning instance to its answer, by kind.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
		}, []string{"kind"}),
	}
	m.Registry.MustRegister(l.owned, l.takeover, l.routed, l.latency)
	return l
}

// Owned implements supervisor.LeaseMetrics.
func (l *LeaseMetrics) Owned(n int) { l.owned.Set(float64(n)) }

// TakenOver implements supervisor.LeaseMetrics.
func (l *LeaseMetrics) TakenOver(reason string) { l.takeover.WithLabelValues(reason).Inc() }

// Routed implements supervisor.LeaseMetrics.
func (l *LeaseMetrics) Routed(kind, outcome string, d time.Duration) {
	l.routed.WithLabelValues(kind, outcome).Inc()
	l.latency.WithLabelValues(kind).Observe(d.Seconds())
}
