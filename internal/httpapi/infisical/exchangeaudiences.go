package infisical

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/oidc"
)

// The audiences an identity's tokens may be exchanged for
// (POST /oauth2/token): a Gatehouse route in the Infisical API's shape.
//
//	GET /api/v1/identities/{identityId}/exchange-audiences   (member, admin)
//	PUT /api/v1/identities/{identityId}/exchange-audiences   (admin)
//	    {"audiences": ["sts.amazonaws.com", "https://*.example.com"]}
//
// Each entry is an exact audience or a glob where '*' matches any run of
// characters. An empty list (the default) allows no exchange at all.

type exchangeAudiencesJSON struct {
	IdentityID string   `json:"identityId"`
	Audiences  []string `json:"audiences"`
}

type exchangeAudiencesBody struct {
	Audiences *[]string `json:"audiences"`
}

// RegisterExchangeAudiences adds the exchange-audience routes, served by
// o, to mux (Deps needs Auth and Logger).
func RegisterExchangeAudiences(mux *http.ServeMux, d Deps, o *oidc.Service) {
	a := &API{Deps: d}
	mux.Handle("GET /api/v1/identities/{identityId}/exchange-audiences", a.serve(func(r *http.Request) (int, any, error) {
		p, _, err := a.principal(r)
		if err != nil {
			return 0, nil, err
		}
		id := r.PathValue("identityId")
		auds, err := o.Audiences(r.Context(), p, id)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, exchangeAudiencesJSON{IdentityID: id, Audiences: auds}, nil
	}))
	mux.Handle("PUT /api/v1/identities/{identityId}/exchange-audiences", a.serve(func(r *http.Request) (int, any, error) {
		var body exchangeAudiencesBody
		p, err := a.principalAndBody(r, &body)
		if err != nil {
			return 0, nil, err
		}
		if body.Audiences == nil {
			return 0, nil, errs.Validation(errs.FieldError{Path: "audiences", Message: "Required"})
		}
		id := r.PathValue("identityId")
		auds, err := o.SetAudiences(r.Context(), p, id, *body.Audiences)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, exchangeAudiencesJSON{IdentityID: id, Audiences: auds}, nil
	}))
}
