package vault

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// authRoute is a request under /v1/auth/<mount>/: which endpoint of which
// mount.
type authRoute struct {
	mount    string
	endpoint string // "config", "login", "role" (list) or "role/" (one role)
	role     string
}

// parseAuthPath splits the path after /v1/auth/. Mount paths may hold '/',
// role names may not, so the endpoint is read from the end.
func parseAuthPath(p string) (authRoute, bool) {
	p = strings.TrimSuffix(p, "/")
	for _, ep := range []string{"config", "login", "role"} {
		if m, ok := strings.CutSuffix(p, "/"+ep); ok && m != "" {
			return authRoute{mount: m, endpoint: ep}, true
		}
	}
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return authRoute{}, false
	}
	if m, ok := strings.CutSuffix(p[:i], "/role"); ok && m != "" && p[i+1:] != "" {
		return authRoute{mount: m, endpoint: "role/", role: p[i+1:]}, true
	}
	return authRoute{}, false
}

// serveAuth dispatches /v1/auth/<mount>/... (the token mount has routes of
// its own).
func (a *API) serveAuth(r *http.Request) (int, any, error) {
	rt, ok := parseAuthPath(strings.TrimPrefix(r.URL.Path, "/v1/auth/"))
	if !ok {
		return 0, nil, errs.New(errs.NotFound, "no handler for route")
	}
	var methods map[string]handlerFunc
	switch rt.endpoint {
	case "config":
		methods = map[string]handlerFunc{"GET": a.readConfig(rt), "POST": a.writeConfig(rt), "PUT": a.writeConfig(rt)}
	case "login":
		methods = map[string]handlerFunc{"POST": a.limitLogin(a.login(rt)), "PUT": a.limitLogin(a.login(rt))}
	case "role":
		methods = map[string]handlerFunc{"LIST": a.listRoles(rt)}
	case "role/":
		methods = map[string]handlerFunc{"GET": a.readRole(rt), "POST": a.writeRole(rt), "PUT": a.writeRole(rt), "DELETE": a.deleteRole(rt)}
	}
	return dispatch(r, methods)
}

// configBody is auth/<mount>/config.
type configBody struct {
	KubernetesHost       string          `json:"kubernetes_host"`
	KubernetesCACert     string          `json:"kubernetes_ca_cert"`
	TokenReviewerJWT     string          `json:"token_reviewer_jwt"`
	PEMKeys              json.RawMessage `json:"pem_keys"`
	Issuer               string          `json:"issuer"`
	DisableISSValidation json.RawMessage `json:"disable_iss_validation"`
	DisableLocalCAJWT    json.RawMessage `json:"disable_local_ca_jwt"`
	TokenReviewMode      string          `json:"token_review_mode"` // a Gatehouse extension
	GatewayID            string          `json:"gateway_id"`        // a Gatehouse extension
	GatewayPoolID        string          `json:"gateway_pool_id"`   // a Gatehouse extension
}

func (a *API) writeConfig(rt authRoute) handlerFunc {
	return func(r *http.Request) (int, any, error) {
		var b configBody
		p, unknown, err := a.authedBody(r, &b)
		if err != nil {
			return 0, nil, err
		}
		in := vaultauth.ConfigInput{Host: b.KubernetesHost, CACert: b.KubernetesCACert, ReviewerJWT: secret.Secret(strings.TrimSpace(b.TokenReviewerJWT)),
			Issuer: b.Issuer, TokenReviewMode: b.TokenReviewMode, GatewayID: b.GatewayID, GatewayPoolID: b.GatewayPoolID}
		if in.PEMKeys, err = parseStringList("pem_keys", b.PEMKeys); err != nil {
			return 0, nil, err
		}
		if in.DisableISSValidation, err = parseBool("disable_iss_validation", b.DisableISSValidation); err != nil {
			return 0, nil, err
		}
		local, err := parseBool("disable_local_ca_jwt", b.DisableLocalCAJWT)
		if err != nil {
			return 0, nil, err
		}
		in.DisableLocalCAJWT = local != nil && *local
		if err := a.Kubernetes.WriteConfig(r.Context(), p, rt.mount, in); err != nil {
			return 0, nil, err
		}
		return writeAnswer(r, unknown)
	}
}

func (a *API) readConfig(rt authRoute) handlerFunc {
	return func(r *http.Request) (int, any, error) {
		p, _, err := a.authenticate(r)
		if err != nil {
			return 0, nil, err
		}
		c, err := a.Kubernetes.ReadConfig(r.Context(), p, rt.mount)
		if err != nil {
			return 0, nil, err
		}
		if c.Host == "" && c.TokenReviewMode != kubeauth.ReviewGateway {
			return 0, nil, errs.New(errs.NotFound, "not configured")
		}
		resp := envelope(r)
		data := map[string]any{
			"kubernetes_host":        c.Host,
			"kubernetes_ca_cert":     c.CACert,
			"pem_keys":               c.PEMKeys,
			"issuer":                 c.Issuer,
			"disable_iss_validation": c.DisableISSValidation,
			"disable_local_ca_jwt":   c.DisableLocalCAJWT,
			"token_reviewer_jwt_set": c.ReviewerJWTSet,
			"token_review_mode":      c.ReviewMode(),
		}
		// Gatehouse extensions, shown when set.
		if c.GatewayID != "" {
			data["gateway_id"] = c.GatewayID
		}
		if c.GatewayPoolID != "" {
			data["gateway_pool_id"] = c.GatewayPoolID
		}
		resp.Data = data
		return http.StatusOK, resp, nil
	}
}

