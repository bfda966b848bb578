package wsapi

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the WebSocket server's Prometheus collectors; the chat
// core has its own (chat.Metrics). Create them with NewMetrics; a Server
// without Metrics makes its own, unregistered.
type Metrics struct {
	Connections prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg (if not
// nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chateau_connections", Help: "Open WebSocket connections.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Connections)
	}
	return m
}
