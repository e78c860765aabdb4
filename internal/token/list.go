package token

import (
	"context"
	"errors"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ListForIdentity returns a page of the identity's live tokens, newest
// first, and how many there are, for the administrator p. The records
// carry no hash.
func (s *Service) ListForIdentity(ctx context.Context, p identity.Principal, identityID string, offset, limit int) ([]store.AccessToken, int, error) {
	if err := p.RequireAdmin("listing an identity's tokens"); err != nil {
		return nil, 0, err
	}
	if err := identity.CheckID("identityId", identityID); err != nil {
		return nil, 0, err
	}
	if _, err := s.store.GetIdentity(ctx, identityID); err != nil {
		return nil, 0, identity.NotFound(err, identityID)
	}
	list, total, err := s.store.ListAccessTokens(ctx, identityID, s.now(), offset, limit)
	if err != nil {
		return nil, 0, unavailable(err)
	}
	return list, total, nil
}

// GetForIdentity returns one token of the identity (live or not) for the
// administrator p: NotFound when it is not the identity's. The record
// carries no hash.
func (s *Service) GetForIdentity(ctx context.Context, p identity.Principal, identityID, id string) (store.AccessToken, error) {
	if err := p.RequireAdmin("looking up an identity's token"); err != nil {
		return store.AccessToken{}, err
	}
	if err := identity.CheckID("identityId", identityID); err != nil {
		return store.AccessToken{}, err
	}
	if err := identity.CheckID("tokenId", id); err != nil {
		return store.AccessToken{}, err
	}
	rec, err := s.store.GetAccessToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.IdentityID != identityID) {
		return store.AccessToken{}, errs.New(errs.NotFound, "token %s of identity %s not found", id, identityID)
	}
	if err != nil {
		return store.AccessToken{}, unavailable(err)
	}
	rec.Hash = nil
	return rec, nil
}
