package gateway

import "github.com/prometheus/client_golang/prometheus"

// Metrics are a gateway process's Prometheus metrics.
type Metrics struct {
	connected  prometheus.Gauge
	reconnects prometheus.Counter
	calls      *prometheus.CounterVec
}

// NewMetrics registers a gateway's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatehouse_gateway_connected",
			Help: "1 while the gateway's session with the server is up."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_gateway_connect_attempts_total",
			Help: "Connection attempts to the server."}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_gateway_calls_total",
			Help: "Calls served for the server, by kind (review, discovery, relay) and result (the API server's status, refused, error)."},
			[]string{"kind", "result"}),
	}
	reg.MustRegister(m.connected, m.reconnects, m.calls)
	return m
}

func (m *Metrics) call(kind, result string) {
	if m != nil {
		m.calls.WithLabelValues(kind, result).Inc()
	}
}

func (m *Metrics) setConnected(up bool) {
	if m == nil {
		return
	}
	if up {
		m.connected.Set(1)
	} else {
		m.connected.Set(0)
	}
}

func (m *Metrics) attempt() {
	if m != nil {
		m.reconnects.Inc()
	}
}
