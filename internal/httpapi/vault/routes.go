package vault

import (
	"net/http"
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
)

// Routing of /v1/auth/<mount>/... and what every handler of it shares:
// the method dispatch, the authenticated body, the write and list answers.

// authRoute is a request under /v1/auth/<mount>/: which endpoint of which
// mount.
type authRoute struct {
	mount    string
	endpoint string // "config", "login", "role" (list) or "role/" (one role)
	role     string
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

// writeAnswer is a write's answer: 204, or 200 with the warnings (the
// write's own, then Vault's ignored-fields warning when the request had
// unknown fields).
func writeAnswer(r *http.Request, unknown []string, warnings ...string) (int, any, error) {
	warnings = append(warnings, ignoredWarning(unknown)...)
	if len(warnings) == 0 {
		return http.StatusNoContent, nil, nil
	}
	resp := envelope(r)
	resp.Warnings = warnings
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
