package observe

import (
	"github.com/prometheus/client_golang/prometheus"

	"wagraph/internal/account"
)

// AccountMetrics counts the account lifecycle; it implements account.Metrics.
type AccountMetrics struct {
	transitions *prometheus.CounterVec
	phone       *prometheus.CounterVec
	timeouts    prometheus.Counter
	reconnects  prometheus.Counter
	restores    *prometheus.CounterVec
}

var _ account.Metrics = (*AccountMetrics)(nil)

// Accounts registers and returns the account lifecycle metrics.
func (m *Metrics) Accounts() *AccountMetrics {
	a := &AccountMetrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_account_transitions_total", Help: "Account status changes, by target status and reason code.",
		}, []string{"to", "reason"}),
		phone: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_account_phone_extraction_total",
			Help: "Attempts to learn a linked account's phone number, by result (pair_success, connected, retry, sweep_repaired, sweep_missing, missing).",
		}, []string{"result"}),
		timeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wagraph_account_activation_timeouts_total", Help: "Activations reset because they did not reach ACTIVE in time.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wagraph_account_reconnects_scheduled_total", Help: "Reconnect attempts scheduled with backoff.",
		}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_account_restores_total", Help: "Accounts examined at start, by outcome.",
		}, []string{"result"}),
	}
	m.Registry.MustRegister(a.transitions, a.phone, a.timeouts, a.reconnects, a.restores)
	return a
}

// Transition implements account.Metrics. The source status is left out of
// the labels: target and reason say what happened, at a bounded cardinality.
func (a *AccountMetrics) Transition(_, to account.Status, reason account.ReasonCode) {
	a.transitions.WithLabelValues(string(to), string(reason)).Inc()
}

// PhoneExtracted implements account.Metrics.
func (a *AccountMetrics) PhoneExtracted(result string) { a.phone.WithLabelValues(result).Inc() }

// ActivationTimedOut implements account.Metrics.
func (a *AccountMetrics) ActivationTimedOut() { a.timeouts.Inc() }

// ReconnectScheduled implements account.Metrics.
func (a *AccountMetrics) ReconnectScheduled() { a.reconnects.Inc() }

// Restored implements account.Metrics.
func (a *AccountMetrics) Restored(result string) { a.restores.WithLabelValues(result).Inc() }
