package infisical

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// loginResponse is what every login and renewal answers.
type loginResponse struct {
	AccessToken       string `json:"accessToken"`
	ExpiresIn         int64  `json:"expiresIn"`
	AccessTokenMaxTTL int64  `json:"accessTokenMaxTTL"`
	TokenType         string `json:"tokenType"`
}

// loginAnswer is the answer to a login or a renewal: the token with its
// real remaining lifetime now.
func (a *API) loginAnswer(tok string, rec store.AccessToken) loginResponse {
	return loginResponse{AccessToken: tok, ExpiresIn: token.ExpiresIn(rec, a.Now()), AccessTokenMaxTTL: rec.MaxTTL, TokenType: "Bearer"}
}

type tokenBody struct {
	AccessToken *string `json:"accessToken"`
}

// bodyToken decodes a tokenBody and returns its token.
func bodyToken(r *http.Request) (string, error) {
	var body tokenBody
	if err := httpapi.DecodeStrict(r, &body); err != nil {
		return "", err
	}
	return body.token()
}

func (b tokenBody) token() (string, error) {
	if b.AccessToken == nil || *b.AccessToken == "" {
		return "", errs.Validation(errs.FieldError{Path: "accessToken", Message: "Required"})
	}
	return *b.AccessToken, nil
}

// renewToken needs no auth header: the token in the body is the credential.
func (a *API) renewToken(r *http.Request) (int, any, error) {
	raw, err := bodyToken(r)
	if err != nil {
		return 0, nil, err
	}
	rec, err := a.Tokens.Renew(r.Context(), raw, httpapi.ClientIP(r), 0)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.loginAnswer(raw, rec), nil
}

func (a *API) revokeToken(r *http.Request) (int, any, error) {
	raw, err := bodyToken(r)
	if err != nil {
		return 0, nil, err
	}
	if _, err := a.Tokens.RevokePresented(r.Context(), raw, httpapi.ClientIP(r)); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"message": "Successfully revoked access token"}, nil
}

type tokenJSON struct {
	ID             string            `json:"id"`
	IdentityID     string            `json:"identityId"`
	AuthMethod     string            `json:"authMethod"`
	AuthMethodID   string            `json:"authMethodId"`
	ClientSecretID string            `json:"clientSecretId,omitempty"`
	CreatedAt      *string           `json:"createdAt"`
	LastRenewedAt  *string           `json:"lastRenewedAt"`
	ExpiresAt      *string           `json:"expiresAt"`
	ExpiresIn      int64             `json:"expiresIn"`
	TTL            int64             `json:"accessTokenTTL"`
	MaxTTL         int64             `json:"accessTokenMaxTTL"`
	Period         int64             `json:"accessTokenPeriod"`
	NumUses        int64             `json:"accessTokenNumUses"`
	NumUsesLimit   int64             `json:"accessTokenNumUsesLimit"`
	LastUsedAt     *string           `json:"accessTokenLastUsedAt"`
	Metadata       map[string]string `json:"metadata"`
}

// lookupToken returns the caller's own token record, never its secret.
func (a *API) lookupToken(r *http.Request) (int, any, error) {
	_, rec, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"token": a.toTokenJSON(rec)}, nil
}

func (a *API) toTokenJSON(rec store.AccessToken) tokenJSON {
	md := rec.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return tokenJSON{
		ID: rec.ID, IdentityID: rec.IdentityID, AuthMethod: string(rec.AuthMethodType), AuthMethodID: rec.AuthMethodID,
		ClientSecretID: rec.ClientSecretID, CreatedAt: formatTime(rec.CreatedAt), LastRenewedAt: formatTime(rec.LastRenewedAt),
		ExpiresAt: formatTime(rec.ExpiresAt), ExpiresIn: token.ExpiresIn(rec, a.Now()),
		TTL: rec.TTL, MaxTTL: rec.MaxTTL, Period: rec.Period, NumUses: rec.NumUses, NumUsesLimit: rec.NumUsesLimit,
		LastUsedAt: formatTime(rec.LastUsedAt), Metadata: md,
	}
}
