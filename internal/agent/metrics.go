package agent

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	lastSuccess, expiry prometheus.Gauge
	logins, renewals    prometheus.Counter
	failures            *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatehouse_agent_last_success_timestamp_seconds",
			Help: "When the agent last wrote a token after a login or renewal (Unix time)."}),
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatehouse_agent_token_expiry_timestamp_seconds",
			Help: "When the current token expires (Unix time; 0 = no expiry or no token)."}),
		logins:   prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_agent_logins_total", Help: "Successful logins."}),
		renewals: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_agent_renewals_total", Help: "Successful renewals."}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_agent_failures_total",
			Help: "Failed attempts, by kind: credentials, jwt_expired, login_refused, login_unavailable, renew_refused, renew_unavailable, sink, revoke."}, []string{"kind"}),
	}
	for _, k := range []string{KindCredentials, KindJWTExpired, KindLoginRefused, KindLoginUnavailable, KindRenewRefused, KindRenewUnavailable, KindSink, KindRevoke} {
		m.failures.WithLabelValues(k)
	}
	for _, c := range []prometheus.Collector{m.lastSuccess, m.expiry, m.logins, m.renewals, m.failures} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Handler serves /healthz (200 while the agent holds an unexpired token,
// 503 otherwise, with the last failure) and /metrics from its registry.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		s := a.Status()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch {
		case !s.HasToken:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "no token yet; last failure: %s\n", s.LastError)
		case !s.ExpiresAt.IsZero() && !a.cfg.Now().Before(s.ExpiresAt):
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "token expired; last failure: %s\n", s.LastError)
		default:
			fmt.Fprintln(w, "ok")
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.cfg.Registry, promhttp.HandlerOpts{}))
	return mux
}
