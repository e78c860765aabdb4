package httpapi

import (
	"context"
	"net/netip"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Authenticator turns a presented access token into the caller's Principal.
// The root token and identity tokens go through the same check, which reads
// the identity's role with the token.
type Authenticator struct {
	Tokens *token.Service
}

// Authenticate checks raw (spending one use of a use-limited token) and
// returns the caller and the token's record.
func (a *Authenticator) Authenticate(ctx context.Context, raw string, client netip.Addr) (identity.Principal, store.AccessToken, error) {
	if raw == "" {
		return identity.Principal{}, store.AccessToken{}, errs.New(errs.Unauthenticated, "no access token was presented; send it as \"Authorization: Bearer <token>\"")
	}
	c, err := a.Tokens.Authenticate(ctx, raw, client)
	if err != nil {
		return identity.Principal{}, store.AccessToken{}, err
	}
	p, err := principal(c)
	return p, c.Record, err
}

func principal(c token.Checked) (identity.Principal, error) {
	rec := c.Record
	if rec.AuthMethodType == store.AuthMethodRoot {
		return identity.Principal{Root: true, Role: store.RoleAdmin, TokenID: rec.ID}, nil
	}
	if c.IdentityRole == "" {
		return identity.Principal{}, errs.Because(errs.Unauthenticated, token.ErrRevoked, "the identity of this access token has been deleted; the token is revoked")
	}
	return identity.Principal{IdentityID: rec.IdentityID, Role: c.IdentityRole, TokenID: rec.ID}, nil
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header value, or "".
func BearerToken(header string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
