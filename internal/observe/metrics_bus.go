package observe

import (
	"github.com/prometheus/client_golang/prometheus"

	"wagraph/internal/bus"
)

// RegisterBus exports the event bus's counters, read when /metrics is scraped.
func (m *Metrics) RegisterBus(stats func() bus.Stats) {
	counter := func(name, help string, v func(bus.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(stats())) })
	}
	m.Registry.MustRegister(
		counter("wagraph_bus_published_total", "Events published on the bus by this instance.",
			func(s bus.Stats) uint64 { return s.Published }),
		counter("wagraph_bus_delivered_total", "Events handed to local subscribers (one per subscriber).",
			func(s bus.Stats) uint64 { return s.Delivered }),
		counter("wagraph_bus_dropped_total", "Events not delivered because the subscriber read too slowly and was cut off (one per cut-off).",
			func(s bus.Stats) uint64 { return s.Dropped }),
		counter("wagraph_bus_slow_subscribers_cut_total", "Subscriptions ended because their buffer overflowed.",
			func(s bus.Stats) uint64 { return s.SlowSubscribersCut }),
		counter("wagraph_bus_publish_lost_total", "Events whose publish failed even after retries (their change was committed).",
			func(s bus.Stats) uint64 { return s.PublishLost }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wagraph_bus_subscriptions", Help: "Local bus subscriptions open now."},
			func() float64 { return float64(stats().ActiveSubscriptions) }),
	)
}
