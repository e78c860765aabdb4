package infisical

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// An identity's access tokens: Gatehouse routes in the Infisical API's
// shape, for administrators (the web console's token list). They show a
// token's id (its accessor), times and uses, never its value or hash;
// revoke with POST /v1/auth/token/revoke-accessor.
//
//	GET /api/v1/identities/{identityId}/tokens?offset=0&limit=50   live tokens, newest first
//	GET /api/v1/identities/{identityId}/tokens/{tokenId}           one token, live or not

func (a *API) registerIdentityTokens(handle func(string, func(*http.Request) (int, any, error))) {
	handle("GET /api/v1/identities/{identityId}/tokens", a.listIdentityTokens)
	handle("GET /api/v1/identities/{identityId}/tokens/{tokenId}", a.getIdentityToken)
}

func (a *API) listIdentityTokens(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	offset, limit, err := pageParams(r)
	if err != nil {
		return 0, nil, err
	}
	list, total, err := a.Tokens.ListForIdentity(r.Context(), p, r.PathValue("identityId"), offset, limit)
	if err != nil {
		return 0, nil, err
	}
	out := make([]tokenJSON, 0, len(list))
	for _, rec := range list {
		out = append(out, a.toTokenJSON(rec))
	}
	return http.StatusOK, map[string]any{"tokens": out, "totalCount": total}, nil
}

func (a *API) getIdentityToken(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	rec, err := a.Tokens.GetForIdentity(r.Context(), p, r.PathValue("identityId"), r.PathValue("tokenId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"token": a.identityTokenJSON(rec)}, nil
}

// identityTokenJSON is tokenJSON with whether the token is revoked.
func (a *API) identityTokenJSON(rec store.AccessToken) any {
	return struct {
		tokenJSON
		RevokedAt *string `json:"revokedAt"`
	}{a.toTokenJSON(rec), formatTime(rec.RevokedAt)}
}
