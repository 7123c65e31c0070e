package observe

import "github.com/prometheus/client_golang/prometheus"

// Subscriptions counts websockets and GraphQL subscriptions; it implements
// graph.SubscriptionMetrics.
type Subscriptions struct {
	connections prometheus.Gauge
	active      *prometheus.GaugeVec
	delivered   *prometheus.CounterVec
	failed      *prometheus.CounterVec
}

// Subscriptions registers and returns the websocket/subscription metrics.
func (m *Metrics) Subscriptions() *Subscriptions {
	s := &Subscriptions{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wagraph_ws_connections", Help: "Authenticated websocket connections open now.",
		}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wagraph_subscriptions", Help: "GraphQL subscriptions running now, by kind (root field).",
		}, []string{"kind"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_subscription_events_delivered_total", Help: "Subscription events sent to clients, by kind.",
		}, []string{"kind"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_subscriptions_failed_total",
			Help: "Subscriptions the server ended with an error, by kind and error code (SUBSCRIBER_TOO_SLOW: the client read too slowly and events were dropped).",
		}, []string{"kind", "code"}),
	}
	m.Registry.MustRegister(s.connections, s.active, s.delivered, s.failed)
	return s
}

func (s *Subscriptions) ConnectionOpened()               { s.connections.Inc() }
func (s *Subscriptions) ConnectionClosed()               { s.connections.Dec() }
func (s *Subscriptions) SubscriptionStarted(kind string) { s.active.WithLabelValues(kind).Inc() }
func (s *Subscriptions) SubscriptionEnded(kind string)   { s.active.WithLabelValues(kind).Dec() }
func (s *Subscriptions) EventDelivered(kind string)      { s.delivered.WithLabelValues(kind).Inc() }
func (s *Subscriptions) SubscriptionFailed(kind, code string) {
	s.failed.WithLabelValues(kind, code).Inc()
}
