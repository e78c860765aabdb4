package oauth

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// ParamIdentityID is our extension parameter naming the identity to log in
// as when the subject token is a Kubernetes service-account JWT.
const ParamIdentityID = "gatehouse_identity_id"

// tokenResponse is RFC 8693 section 2.2.1's response.
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope,omitempty"`
}

// The token request's parameters that may appear at most once, as
// indexes into paramNames and params.
const (
	paramSubjectToken = iota
	paramSubjectTokenType
	paramRequestedTokenType
	paramScope
	paramActorToken
	paramActorTokenType
	paramIdentityID
	numParams
)

// paramNames are the parameters' names; params holds their values.
var paramNames = [numParams]string{
	paramSubjectToken:       "subject_token",
	paramSubjectTokenType:   "subject_token_type",
	paramRequestedTokenType: "requested_token_type",
	paramScope:              "scope",
	paramActorToken:         "actor_token",
	paramActorTokenType:     "actor_token_type",
	paramIdentityID:         ParamIdentityID,
}

type params [numParams]string

// token serves POST /oauth2/token: RFC 8693 token exchange only.
func (a *API) token(w http.ResponseWriter, r *http.Request) {
	out, audited, err := a.exchange(r)
	if err != nil {
		if !audited {
			a.OIDC.RecordRefused(r.Context(), httpapi.ClientIP(r), err)
		}
		writeError(w, r, a.Logger, err)
		return
	}
	noStore(w)
	body := appendTokenResponse(make([]byte, 0, 160+len(out.JWT)+len(out.Claims.Scope)), tokenResponse{
		AccessToken: out.JWT.Reveal(), IssuedTokenType: oidc.TokenTypeJWT, TokenType: "N_A",
		ExpiresIn: out.ExpiresIn, Scope: out.Claims.Scope,
	})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// appendTokenResponse appends t as httpapi.WriteJSON writes it (JSON and
// a newline; TestAppendTokenResponse), without reflection.
func appendTokenResponse(b []byte, t tokenResponse) []byte {
	b = append(b, `{"access_token":`...)
	b = appendJSONString(b, t.AccessToken)
	b = append(b, `,"issued_token_type":`...)
	b = appendJSONString(b, t.IssuedTokenType)
	b = append(b, `,"token_type":`...)
	b = appendJSONString(b, t.TokenType)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, t.ExpiresIn, 10)
	if t.Scope != "" {
		b = append(b, `,"scope":`...)
		b = appendJSONString(b, t.Scope)
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string: copied when it is printable
// ASCII that encoding/json leaves alone (a JWT, a token type), through
// encoding/json otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// exchange parses the request and exchanges; audited reports whether the
// domain service ran (and audited the outcome itself).
func (a *API) exchange(r *http.Request) (_ oidc.Exchanged, audited bool, _ error) {
	f, err := form(r)
	if err != nil {
		return oidc.Exchanged{}, false, err
	}
	grant, err := single(f, "grant_type", true)
	if err != nil {
		return oidc.Exchanged{}, false, err
	}
	if grant != GrantTypeTokenExchange {
		return oidc.Exchanged{}, false, errs.Because(errs.BadRequest, oidc.ErrUnsupportedGrantType, "grant_type must be %s", GrantTypeTokenExchange)
	}
	var p params
	for i, name := range paramNames {
		v, err := single(f, name, i == paramSubjectToken || i == paramSubjectTokenType)
		if err != nil {
			return oidc.Exchanged{}, false, err
		}
		p[i] = v
	}
	if p[paramActorToken] != "" || p[paramActorTokenType] != "" {
		return oidc.Exchanged{}, false, errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "actor_token (delegation) is not supported")
	}
	if rt := p[paramRequestedTokenType]; rt != "" && rt != oidc.TokenTypeJWT {
		return oidc.Exchanged{}, false, errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "requested_token_type must be %s", oidc.TokenTypeJWT)
	}
	if n, _ := f.count("resource"); n > 0 {
		return oidc.Exchanged{}, false, errs.Because(errs.BadRequest, oidc.ErrInvalidTarget, "resource is not supported; name the audience with audience")
	}
	auds := f.all("audience")
	// A space-separated list in one parameter is common in clients.
	if len(auds) == 1 && strings.Contains(auds[0], " ") {
		auds = strings.Fields(auds[0])
	}
	subject := secret.Secret(p[paramSubjectToken])
	switch p[paramSubjectTokenType] {
	case oidc.TokenTypeAccessToken:
		if p[paramIdentityID] != "" {
			return oidc.Exchanged{}, false, errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "%s goes only with a Kubernetes service-account JWT as the subject", ParamIdentityID)
		}
		out, err := a.OIDC.Exchange(r.Context(), oidc.ExchangeRequest{SubjectToken: subject, Audiences: auds, Scope: p[paramScope], ClientIP: httpapi.ClientIP(r)})
		return out, true, err
	case oidc.TokenTypeJWT:
		if p[paramIdentityID] == "" {
			return oidc.Exchanged{}, false, errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "a Kubernetes service-account JWT as the subject needs %s, the identity to log in as", ParamIdentityID)
		}
		if err := a.LoginLimiter.Allow(httpapi.ClientIP(r)); err != nil {
			return oidc.Exchanged{}, false, &errs.Error{Code: errs.TooManyRequests, Message: "too many logins from this address; try again later", Err: err}
		}
		out, err := a.OIDC.ExchangeKubernetes(r.Context(), oidc.KubernetesExchangeRequest{IdentityID: p[paramIdentityID], JWT: subject, Audiences: auds, Scope: p[paramScope], ClientIP: httpapi.ClientIP(r)})
		return out, true, err
	default:
		return oidc.Exchanged{}, false, errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "subject_token_type must be %s or %s", oidc.TokenTypeAccessToken, oidc.TokenTypeJWT)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
