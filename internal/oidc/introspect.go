package oidc

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// Introspection is an RFC 7662 answer. Active false means the token is not
// usable (invalid, revoked, expired, used up or unknown: not told apart),
// and nothing else is set.
type Introspection struct {
	Active    bool
	TokenType string // "access_token" or "jwt"
	Claims    Claims // Subject, Audience, IssuedAt, Expiry, ClientID, ...
	// Metadata is an access token's login metadata (for a Kubernetes
	// login: the service account and pod).
	Metadata map[string]string
}

// Introspect tells a resource server whether tok is live and what it says.
// Only a caller with the member or admin role (or root) may introspect.
//
// A Gatehouse access token is looked up without spending a use and
// without checking the caller's address against the token's trusted IPs:
// the resource server asks from its own address, and introspecting must
// not use up the token it is judging. It is active only while it could be
// used: unrevoked, unexpired, with uses left, its auth method still there.
// An exchanged JWT is active when its signature verifies with a published
// key, its issuer is this issuer and it is within nbf..exp; it cannot be
// revoked (it is self-contained, and short-lived for that reason).
func (s *Service) Introspect(ctx context.Context, p identity.Principal, tok secret.Secret) (Introspection, error) {
	if err := p.RequireMember("introspecting tokens"); err != nil {
		return Introspection{}, err
	}
	raw := tok.Reveal()
	if tok.Kind() == secret.KindAccessToken {
		return s.introspectAccessToken(ctx, raw)
	}
	if strings.Count(raw, ".") == 2 {
		return s.introspectJWT(raw), nil
	}
	return Introspection{}, nil
}

func (s *Service) introspectAccessToken(ctx context.Context, raw string) (Introspection, error) {
	c, err := s.tokens.Peek(ctx, raw)
	if err != nil {
		if errs.CodeOf(err) == errs.NotFound {
			return Introspection{}, nil
		}
		return Introspection{}, err
	}
	rec := c.Token
	in := Introspection{Active: true, TokenType: "access_token", Metadata: rec.Metadata}
	in.Claims = Claims{
		Issuer: s.keys.cfg.Issuer, Subject: rec.IdentityID, IssuedAt: rec.CreatedAt.Unix(),
		ClientID: rec.AuthMethodID, AuthMethod: string(rec.AuthMethodType),
	}
	if !rec.ExpiresAt.IsZero() {
		in.Claims.Expiry = rec.ExpiresAt.Unix()
	}
	in.Claims.Kubernetes = kubernetesClaim(rec)
	return in, nil
}

func (s *Service) introspectJWT(raw string) Introspection {
	c, ok := s.verified.get(raw)
	if !ok {
		payload, err := s.keys.Verify(raw)
		if err != nil {
			return Introspection{}
		}
		if err := json.Unmarshal(payload, &c); err != nil {
			return Introspection{}
		}
		s.verified.put(raw, c)
	}
	now := s.now().Unix()
	if c.Issuer != s.keys.cfg.Issuer || c.Expiry == 0 || now >= c.Expiry || now < c.NotBefore-int64(Leeway.Seconds()) {
		return Introspection{}
	}
	return Introspection{Active: true, TokenType: "jwt", Claims: c}
}
