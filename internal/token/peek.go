package token

import (
	"context"
	"errors"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Peek returns the check of a live token given its value, for a resource
// server asking about someone else's token (OAuth introspection): no use
// is spent and no address is checked. It is one store query
// (store.GetTokenCheck, which the token cache serves, so revocations reach
// it as they reach token checks). A malformed, unknown, revoked, expired
// or used-up token, and one whose auth method is gone, is NotFound.
func (s *Service) Peek(ctx context.Context, raw string) (store.TokenCheck, error) {
	tok, err := secret.Parse(secret.KindAccessToken, raw)
	if err != nil {
		return store.TokenCheck{}, errs.New(errs.NotFound, "bad token")
	}
	h := tok.Hash()
	c, err := s.store.GetTokenCheck(ctx, h[:])
	if errors.Is(err, store.ErrNotFound) {
		return store.TokenCheck{}, errs.New(errs.NotFound, "bad token")
	}
	if err != nil {
		return store.TokenCheck{}, unavailable(err)
	}
	if checkState(c.Token, s.now()) != nil || (c.Token.AuthMethodID != "" && !c.AuthMethodFound) {
		return store.TokenCheck{}, errs.New(errs.NotFound, "bad token")
	}
	return c, nil
}
