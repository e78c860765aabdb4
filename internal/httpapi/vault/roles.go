package vault

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// roleBody is auth/<mount>/role/<name>: every field a role has, with
// Vault's legacy aliases (the new name wins).
type roleBody struct {
	BoundNames      json.RawMessage `json:"bound_service_account_names"`
	BoundNamespaces json.RawMessage `json:"bound_service_account_namespaces"`
	NsSelector      *string         `json:"bound_service_account_namespace_selector"`
	Audience        *string         `json:"audience"`
	AliasNameSource *string         `json:"alias_name_source"`
	TokenTTL        json.RawMessage `json:"token_ttl"`
	TokenMaxTTL     json.RawMessage `json:"token_max_ttl"`
	ExplicitMaxTTL  json.RawMessage `json:"token_explicit_max_ttl"`
	TokenPeriod     json.RawMessage `json:"token_period"`
	TokenPolicies   json.RawMessage `json:"token_policies"`
	TokenBoundCIDRs json.RawMessage `json:"token_bound_cidrs"`
	TokenNumUses    json.RawMessage `json:"token_num_uses"`
	NoDefault       json.RawMessage `json:"token_no_default_policy"`
	TokenType       *string         `json:"token_type"`
	Policies        json.RawMessage `json:"policies"`
	TTL             json.RawMessage `json:"ttl"`
	MaxTTL          json.RawMessage `json:"max_ttl"`
	Period          json.RawMessage `json:"period"`
	NumUses         json.RawMessage `json:"num_uses"`
	BoundCIDRs      json.RawMessage `json:"bound_cidrs"`
}

// newer returns the first of raws that was sent.
func newer(raws ...json.RawMessage) json.RawMessage {
	for _, r := range raws {
		if r != nil {
			return r
		}
	}
	return nil
}

func (b roleBody) input() (vaultauth.RoleInput, error) {
	var in vaultauth.RoleInput
	lists := []struct {
		field string
		raw   json.RawMessage
		dst   **[]string
	}{
		{"bound_service_account_names", b.BoundNames, &in.BoundNames},
		{"bound_service_account_namespaces", b.BoundNamespaces, &in.BoundNamespaces},
		{"token_policies", newer(b.TokenPolicies, b.Policies), &in.Policies},
		{"token_bound_cidrs", newer(b.TokenBoundCIDRs, b.BoundCIDRs), &in.BoundCIDRs},
	}
	for _, l := range lists {
		if l.raw == nil {
			continue
		}
		v, err := parseStringList(l.field, l.raw)
		if err != nil {
			return in, err
		}
		*l.dst = &v
	}
	durations := []struct {
		field string
		raw   json.RawMessage
		dst   **int64
	}{
		{"token_ttl", newer(b.TokenTTL, b.TTL), &in.TTL},
		{"token_max_ttl", newer(b.TokenMaxTTL, b.MaxTTL), &in.MaxTTL},
		{"token_explicit_max_ttl", b.ExplicitMaxTTL, &in.ExplicitMaxTTL},
		{"token_period", newer(b.TokenPeriod, b.Period), &in.Period},
	}
	for _, d := range durations {
		if d.raw == nil {
			continue
		}
		v, err := ParseDuration(d.field, d.raw)
		if err != nil {
			return in, err
		}
		*d.dst = &v
	}
	if raw := newer(b.TokenNumUses, b.NumUses); raw != nil {
		v, err := parseInt("token_num_uses", raw)
		if err != nil {
			return in, err
		}
		in.NumUses = &v
	}
	nd, err := parseBool("token_no_default_policy", b.NoDefault)
	if err != nil {
		return in, err
	}
	in.NoDefaultPolicy = nd
	in.Audience, in.AliasNameSource, in.TokenType = b.Audience, b.AliasNameSource, b.TokenType
	in.NamespaceSelector = b.NsSelector
	return in, nil
}

func (a *API) writeRole(rt authRoute) handlerFunc {
	return func(r *http.Request) (int, any, error) {
		var b roleBody
		p, unknown, err := a.authedBody(r, &b)
		if err != nil {
			return 0, nil, err
		}
		in, err := b.input()
		if err != nil {
			return 0, nil, err
		}
		warnings, err := a.Kubernetes.WriteRole(r.Context(), p, rt.mount, rt.role, in)
		if err != nil {
			return 0, nil, err
		}
		return writeAnswer(r, unknown, warnings...)
	}
}

func (a *API) readRole(rt authRoute) handlerFunc {
	return func(r *http.Request) (int, any, error) {
		p, _, err := a.authenticate(r)
		if err != nil {
			return 0, nil, err
		}
		role, err := a.Kubernetes.ReadRole(r.Context(), p, rt.mount, rt.role)
		if err != nil {
			return 0, nil, err
		}
		data := map[string]any{
			"bound_service_account_names":              role.BoundNames,
			"bound_service_account_namespaces":         role.BoundNamespaces,
			"bound_service_account_namespace_selector": role.NamespaceSelector,
			"audience":                role.Audience,
			"alias_name_source":       role.AliasNameSource,
			"token_ttl":               role.TTL,
			"token_max_ttl":           role.MaxTTL,
			"token_explicit_max_ttl":  role.ExplicitMaxTTL,
			"token_period":            role.Period,
			"token_policies":          role.Policies,
			"token_bound_cidrs":       role.BoundCIDRs,
			"token_num_uses":          role.NumUses,
			"token_no_default_policy": role.NoDefaultPolicy,
			"token_type":              role.TokenType,
		}
		// The legacy names too, always (0 or [] when unset), as the
		// contract's sample read shows them; Vault shows them only when a
		// write used them.
		data["policies"], data["bound_cidrs"] = role.Policies, role.BoundCIDRs
		data["ttl"], data["max_ttl"], data["period"], data["num_uses"] = role.TTL, role.MaxTTL, role.Period, role.NumUses
		resp := envelope(r)
		resp.Data = data
		return http.StatusOK, resp, nil
	}
}

func (a *API) listRoles(rt authRoute) handlerFunc {
	return func(r *http.Request) (int, any, error) {
		p, _, err := a.authenticate(r)
		if err != nil {
			return 0, nil, err
		}
		names, err := a.Kubernetes.ListRoles(r.Context(), p, rt.mount)
		if err != nil {
			return 0, nil, err
		}
		return listAnswer(r, names)
	}
}

func (a *API) deleteRole(rt authRoute) handlerFunc {
	return func(r *http.Request) (int, any, error) {
		p, _, err := a.authenticate(r)
		if err != nil {
			return 0, nil, err
		}
		if err := a.Kubernetes.DeleteRole(r.Context(), p, rt.mount, rt.role); err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, nil
	}
}
