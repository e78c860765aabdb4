package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi/infisical"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi/oauth"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi/vault"
	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// initOIDC loads (or creates) the signing keys, starts their refresh and
// rotation, and serves the issuer and OAuth endpoints.
func (s *Server) initOIDC(ctx context.Context, mux *http.ServeMux, auth *httpapi.Authenticator, auditLog *audit.Log, tokens *token.Service, kube oidc.KubernetesLogin, loginLimiter *ratelimit.Limiter) (*oidc.Service, error) {
	cfg := s.cfg.OIDC
	if cfg.Issuer == "" {
		cfg.Issuer = s.defaultIssuer()
	}
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	keys, err := oidc.NewKeys(ctx, s.store, s.key, cfg, s.cfg.Now, s.cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("OIDC signing keys: %w", err)
	}
	svc := oidc.NewService(keys, s.store, tokens, auditLog, s.cfg.Now)
	svc.SetKubernetes(kube)
	oauth.Register(mux, oauth.Deps{Auth: auth, OIDC: svc, Logger: s.cfg.Logger, LoginLimiter: loginLimiter})
	vault.RegisterIdentityOIDC(mux, vault.Deps{Auth: auth, Logger: s.cfg.Logger, Now: s.cfg.Now}, svc)
	infisical.RegisterExchangeAudiences(mux, infisical.Deps{Auth: auth, Logger: s.cfg.Logger, Now: s.cfg.Now}, svc)
	s.bg.Go(func() { keys.Run(s.stop) })
	return svc, nil
}

// defaultIssuer is the server's own URL as its listen address gives it: an
// unspecified host is "localhost". Production servers set --issuer-url.
func (s *Server) defaultIssuer() string {
	addr := s.cfg.Listen
	if s.listener != nil {
		addr = s.listener.Addr().String()
	}
	scheme := "http"
	if s.tlsConf != nil {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://localhost"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// OIDC is the server's OIDC issuer.
func (s *Server) OIDC() *oidc.Service { return s.oidc }
