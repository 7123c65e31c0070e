package observe

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// healthCollector runs the readiness checks at scrape time, so alerts can
// fire on a component being down without an extra probe.
type healthCollector struct {
	h    *Health
	desc *prometheus.Desc
}

// RegisterHealth exports wagraph_component_up{component} (1 up, 0 down).
func (m *Metrics) RegisterHealth(h *Health) {
	m.Registry.MustRegister(healthCollector{h: h, desc: prometheus.NewDesc(
		"wagraph_component_up", "Whether a dependency passes its readiness check (1) or not (0), checked at scrape time.",
		[]string{"component"}, nil)})
}

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, comp := range c.h.Report(context.Background()).Components {
		v := 0.0
		if comp.Up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, comp.Name)
	}
}
