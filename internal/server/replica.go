package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
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
// the server's TLS certificate or its CA); names are the DNS names of its
// own certificate, for which a replica reached at a pod IP may be valid
// instead (gateway.Config.ReplicaNames).
func replicaTLS(cfg Config) (_ *tls.Config, names []string, _ error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if cfg.TLSCert != "" {
		raw, err := os.ReadFile(cfg.TLSCert)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the TLS certificate: %w", err)
		}
		roots.AppendCertsFromPEM(raw)
		if b, _ := pem.Decode(raw); b != nil {
			if leaf, err := x509.ParseCertificate(b.Bytes); err == nil {
				names = leaf.DNSNames
			}
		}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}, names, nil
}

// replicaConfig fills the gateway service's replica settings.
func (s *Server) replicaConfig(c *gateway.Config) error {
	rt, names, err := replicaTLS(s.cfg)
	if err != nil {
		return err
	}
	c.ReplicaURL, c.ReplicaKey, c.ReplicaTLS, c.ReplicaNames = s.cfg.ReplicaURL, s.key.Derive(gateway.ReplicaKeyPurpose), rt, names
	return nil
}
