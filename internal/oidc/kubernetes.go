package oidc

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// CauseKubernetesExchange is the cause of the token.revoke event of the
// access token a Kubernetes exchange's inner login issued.
const CauseKubernetesExchange = "kubernetes-exchange"

// KubernetesLogin is the Kubernetes login pipeline (kubeauth.Service).
type KubernetesLogin interface {
	LoginIdentity(ctx context.Context, in kubeauth.LoginInput) (kubeauth.LoginResult, error)
}

// SetKubernetes lets ExchangeKubernetes log in. Set once before serving.
func (s *Service) SetKubernetes(k KubernetesLogin) { s.kube = k }

// KubernetesExchangeRequest is a token exchange whose subject is a
// Kubernetes service-account JWT.
type KubernetesExchangeRequest struct {
	// IdentityID is the identity to log in as (its Kubernetes Auth judges
	// the JWT).
	IdentityID string
	JWT        secret.Secret
	Audiences  []string
	Scope      string
	ClientIP   netip.Addr
}

// ExchangeKubernetes runs the normal Kubernetes login of IdentityID with
// the JWT (audited as a login, with its rate of TokenReviews, trusted IPs
// and token policy), exchanges the access token it issued (audited as an
// exchange) and revokes that access token, which nobody else holds: one
// round trip from pod to JWT.
func (s *Service) ExchangeKubernetes(ctx context.Context, req KubernetesExchangeRequest) (Exchanged, error) {
	out, exchanged, err := s.exchangeKubernetes(ctx, req)
	if err != nil && !exchanged {
		s.RecordRefused(ctx, req.ClientIP, err)
	}
	return out, err
}

// exchangeKubernetes reports whether Exchange ran (and audited).
func (s *Service) exchangeKubernetes(ctx context.Context, req KubernetesExchangeRequest) (Exchanged, bool, error) {
	if s.kube == nil {
		return Exchanged{}, false, errs.Because(errs.BadRequest, ErrInvalidRequest, "Kubernetes service-account tokens cannot be exchanged on this server")
	}
	if err := checkAudiences(req.Audiences); err != nil {
		return Exchanged{}, false, err
	}
	res, err := s.kube.LoginIdentity(ctx, kubeauth.LoginInput{IdentityID: req.IdentityID, JWT: req.JWT, ClientIP: req.ClientIP})
	if err != nil {
		e := errs.As(err)
		switch e.Code {
		case errs.Unauthenticated, errs.Forbidden, errs.Invalid, errs.BadRequest, errs.NotFound:
			return Exchanged{}, false, &errs.Error{Code: errs.BadRequest, Message: "Kubernetes login failed: " + e.Message, Err: fmt.Errorf("%w: %w", ErrInvalidGrant, err)}
		}
		return Exchanged{}, false, err
	}
	raw := res.Token.Token
	out, err := s.Exchange(ctx, ExchangeRequest{SubjectToken: raw, Audiences: req.Audiences, Scope: req.Scope, ClientIP: req.ClientIP})
	// The intermediate token is nobody's: revoke it whatever became of
	// the exchange (refused for the client's address, too).
	rec := res.Token.Record
	if _, rerr := s.store.RevokeAccessTokens(ctx, store.TokenFilter{ID: rec.ID}, s.now()); rerr != nil {
		s.keys.logger.WarnContext(ctx, "revoking the access token of a Kubernetes exchange failed", "accessor", rec.ID, "err", rerr)
	} else {
		s.audit.Record(ctx, audit.TokenRevoked(rec.IdentityID, CauseKubernetesExchange, rec))
	}
	return out, true, err
}
