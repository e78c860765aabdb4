package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// BenchmarkReview: one TokenReview through a gateway session (the
// server's Service, a yamux session over loopback TCP, the gateway's
// Handler, the test API server over TLS) beside the same review posted
// straight at the test API server: the difference is what the gateway
// hop adds. "-par" runs 64 callers at once (as gatehouse-bench does).
func BenchmarkReview(b *testing.B) {
	c := kubetest.New(b)
	dir := b.TempDir()
	tokFile := filepath.Join(dir, "token")
	reviewer := c.ReviewerToken("gatehouse", "gw")
	if err := os.WriteFile(tokFile, []byte(reviewer), 0o600); err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
		"spec": map[string]any{"token": c.Token("apps", "web")}})

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(c.CAPEM()))
	direct := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64}}
	postDirect := func() error {
		req, _ := http.NewRequest(http.MethodPost, c.URL()+tokenReviewPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+reviewer)
		resp, err := direct.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}

	s := New(Config{Heartbeat: time.Hour, Timeout: 10 * time.Second})
	b.Cleanup(s.Close)
	g := store.Gateway{ID: "6f7d2a62-5b0e-4a57-9a43-2f0e3e0b8c11", Name: "bench"}
	serverEnd, gatewayEnd := tcpPair(b)
	var writes atomic.Int64 // on the session's TCP connection, both ends
	serverEnd, gatewayEnd = &countingConn{serverEnd, &writes}, &countingConn{gatewayEnd, &writes}
	serveGateway(b, gatewayEnd, &Handler{Upstream: &Upstream{URL: c.URL(), CAFile: c.CAFile(), TokenFile: tokFile}})
	if err := s.Attach(g, serverEnd, nil); err != nil {
		b.Fatal(err)
	}
	viaGateway := func() error {
		ans, err := s.Review(context.Background(), g.ID, "", body)
		if err == nil && ans.Code != http.StatusCreated && ans.Code != http.StatusOK {
			b.Errorf("review answered %d", ans.Code)
		}
		return err
	}
	for name, call := range map[string]func() error{"direct": postDirect, "gateway": viaGateway} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			w := writes.Load()
			for b.Loop() {
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
			if name == "gateway" {
				b.ReportMetric(float64(writes.Load()-w)/float64(b.N), "session-writes/op")
			}
		})
		b.Run(name+"-par", func(b *testing.B) {
			b.SetParallelism(32) // × GOMAXPROCS callers
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := call(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkHop: what the gateway hop alone costs (the server's Service,
// the session, the gateway's stream server and Handler, its client to the
// API server) against an API server that answers at once without checking
// anything, 64 callers at once. The TokenReview's own cost, which BenchmarkReview
// includes, is left out.
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
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(tokFile, []byte("reviewer-token"), 0o600); err != nil {
		b.Fatal(err)
	}
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
				ans, err := s.Review(context.Background(), g.ID, "", body)
				if err != nil || ans.Code != http.StatusCreated {
					b.Errorf("review: %d, %v", ans.Code, err)
					return
				}
			}
		})
	})
}

// countingConn counts its writes.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// tcpPair is a loopback TCP connection's two ends.
func tcpPair(b testing.TB) (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	return c1, <-accepted
}

// serveGateway serves h on the gateway's end of a session, as Agent does.
func serveGateway(b testing.TB, conn net.Conn, h http.Handler) {
	ys, err := yamux.Server(newFrameWriter(conn), yamuxConfig(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	sess := newSession(ys)
	srv := newStreamServer(h, slog.New(slog.DiscardHandler))
	go srv.serve(sess)
	b.Cleanup(func() { srv.stop(); sess.Close() })
}
