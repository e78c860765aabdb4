// Package oauth serves Gatehouse's OpenID Connect issuer and OAuth 2.0
// endpoints in their standard wire forms: OIDC Discovery and the JWKS,
// token exchange (RFC 8693) and introspection (RFC 7662), with form
// bodies and RFC 6749 error bodies. The domain side is internal/oidc.
package oauth

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
)

// GrantTypeTokenExchange is RFC 8693's grant type.
const GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// Paths.
const (
	PathDiscovery  = "/.well-known/openid-configuration"
	PathJWKS       = "/.well-known/jwks.json"
	PathToken      = "/oauth2/token"
	PathIntrospect = "/oauth2/introspect"
)

// Deps are what the OAuth front end serves.
type Deps struct {
	Auth   *httpapi.Authenticator
	OIDC   *oidc.Service
	Logger *slog.Logger
	// LoginLimiter limits logins per source address: a Kubernetes JWT
	// exchanged directly is a login (nil = no limit).
	LoginLimiter *ratelimit.Limiter
}

// API is the OAuth front end.
type API struct {
	Deps
	discovery []byte
}

// Register adds the routes to mux.
func Register(mux *http.ServeMux, d Deps) {
	a := &API{Deps: d, discovery: discoveryDocument(d.OIDC.Issuer(), d.OIDC.Keys().Config().Algorithm)}
	mux.HandleFunc("GET "+PathDiscovery, a.serveDiscovery)
	mux.HandleFunc("GET "+PathJWKS, a.serveJWKS)
	// The same documents where Vault serves its identity tokens' (one
	// issuer for both APIs).
	mux.HandleFunc("GET /v1/identity/oidc"+PathDiscovery, a.serveDiscovery)
	mux.HandleFunc("GET /v1/identity/oidc/.well-known/keys", a.serveJWKS)
	mux.HandleFunc("POST "+PathToken, a.guarded(a.token))
	mux.HandleFunc("POST "+PathIntrospect, a.guarded(a.introspect))
}

// guarded answers a panic of h in RFC 6749's error body, as every other
// failure of this front end.
func (a *API) guarded(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				writeError(w, r, a.Logger, httpapi.PanicError(p))
			}
		}()
		h(w, r)
	}
}

// discoveryDocument is the OIDC Discovery document: what a verifier (AWS
// IAM, GCP workload identity, go-oidc) needs, as Kubernetes' own
// service-account issuer publishes it, plus the OAuth endpoints.
func discoveryDocument(issuer, alg string) []byte {
	algs := []string{oidc.ES256, oidc.RS256}
	if alg == oidc.RS256 {
		algs = []string{oidc.RS256, oidc.ES256}
	}
	doc := map[string]any{
		"issuer":                                        issuer,
		"jwks_uri":                                      issuer + PathJWKS,
		"token_endpoint":                                issuer + PathToken,
		"introspection_endpoint":                        issuer + PathIntrospect,
		"response_types_supported":                      []string{"id_token"},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         algs,
		"grant_types_supported":                         []string{GrantTypeTokenExchange},
		"token_endpoint_auth_methods_supported":         []string{"none"},
		"introspection_endpoint_auth_methods_supported": []string{"bearer"},
		"claims_supported": []string{"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "scope", "client_id",
			oidc.ClaimIdentityName, oidc.ClaimAuthMethod, oidc.ClaimKubernetes},
	}
	b, err := jsonMarshal(doc)
	if err != nil {
		panic(err) // only strings
	}
	return b
}

var cacheControl = "public, max-age=" + strconv.Itoa(int(oidc.JWKSMaxAge.Seconds()))

func (a *API) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", cacheControl)
	w.Write(a.discovery)
}

// serveJWKS serves the key set from memory, with an ETag for conditional
// requests.
func (a *API) serveJWKS(w http.ResponseWriter, r *http.Request) {
	body, etag := a.OIDC.Keys().JWKS()
	h := w.Header()
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" && match == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/jwk-set+json")
	w.Write(body)
}
