package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
)

// DefaultListen is the address served when Config.Listen is empty.
const DefaultListen = "127.0.0.1:8080"

// Bind listens on addr (DefaultListen when ""). The command binds before
// it builds the server (Config.Listener), so a bad address or a port in
// use fails before a store, key or root token is created.
func Bind(addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultListen
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", addr, err)
	}
	return ln, nil
}

// loadTLS loads the certificate and key, if given (nil when TLS is off).
func loadTLS(cfg Config) (*tls.Config, error) {
	if cfg.TLSCert == "" && cfg.TLSKey == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// warnPlainHTTP warns, as Vault does for tls_disable, when plain HTTP is
// served on an address other hosts can reach: tokens, client secrets and
// service-account JWTs would cross the network in clear text.
func warnPlainHTTP(logger *slog.Logger, addr net.Addr, tlsOn bool) {
	if tlsOn {
		return
	}
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		return
	}
	logger.Warn("serving plain HTTP on a non-loopback address: tokens, client secrets and JWTs cross the network unencrypted; "+
		"give --tls-cert and --tls-key, or keep Gatehouse behind a TLS-terminating proxy on a private network", "addr", addr.String())
}
