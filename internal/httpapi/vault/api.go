package vault

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// Deps are the domain services the Vault API serves.
type Deps struct {
	Auth       *httpapi.Authenticator
	Tokens     *token.Service
	Kubernetes *vaultauth.Service
	Identities *identity.Service
	Now        func() time.Time
	Version    string
	// StorageType is the store's kind as sys/seal-status shows it
	// ("sqlite", "postgresql").
	StorageType string
	Logger      *slog.Logger
	// LoginLimiter limits logins per source address (nil = no limit).
	LoginLimiter *ratelimit.Limiter
}

// API is the Vault front end.
type API struct {
	Deps
	buildDate string
}

// handlerFunc answers a request with a status and body (nil body = 204),
// or an error.
type handlerFunc func(*http.Request) (int, any, error)

// Register adds the Vault routes to mux.
func Register(mux *http.ServeMux, d Deps) {
	a := &API{Deps: d, buildDate: buildDate()}
	a.route(mux, "/v1/sys/health", map[string]handlerFunc{"GET": a.health, "HEAD": a.health})
	a.route(mux, "/v1/sys/seal-status", map[string]handlerFunc{"GET": a.sealStatus})
	a.route(mux, "/v1/sys/leader", map[string]handlerFunc{"GET": a.leader})
	a.route(mux, "/v1/sys/capabilities-self", map[string]handlerFunc{"POST": a.capabilitiesSelf, "PUT": a.capabilitiesSelf})
	a.route(mux, "/v1/sys/capabilities", map[string]handlerFunc{"POST": a.capabilitiesOther(false), "PUT": a.capabilitiesOther(false)})
	a.route(mux, "/v1/sys/capabilities-accessor", map[string]handlerFunc{"POST": a.capabilitiesOther(true), "PUT": a.capabilitiesOther(true)})
	a.route(mux, "/v1/auth/token/lookup-self", map[string]handlerFunc{"GET": a.lookupSelf, "POST": a.lookupSelf, "PUT": a.lookupSelf})
	a.route(mux, "/v1/auth/token/renew-self", map[string]handlerFunc{"PUT": a.renewSelf, "POST": a.renewSelf})
	a.route(mux, "/v1/auth/token/revoke-self", map[string]handlerFunc{"PUT": a.revokeSelf, "POST": a.revokeSelf})
	a.route(mux, "/v1/auth/token/lookup", map[string]handlerFunc{"PUT": a.lookupToken, "POST": a.lookupToken})
	a.route(mux, "/v1/auth/token/revoke", map[string]handlerFunc{"PUT": a.revokeToken, "POST": a.revokeToken})
	a.route(mux, "/v1/auth/token/lookup-accessor", map[string]handlerFunc{"PUT": a.lookupAccessor, "POST": a.lookupAccessor})
	a.route(mux, "/v1/auth/token/revoke-accessor", map[string]handlerFunc{"PUT": a.revokeAccessor, "POST": a.revokeAccessor})
	mux.Handle("/v1/auth/token/", a.serve(func(*http.Request) (int, any, error) {
		return 0, nil, errs.New(errs.NotFound, "no handler for route")
	}))
	a.route(mux, "/v1/sys/auth", map[string]handlerFunc{"GET": a.listMounts})
	mux.Handle("/v1/sys/auth/", a.serve(a.serveSysAuthOrTune))
	mux.Handle("/v1/sys/mounts/", a.serve(a.serveSysMounts))
	mux.Handle("/v1/auth/", a.serve(a.serveAuth))
	mux.Handle("/v1/", a.serve(func(*http.Request) (int, any, error) {
		return 0, nil, errs.New(errs.NotFound, "no handler for route")
	}))
}

// route registers a path whose methods are dispatched here, so a known
// path with an unsupported method is a 405 in Vault's body.
func (a *API) route(mux *http.ServeMux, path string, methods map[string]handlerFunc) {
	mux.Handle(path, a.serve(func(r *http.Request) (int, any, error) { return dispatch(r, methods) }))
}

func (a *API) serve(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body, err := httpapi.Call(fn, r)
		switch {
		case err != nil:
			writeError(w, r, a.Logger, err)
		case status == http.StatusMethodNotAllowed:
			httpapi.WriteJSON(w, status, errorBody{Errors: []string{"1 error occurred:\n\t* unsupported operation\n\n"}})
		case body == nil:
			w.WriteHeader(http.StatusNoContent)
		default:
			httpapi.WriteJSON(w, status, body)
		}
	})
}

// response is Vault's envelope for successful answers.
type response struct {
	RequestID     string   `json:"request_id"`
	LeaseID       string   `json:"lease_id"`
	Renewable     bool     `json:"renewable"`
	LeaseDuration int64    `json:"lease_duration"`
	Data          any      `json:"data"`
	WrapInfo      any      `json:"wrap_info"`
	Warnings      []string `json:"warnings"`
	Auth          any      `json:"auth"`
}

func envelope(r *http.Request) response {
	return response{RequestID: strings.TrimPrefix(httpapi.RequestID(r), "req-")}
}

// vaultToken returns the token of the X-Vault-Token header, or of an
// "Authorization: Bearer" header.
func vaultToken(r *http.Request) string {
	if t := strings.TrimSpace(r.Header.Get("X-Vault-Token")); t != "" {
		return t
	}
	return httpapi.BearerToken(r.Header.Get("Authorization"))
}

func (a *API) authenticate(r *http.Request) (identity.Principal, store.AccessToken, error) {
	raw := vaultToken(r)
	if raw == "" {
		return identity.Principal{}, store.AccessToken{}, errNoToken()
	}
	return a.Auth.Authenticate(r.Context(), raw, httpapi.ClientIP(r))
}

func (a *API) health(r *http.Request) (int, any, error) {
	now := a.Now().UTC()
	return http.StatusOK, map[string]any{
		"initialized":                  true,
		"sealed":                       false,
		"standby":                      false,
		"performance_standby":          false,
		"replication_performance_mode": "disabled",
		"replication_dr_mode":          "disabled",
		"server_time_utc":              now.Unix(),
		"version":                      a.Version,
		"cluster_name":                 "gatehouse",
		"cluster_id":                   "",
	}, nil
}

// errNoToken answers a request that needs a token and sent none.
func errNoToken() error {
	return errs.New(errs.Unauthenticated, "no token was presented; send it in the X-Vault-Token header")
}
