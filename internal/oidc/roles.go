package oidc

import (
	"context"
	"errors"
	"net/netip"
	"regexp"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Roles of the Vault-shaped identity token endpoint: a role names the
// audience (Vault's client_id) and lifetime of the JWTs minted under it.
// Minting is an exchange of the caller's own token, with every rule of
// Exchange: the audience must be in the identity's allow list.

// roleNameRE is Vault's name pattern (framework.GenericNameRegex), at most
// 128 characters.
var roleNameRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.@-]{0,126}[A-Za-z0-9_])?$`)

// RoleInput is a role write; nil fields keep the current value (or take
// the default on create: TTL = Config.MaxTTL).
type RoleInput struct {
	Audience *string
	TTL      *int64 // seconds
}

// WriteRole creates or updates a role; only an admin may.
func (s *Service) WriteRole(ctx context.Context, p identity.Principal, name string, in RoleInput) (store.OIDCRole, error) {
	if err := p.RequireAdmin("writing an OIDC role"); err != nil {
		return store.OIDCRole{}, err
	}
	if !roleNameRE.MatchString(name) {
		return store.OIDCRole{}, errs.New(errs.BadRequest, "role name %q is not valid", clip(name))
	}
	now := s.now()
	cur, err := s.store.GetOIDCRole(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		cur = store.OIDCRole{Name: name, TTL: int64(s.keys.cfg.MaxTTL / time.Second), CreatedAt: now}
	case err != nil:
		return store.OIDCRole{}, unavailable(err)
	}
	if in.Audience != nil {
		cur.Audience = *in.Audience
	}
	if in.TTL != nil {
		cur.TTL = *in.TTL
		if cur.TTL == 0 {
			cur.TTL = int64(s.keys.cfg.MaxTTL / time.Second)
		}
	}
	if cur.Audience == "" {
		return store.OIDCRole{}, errs.New(errs.BadRequest, "client_id (the audience of the role's tokens) is required")
	}
	if err := checkAudiences([]string{cur.Audience}); err != nil {
		return store.OIDCRole{}, errs.New(errs.BadRequest, "client_id: %s", errs.As(err).Message)
	}
	if cur.TTL < 0 || time.Duration(cur.TTL)*time.Second > s.keys.cfg.MaxTTL {
		return store.OIDCRole{}, errs.New(errs.BadRequest, "ttl must be between 1s and the server's --max-exchange-ttl (%s)", s.keys.cfg.MaxTTL)
	}
	cur.UpdatedAt = now
	if err := s.store.PutOIDCRole(ctx, cur); err != nil {
		return store.OIDCRole{}, err
	}
	s.audit.Record(ctx, store.AuditEvent{Type: "oidc-role.write", Success: true, ActorID: p.ActorID(),
		Details: map[string]string{"role": name, "audience": cur.Audience}})
	return cur, nil
}

// ReadRole returns a role; members and admins may read.
func (s *Service) ReadRole(ctx context.Context, p identity.Principal, name string) (store.OIDCRole, error) {
	if err := p.RequireMember("reading an OIDC role"); err != nil {
		return store.OIDCRole{}, err
	}
	r, err := s.store.GetOIDCRole(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.OIDCRole{}, errs.New(errs.NotFound, "role %q not found", clip(name))
	}
	if err != nil {
		return store.OIDCRole{}, unavailable(err)
	}
	return r, nil
}

// ListRoles returns every role; members and admins may list.
func (s *Service) ListRoles(ctx context.Context, p identity.Principal) ([]store.OIDCRole, error) {
	if err := p.RequireMember("listing OIDC roles"); err != nil {
		return nil, err
	}
	rs, err := s.store.ListOIDCRoles(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	return rs, nil
}

// DeleteRole removes a role; only an admin may.
func (s *Service) DeleteRole(ctx context.Context, p identity.Principal, name string) error {
	if err := p.RequireAdmin("deleting an OIDC role"); err != nil {
		return err
	}
	if err := s.store.DeleteOIDCRole(ctx, name); err != nil {
		return err
	}
	s.audit.Record(ctx, store.AuditEvent{Type: "oidc-role.delete", Success: true, ActorID: p.ActorID(), Details: map[string]string{"role": name}})
	return nil
}

// RoleToken mints a JWT for the caller's own token under role name: an
// Exchange for the role's audience with the role's TTL.
func (s *Service) RoleToken(ctx context.Context, tok secret.Secret, clientIP netip.Addr, name string) (Exchanged, store.OIDCRole, error) {
	r, err := s.store.GetOIDCRole(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		err = errs.New(errs.BadRequest, "role %q not found", clip(name))
		s.RecordRefused(ctx, clientIP, err)
		return Exchanged{}, store.OIDCRole{}, err
	}
	if err != nil {
		return Exchanged{}, store.OIDCRole{}, unavailable(err)
	}
	out, err := s.Exchange(ctx, ExchangeRequest{SubjectToken: tok, Audiences: []string{r.Audience}, ClientIP: clientIP, TTL: time.Duration(r.TTL) * time.Second})
	return out, r, err
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
