package httpapi

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/internal/clientip"
)

// seriesCount is the number of series reg exposes.
func seriesCount(t *testing.T, reg *prometheus.Registry) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		n += len(mf.GetMetric())
	}
	return n
}

// TestMetricsLabelsBounded: made-up methods and random paths from
// unauthenticated clients add no series to /metrics.
func TestMetricsLabelsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /known", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) })
	h := Middleware(mux, clientip.NewResolver(nil), NewMetrics(reg), slog.New(slog.NewTextHandler(io.Discard, nil)))
	serve := func(method, path string) {
		req := httptest.NewRequest("GET", path, nil)
		req.Method = method
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// One request of each kind the flood below sends, so every bounded
	// series exists before counting.
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "LIST", "BREW"} {
		for _, p := range []string{"/known", "/api/x", "/nowhere"} {
			serve(m, p)
		}
	}
	before := seriesCount(t, reg)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 10000 {
		method := fmt.Sprintf("M%08X", rng.Uint32())
		path := fmt.Sprintf("/r%d/%x", i, rng.Uint64())
		switch i % 3 {
		case 0:
			path = "/known"
		case 1:
			path = "/api" + path
		}
		serve(method, path)
	}
	if after := seriesCount(t, reg); after != before {
		t.Fatalf("10,000 requests with made-up methods and paths added %d series (%d → %d)", after-before, before, after)
	}
}
