// Package httpapi holds what both HTTP front ends share: the middleware
// chain (request id, client address, body limit, panic recovery, metrics,
// access log), JSON decoding with the APIs' strictness, and the
// authentication of API calls. The wire formats themselves live in
// httpapi/infisical and httpapi/vault.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clientip"
)

type clientIPKey struct{}

// ClientIP returns the client address the middleware resolved for r.
func ClientIP(r *http.Request) netip.Addr {
	a, _ := r.Context().Value(clientIPKey{}).(netip.Addr)
	return a
}

// RequestID returns the id of the request.
func RequestID(r *http.Request) string { return audit.RequestID(r.Context()) }

// Metrics are the Prometheus collectors of the HTTP layer.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the HTTP collectors with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "HTTP request latency by route, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Middleware wraps next with the chain every request goes through.
func Middleware(next http.Handler, resolver *clientip.Resolver, metrics *Metrics, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		reqID := newRequestID()
		w.Header().Set("X-Request-Id", reqID)
		ip := resolver.ClientIP(r)
		ctx := audit.ContextWithRequestID(r.Context(), reqID)
		ctx = context.WithValue(ctx, clientIPKey{}, ip)
		r = r.WithContext(ctx)
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logger.ErrorContext(ctx, "panic serving request", "request_id", reqID, "panic", p, "method", r.Method, "route", r.Pattern)
				// The front ends answer their own handlers' panics in
				// their own error shapes (httpapi.Call); this is the last
				// resort for everything else.
				if sw.status == 0 {
					http.Error(sw, "internal error", http.StatusInternalServerError)
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			code := strconv.Itoa(sw.status)
			elapsed := time.Since(start)
			if metrics != nil {
				method := methodLabel(r.Method)
				metrics.requests.WithLabelValues(route, method, code).Inc()
				metrics.latency.WithLabelValues(route, method, code).Observe(elapsed.Seconds())
			}
			// Never log headers, bodies or query strings: they can hold
			// tokens, client secrets and JWTs.
			logger.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("request_id", reqID), slog.String("method", r.Method), slog.String("route", route),
				slog.Int("status", sw.status), slog.Duration("duration", elapsed), slog.String("client_ip", ip.String()))
		}()
		next.ServeHTTP(sw, r)
	})
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req-" + hex.EncodeToString(b[:])
}
