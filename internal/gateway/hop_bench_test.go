package gateway

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// BenchmarkHop: what the gateway hop costs on its own, against an API
// server that answers at once without checking anything.
func BenchmarkHop(b *testing.B) {
	answer := []byte(`{"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","status":{"authenticated":true,"user":{"username":"system:serviceaccount:apps:web"}}}`)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(answer)
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	b.Cleanup(up.Close)
	dir := b.TempDir()
	caFile, tokFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "token")
	_ = os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600)
	_ = os.WriteFile(tokFile, []byte("reviewer-token"), 0o600)
	body := bytes.Repeat([]byte("x"), 900)
	s := New(Config{Heartbeat: time.Hour, Timeout: 10 * time.Second})
	b.Cleanup(s.Close)
	g := store.Gateway{ID: "6f7d2a62-5b0e-4a57-9a43-2f0e3e0b8c11", Name: "bench"}
	serverEnd, gatewayEnd := tcpPair(b)
	serveGateway(b, gatewayEnd, &Handler{Upstream: &Upstream{URL: up.URL, CAFile: caFile, TokenFile: tokFile}})
	if err := s.Attach(g, serverEnd, nil); err != nil {
		b.Fatal(err)
	}
	b.Run("gateway-par", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Review(context.Background(), g.ID, "", body); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
