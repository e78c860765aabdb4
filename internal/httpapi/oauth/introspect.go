package oauth

import (
	"net/http"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// introspection is RFC 7662 section 2.2's response. Inactive: only
// {"active": false}.
type introspection struct {
	Active       bool                  `json:"active"`
	Scope        string                `json:"scope,omitempty"`
	ClientID     string                `json:"client_id,omitempty"`
	TokenType    string                `json:"token_type,omitempty"`
	Exp          int64                 `json:"exp,omitempty"`
	Iat          int64                 `json:"iat,omitempty"`
	Nbf          int64                 `json:"nbf,omitempty"`
	Sub          string                `json:"sub,omitempty"`
	Aud          oidc.Audience         `json:"aud,omitempty"`
	Iss          string                `json:"iss,omitempty"`
	Jti          string                `json:"jti,omitempty"`
	IdentityName string                `json:"gatehouse.dev/identity_name,omitempty"`
	AuthMethod   string                `json:"gatehouse.dev/auth_method,omitempty"`
	Kubernetes   *oidc.KubernetesClaim `json:"gatehouse.dev/kubernetes,omitempty"`
	Metadata     map[string]string     `json:"gatehouse.dev/metadata,omitempty"`
}

// introspect serves POST /oauth2/introspect. The caller authenticates
// with its own Gatehouse access token (Authorization: Bearer), whose
// identity must have the member or admin role.
func (a *API) introspect(w http.ResponseWriter, r *http.Request) {
	body, err := a.doIntrospect(r)
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	noStore(w)
	httpapi.WriteJSON(w, http.StatusOK, body)
}

func (a *API) doIntrospect(r *http.Request) (introspection, error) {
	p, _, err := a.Auth.Authenticate(r.Context(), httpapi.BearerToken(r.Header.Get("Authorization")), httpapi.ClientIP(r))
	if err != nil {
		return introspection{}, err
	}
	f, err := form(r)
	if err != nil {
		return introspection{}, err
	}
	tok, err := single(f, "token", true)
	if err != nil {
		return introspection{}, err
	}
	if _, err := single(f, "token_type_hint", false); err != nil {
		return introspection{}, err
	}
	in, err := a.OIDC.Introspect(r.Context(), p, secret.Secret(tok))
	if err != nil || !in.Active {
		return introspection{}, err
	}
	c := in.Claims
	tt := "Bearer"
	return introspection{
		Active: true, Scope: c.Scope, ClientID: c.ClientID, TokenType: tt, Exp: c.Expiry, Iat: c.IssuedAt, Nbf: c.NotBefore,
		Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer, Jti: c.ID, IdentityName: c.IdentityName, AuthMethod: c.AuthMethod,
		Kubernetes: c.Kubernetes, Metadata: in.Metadata,
	}, nil
}

func validUTF8(s string) bool { return utf8.ValidString(s) }
