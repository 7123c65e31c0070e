package observe

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"wagraph/internal/sending"
)

// SendingMetrics counts send decisions and pauses; it implements
// sending.Metrics.
type SendingMetrics struct {
	decisions *prometheus.CounterVec
	pauses    *prometheus.CounterVec
}

var _ sending.Metrics = (*SendingMetrics)(nil)

// Sending registers and returns the send policy's metrics, and
// wagraph_send_paused_accounts, counted at scrape time by count (at most
// 2 s; a scrape whose count fails leaves the series out). Every label
// value is from a fixed list, so the series are bounded and exist from the
// start at 0.
func (m *Metrics) Sending(count func(context.Context) (map[sending.PauseReason]int, error)) *SendingMetrics {
	s := &SendingMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_send_decisions_total", Help: "Send admissions asked of the rate limits, by outcome (admitted, refused) and, when refused, the window that refused (minute, hour, day, other, new_chats, paused; none when admitted).",
		}, []string{"outcome", "window"}),
		pauses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_send_pauses_total", Help: "Send pauses that took effect, by reason (MANUAL, REACHOUT_TIMELOCK, TEMPORARY_BAN, SEND_REFUSED_463, FAILURE_BURST).",
		}, []string{"reason"}),
	}
	s.decisions.WithLabelValues("admitted", "none")
	for _, w := range []string{sending.WindowMinute, sending.WindowHour, sending.WindowDay, sending.WindowOther, sending.WindowNewChats, sending.WindowPaused} {
		s.decisions.WithLabelValues("refused", w)
	}
	for _, r := range sending.PauseReasons() {
		s.pauses.WithLabelValues(string(r))
	}
	m.Registry.MustRegister(s.decisions, s.pauses, pausedCount{count: count, desc: prometheus.NewDesc(
		"wagraph_send_paused_accounts", "Accounts whose sending is paused now, by reason, counted at scrape time.", []string{"reason"}, nil)})
	return s
}

// Decision implements sending.Metrics.
func (s *SendingMetrics) Decision(admitted bool, window string) {
	if admitted {
		s.decisions.WithLabelValues("admitted", "none").Inc()
		return
	}
	s.decisions.WithLabelValues("refused", window).Inc()
}

// Paused implements sending.Metrics.
func (s *SendingMetrics) Paused(r sending.PauseReason) { s.pauses.WithLabelValues(string(r)).Inc() }

type pausedCount struct {
	count func(context.Context) (map[sending.PauseReason]int, error)
	desc  *prometheus.Desc
}

func (c pausedCount) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c pausedCount) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := c.count(ctx)
	if err != nil {
		return
	}
	for _, r := range sending.PauseReasons() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n[r]), string(r))
	}
}
