package kubetest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestTLSPinning(t *testing.T) {
	t.Parallel()
	c := New(t)

	if !strings.HasPrefix(c.URL(), "https://127.0.0.1:") || c.URL() != "https://"+c.Host() {
		t.Errorf("URL %q, Host %q", c.URL(), c.Host())
	}
	if b, err := os.ReadFile(c.CAFile()); err != nil || string(b) != c.CAPEM() {
		t.Errorf("CA file: %v", err)
	}

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(c.CAPEM())) {
		t.Fatal("CAPEM is not a PEM certificate")
	}
	pinned := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := pinned.Get(c.URL() + "/version")
	if err != nil {
		t.Fatalf("pinned client: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("pinned client: %d", resp.StatusCode)
	}

	// The system pool does not know the cluster's CA.
	system := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	_, err = system.Get(c.URL() + "/version")
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	if err == nil || !(errors.As(err, &unknown) || errors.As(err, &verify)) {
		t.Errorf("system pool: err = %v, want a certificate verification error", err)
	}

	// Another cluster's CA does not do either.
	other := New(t)
	otherPool := x509.NewCertPool()
	otherPool.AppendCertsFromPEM([]byte(other.CAPEM()))
	wrong := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: otherPool}}}
	if _, err := wrong.Get(c.URL() + "/version"); err == nil {
		t.Error("another cluster's CA was accepted")
	}
}

func TestTLSServerNames(t *testing.T) {
	t.Parallel()
	c := New(t)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(c.CAPEM()))
	for _, name := range []string{"127.0.0.1", "localhost", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"} {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", c.Host(),
			&tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Errorf("server name %q: %v", name, err)
			continue
		}
		conn.Close()
	}
}

// TestHTTPVersions: the server speaks h2 by default and HTTP/1.1 only with
// WithHTTP1Only, and ConnectionCount counts the connections it accepts.
func TestHTTPVersions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		opts  []Option
		proto string
	}{
		{"default", nil, "HTTP/2.0"},
		{"http1 only", []Option{WithHTTP1Only()}, "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(t, tc.opts...)
			for range 3 {
				resp, err := c.Client().Get(c.URL() + "/version")
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body) // read to the end, or HTTP/1.1 cannot reuse the connection
				resp.Body.Close()
				if resp.Proto != tc.proto {
					t.Errorf("answered over %s, want %s", resp.Proto, tc.proto)
				}
			}
			// Sequential requests of a keep-alive client share one connection.
			if n := c.ConnectionCount(); n != 1 {
				t.Errorf("ConnectionCount = %d after 3 sequential requests, want 1", n)
			}
			// A client that keeps nothing opens one per request.
			fresh := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: c.caPool, MinVersion: tls.VersionTLS12}, DisableKeepAlives: true}}
			resp, err := fresh.Get(c.URL() + "/version")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if n := c.ConnectionCount(); n != 2 {
				t.Errorf("ConnectionCount = %d, want 2", n)
			}
		})
	}
}
