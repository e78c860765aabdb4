package vault

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// loginBody is auth/<mount>/login.
type loginBody struct {
	Role string `json:"role"`
	JWT  string `json:"jwt"`
}

func (a *API) login(rt authRoute) handlerFunc {
	return func(r *http.Request) (int, any, error) {
		var b loginBody
		unknown, err := httpapi.DecodeLenient(r, &b)
		if err != nil {
			return 0, nil, err
		}
		res, err := a.Kubernetes.Login(r.Context(), vaultauth.LoginInput{Mount: rt.mount, Role: b.Role, JWT: b.JWT, ClientIP: httpapi.ClientIP(r)})
		if err != nil {
			return 0, nil, err
		}
		rec := res.Token.Record
		resp := envelope(r)
		resp.Warnings = ignoredWarning(unknown)
		// A new token's auth block, with the login's own policies and
		// Vault's exact metadata keys.
		auth := a.authBlock(res.Token.Token.Reveal(), rec)
		auth["policies"], auth["token_policies"], auth["metadata"] = res.Policies, res.Policies, res.Metadata
		resp.Auth = auth
		return http.StatusOK, resp, nil
	}
}
