package infisical

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/universalauth"
)

// Deps are the domain services the Infisical API serves.
type Deps struct {
	Auth       *httpapi.Authenticator
	Identities *identity.Service
	Tokens     *token.Service
	Store      store.Store // audit-log reads
	Now        func() time.Time
	Logger     *slog.Logger

	// UniversalAuth serves the Universal Auth routes and the lockouts shown
	// by GET /api/v1/identities/{id}.
	UniversalAuth *universalauth.Service

	// KubernetesAuth serves the Kubernetes Auth routes.
	KubernetesAuth *kubeauth.Service

	// LoginLimiter limits logins per source address (nil = no limit).
	LoginLimiter *ratelimit.Limiter

	// Gateways serves the gateway routes (gateways.go; nil = none).
	Gateways *gateway.Service
}

// API is the Infisical front end.
type API struct{ Deps }

// Register adds the Infisical routes to mux.
func Register(mux *http.ServeMux, d Deps) {
	a := &API{Deps: d}
	handle := func(pattern string, fn func(*http.Request) (int, any, error)) {
		mux.Handle(pattern, a.serve(fn))
	}
	handle("GET /api/status", a.status)

	handle("POST /api/v1/identities", a.createIdentity)
	handle("GET /api/v1/identities", a.listIdentities)
	handle("GET /api/v1/identities/{identityId}", a.getIdentity)
	handle("PATCH /api/v1/identities/{identityId}", a.updateIdentity)
	handle("DELETE /api/v1/identities/{identityId}", a.deleteIdentity)

	handle("GET /api/v1/audit-logs", a.listAuditLogs)
	handle("GET /api/v1/gatehouse/audit-logs/counts", a.countAuditLogs)

	handle("POST /api/v1/auth/token/renew", a.renewToken)
	handle("POST /api/v1/auth/token/revoke", a.revokeToken)
	handle("GET /api/v1/auth/token/lookup", a.lookupToken)

	a.registerIdentityTokens(handle)
	a.registerUniversalAuth(handle)
	a.registerKubernetesAuth(handle)
	a.registerGateways(mux, handle)

	handle("/api/", a.notFound)
}

// serve adapts a handler that returns (status, body, error) so that
// handlers never write error JSON themselves.
func (a *API) serve(fn func(*http.Request) (int, any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body, err := httpapi.Call(fn, r)
		if err != nil {
			writeError(w, r, a.Logger, err)
			return
		}
		httpapi.WriteJSON(w, status, body)
	})
}

// principal authenticates the request's bearer token.
func (a *API) principal(r *http.Request) (identity.Principal, store.AccessToken, error) {
	raw := httpapi.BearerToken(r.Header.Get("Authorization"))
	return a.Auth.Authenticate(r.Context(), raw, httpapi.ClientIP(r))
}

// principalAndBody authenticates the caller, then decodes the body
// strictly into v.
func (a *API) principalAndBody(r *http.Request, v any) (identity.Principal, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return identity.Principal{}, err
	}
	return p, httpapi.DecodeStrict(r, v)
}

func (a *API) notFound(r *http.Request) (int, any, error) {
	return 0, nil, errs.New(errs.NotFound, "Route %s:%s not found", r.Method, r.URL.Path)
}

func (a *API) status(r *http.Request) (int, any, error) {
	return http.StatusOK, map[string]any{
		"date":    a.Now().UTC().Format(timeFormat),
		"message": "Ok",
	}, nil
}

// timeFormat is how JavaScript's Date.toISOString prints, which Infisical
// clients parse.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(timeFormat)
	return &s
}

// pageParams reads offset and limit query parameters.
func pageParams(r *http.Request) (offset, limit int, err error) {
	offset, limit = 0, identity.DefaultListLimit
	var fields []errs.FieldError
	if v := r.URL.Query().Get("offset"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			fields = append(fields, errs.FieldError{Path: "offset", Message: "must be an integer >= 0"})
		}
		offset = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > identity.MaxListLimit {
			fields = append(fields, errs.FieldError{Path: "limit", Message: "must be an integer from 1 to 100"})
		}
		limit = n
	}
	if len(fields) > 0 {
		return 0, 0, errs.Validation(fields...)
	}
	return offset, limit, nil
}
