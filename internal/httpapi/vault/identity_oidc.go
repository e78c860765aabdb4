package vault

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Vault's identity tokens, served by Gatehouse's OIDC issuer
// (internal/oidc), in Vault's shapes:
//
//	LIST/GET?list=true /v1/identity/oidc/role          (member, admin)
//	GET    /v1/identity/oidc/role/:name                 (member, admin)
//	POST   /v1/identity/oidc/role/:name {client_id, ttl} (admin)
//	DELETE /v1/identity/oidc/role/:name                 (admin)
//	GET    /v1/identity/oidc/token/:name                 (any token: its own JWT)
//
// The discovery document and keys are at /v1/identity/oidc/.well-known/…
// too (package oauth). Unlike Vault, there is one issuer for both APIs
// (--issuer-url), the role's client_id is the audience chosen by the
// admin, and it must be in the caller identity's exchange audiences.

type oidcRoleBody struct {
	ClientID *string         `json:"client_id"`
	TTL      json.RawMessage `json:"ttl"`
	Key      *string         `json:"key"`      // accepted: one key set
	Template *string         `json:"template"` // accepted and ignored: fixed claims
}

// RegisterIdentityOIDC adds the identity token routes, served by o, to mux
// (Deps needs Auth, Logger).
func RegisterIdentityOIDC(mux *http.ServeMux, d Deps, o *oidc.Service) {
	a := &API{Deps: d}
	a.route(mux, "/v1/identity/oidc/role", map[string]handlerFunc{"LIST": func(r *http.Request) (int, any, error) {
		p, _, err := a.authenticate(r)
		if err != nil {
			return 0, nil, err
		}
		roles, err := o.ListRoles(r.Context(), p)
		if err != nil {
			return 0, nil, err
		}
		names := []string{}
		for _, role := range roles {
			names = append(names, role.Name)
		}
		return listAnswer(r, names)
	}})
	mux.Handle("/v1/identity/oidc/role/{name}", a.serve(func(r *http.Request) (int, any, error) {
		name := r.PathValue("name")
		return dispatch(r, map[string]handlerFunc{
			"GET": func(r *http.Request) (int, any, error) {
				p, _, err := a.authenticate(r)
				if err != nil {
					return 0, nil, err
				}
				role, err := o.ReadRole(r.Context(), p, name)
				if err != nil {
					return 0, nil, err
				}
				return http.StatusOK, roleAnswer(r, role), nil
			},
			"POST": a.writeOIDCRole(o, name), "PUT": a.writeOIDCRole(o, name),
			"DELETE": func(r *http.Request) (int, any, error) {
				p, _, err := a.authenticate(r)
				if err != nil {
					return 0, nil, err
				}
				return http.StatusNoContent, nil, o.DeleteRole(r.Context(), p, name)
			},
		})
	}))
	a.route(mux, "/v1/identity/oidc/token/{name}", map[string]handlerFunc{"GET": func(r *http.Request) (int, any, error) {
		raw := vaultToken(r)
		if raw == "" {
			return 0, nil, errNoToken()
		}
		out, role, err := o.RoleToken(r.Context(), secret.Secret(raw), httpapi.ClientIP(r), r.PathValue("name"))
		if err != nil {
			if errors.Is(err, oidc.ErrInvalidGrant) {
				return 0, nil, &errs.Error{Code: errs.Forbidden, Message: errs.As(err).Message, Err: err}
			}
			return 0, nil, err
		}
		resp := envelope(r)
		resp.Data = map[string]any{"client_id": role.Audience, "token": out.JWT.Reveal(), "ttl": out.ExpiresIn}
		return http.StatusOK, resp, nil
	}})
}

func (a *API) writeOIDCRole(o *oidc.Service, name string) handlerFunc {
	return func(r *http.Request) (int, any, error) {
		var b oidcRoleBody
		p, unknown, err := a.authedBody(r, &b)
		if err != nil {
			return 0, nil, err
		}
		in := oidc.RoleInput{Audience: b.ClientID}
		if b.TTL != nil {
			v, err := ParseDuration("ttl", b.TTL)
			if err != nil {
				return 0, nil, err
			}
			in.TTL = &v
		}
		if b.Key != nil && *b.Key != "" && *b.Key != "default" {
			return 0, nil, errs.New(errs.BadRequest, "key must be \"default\": Gatehouse has one signing key set")
		}
		if _, err := o.WriteRole(r.Context(), p, name, in); err != nil {
			return 0, nil, err
		}
		return writeAnswer(r, unknown)
	}
}

func roleAnswer(r *http.Request, role store.OIDCRole) response {
	resp := envelope(r)
	resp.Data = map[string]any{"client_id": role.Audience, "key": "default", "template": "", "ttl": role.TTL}
	return resp
}