// roleBody is auth/<mount>/role/<name>: every field a role has, with
// Vault's legacy aliases (the new name wins).
type roleBody struct {
	BoundNames      json.RawMessage `json:"bound_service_account_names"`
	BoundNamespaces json.RawMessage `json:"bound_service_account_namespaces"`
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
		if err := a.Kubernetes.WriteRole(r.Context(), p, rt.mount, rt.role, in); err != nil {
			return 0, nil, err
		}
		return writeAnswer(r, unknown)
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
			"bound_service_account_names":      role.BoundNames,
			"bound_service_account_namespaces": role.BoundNamespaces,
			"audience":                         role.Audience,
			"alias_name_source":                role.AliasNameSource,
			"token_ttl":                        role.TTL,
			"token_max_ttl":                    role.MaxTTL,
			"token_explicit_max_ttl":           role.ExplicitMaxTTL,
			"token_period":                     role.Period,
			"token_policies":                   role.Policies,
			"token_bound_cidrs":                role.BoundCIDRs,
			"token_num_uses":                   role.NumUses,
			"token_no_default_policy":          role.NoDefaultPolicy,
			"token_type":                       role.TokenType,
		}
		// Vault shows the legacy names too when they hold a value.
		if len(role.Policies) > 0 {
			data["policies"] = role.Policies
		}
		if role.TTL > 0 {
			data["ttl"] = role.TTL
		}
		if role.MaxTTL > 0 {
			data["max_ttl"] = role.MaxTTL
		}
		if role.Period > 0 {
			data["period"] = role.Period
		}
		if role.NumUses > 0 {
			data["num_uses"] = role.NumUses
		}
		if len(role.BoundCIDRs) > 0 {
			data["bound_cidrs"] = role.BoundCIDRs
		}
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
		"config": map[string]any{
			"default_lease_ttl": 0,
			"max_lease_ttl":     0,
			"force_no_cache":    false,
			"token_type":        "default-service",
		},
	}
}

// authedBody authenticates the caller and decodes the body into v,
// returning the request fields v does not know.
func (a *API) authedBody(r *http.Request, v any) (identity.Principal, []string, error) {
	p, _, err := a.authenticate(r)
	if err != nil {
		return identity.Principal{}, nil, err
	}
	unknown, err := httpapi.DecodeLenient(r, v)
	return p, unknown, err
}

// dispatch runs the handler of the request's method (GET ?list=true is
// LIST), or answers 405.
func dispatch(r *http.Request, methods map[string]handlerFunc) (int, any, error) {
	method := r.Method
	if method == http.MethodGet && r.URL.Query().Get("list") == "true" {
		method = "LIST"
	}
	fn, ok := methods[method]
	if !ok {
		return http.StatusMethodNotAllowed, nil, nil
	}
	return fn(r)
}

// writeAnswer is a write's answer: 204, or 200 with the ignored-fields
// warning when the request had unknown fields.
func writeAnswer(r *http.Request, unknown []string) (int, any, error) {
	if len(unknown) == 0 {
		return http.StatusNoContent, nil, nil
	}
	resp := envelope(r)
	resp.Warnings = ignoredWarning(unknown)
	return http.StatusOK, resp, nil
}

// listAnswer is a LIST answer; an empty list is a 404, as in Vault.
func listAnswer(r *http.Request, keys []string) (int, any, error) {
	if len(keys) == 0 {
		return 0, nil, errs.New(errs.NotFound, "nothing to list")
	}
	sort.Strings(keys)
	resp := envelope(r)
	resp.Data = map[string]any{"keys": keys}
	return http.StatusOK, resp, nil
}

// parseStringList reads a JSON list of strings or a comma-separated string.
func parseStringList(field string, raw json.RawMessage) ([]string, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return []string{}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return nil, errs.New(errs.BadRequest, "invalid value for %q: want a list of strings or a comma-separated string", field)
	}
	if strings.TrimSpace(str) == "" {
		return []string{}, nil
	}
	return strings.Split(str, ","), nil
}

// parseBool reads a JSON bool or a string holding one; nil when absent.
func parseBool(field string, raw json.RawMessage) (*bool, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return &b, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		if v, err := strconv.ParseBool(strings.TrimSpace(str)); err == nil {
			return &v, nil
		}
	}
	return nil, errs.New(errs.BadRequest, "invalid value for %q: want true or false", field)
}

// parseInt reads a non-negative JSON integer or a string holding one.
func parseInt(field string, raw json.RawMessage) (int64, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if v, err := n.Int64(); err == nil && v >= 0 {
			return v, nil
		}
	} else {
		var str string
		if err := json.Unmarshal(raw, &str); err == nil {
			if v, err := strconv.ParseInt(strings.TrimSpace(str), 10, 64); err == nil && v >= 0 {
				return v, nil
			}
		}
	}
	return 0, errs.New(errs.BadRequest, "invalid value for %q: want a non-negative integer", field)
}
