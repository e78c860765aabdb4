package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// checkReplicaURL validates --replica-url: an absolute https URL (plain
// http only on a loopback address), without query or fragment.
func checkReplicaURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("--replica-url %q: want an absolute URL such as https://gatehouse-0.gatehouse:8443", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() || u.Hostname() == "localhost" {
			return nil
		}
	}
	return fmt.Errorf("--replica-url %q: replicas talk over TLS; use https:// (http:// only on a loopback address)", raw)
}

// replicaTLS is how a replica verifies the others: the system roots and
// the certificates of this server's own --tls-cert file (replicas share
// the server's TLS certificate or its CA).
func replicaTLS(cfg Config) (*tls.Config, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if cfg.TLSCert != "" {
		pem, err := os.ReadFile(cfg.TLSCert)
		if err != nil {
			return nil, fmt.Errorf("reading the TLS certificate: %w", err)
		}
		roots.AppendCertsFromPEM(pem)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}, nil
}

// replicaConfig fills the gateway service's replica settings.
func (s *Server) replicaConfig(c *gateway.Config) error {
	rt, err := replicaTLS(s.cfg)
	if err != nil {
		return err
	}
	c.ReplicaURL, c.ReplicaKey, c.ReplicaTLS = s.cfg.ReplicaURL, s.key.Derive(gateway.ReplicaKeyPurpose), rt
	return nil
}
