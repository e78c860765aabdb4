package vault

import (
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// mountBody is sys/auth/<path>.
type mountBody struct {
	Type        string `json:"type"`
	Description string `json:"description"`
}

// serveSysAuth is /v1/sys/auth/<path>: enable or disable a mount.
func (a *API) serveSysAuth(r *http.Request) (int, any, error) {
	path := strings.TrimPrefix(r.URL.Path, "/v1/sys/auth/")
	enable := func(r *http.Request) (int, any, error) {
		var b mountBody
		p, unknown, err := a.authedBody(r, &b)
		if err != nil {
			return 0, nil, err
		}
		if _, err := a.Kubernetes.Enable(r.Context(), p, path, b.Type, b.Description); err != nil {
			return 0, nil, err
		}
		return writeAnswer(r, unknown)
	}
	disable := func(r *http.Request) (int, any, error) {
		p, _, err := a.authenticate(r)
		if err != nil {
			return 0, nil, err
		}
		if err := a.Kubernetes.Disable(r.Context(), p, path); err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, nil
	}
	return dispatch(r, map[string]handlerFunc{"POST": enable, "PUT": enable, "DELETE": disable})
}

// listMounts is GET /v1/sys/auth: every mount, keyed "<path>/", both at
// the top level and under data, as Vault answers; token/ is always there.
func (a *API) listMounts(r *http.Request) (int, any, error) {
	p, _, err := a.authenticate(r)
	if err != nil {
		return 0, nil, err
	}
	ms, err := a.Kubernetes.Mounts(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	mounts := map[string]any{"token/": mountInfo(store.Mount{Type: "token", Accessor: "auth_token_root", Description: "token based credentials"})}
	for _, m := range ms {
		mounts[m.Path+"/"] = mountInfo(m)
	}
	out := map[string]any{}
	for k, v := range mounts {
		out[k] = v
	}
	env := envelope(r)
	out["request_id"], out["lease_id"], out["renewable"], out["lease_duration"] = env.RequestID, "", false, 0
	out["data"], out["wrap_info"], out["warnings"], out["auth"] = mounts, nil, nil, nil
	return http.StatusOK, out, nil
}

func mountInfo(m store.Mount) map[string]any {
	return map[string]any{
		"type":                    m.Type,
		"description":             m.Description,
		"accessor":                m.Accessor,
		"local":                   false,
		"seal_wrap":               false,
		"external_entropy_access": false,
		"options":                 nil,
		"plugin_version":          "",
		"running_plugin_version":  "",
		"uuid":                    "",
		"config":                  mountConfig(m),
	}
}
