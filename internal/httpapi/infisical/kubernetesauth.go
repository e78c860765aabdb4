package infisical

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/authmethod"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// registerKubernetesAuth adds the Kubernetes Auth routes.
func (a *API) registerKubernetesAuth(handle func(string, func(*http.Request) (int, any, error))) {
	const base = "/api/v1/auth/kubernetes-auth"
	const ident = base + "/identities/{identityId}"
	handle("POST "+base+"/login", a.limitLogin(a.kubernetesAuthLogin))
	handle("POST "+ident, a.attachKubernetesAuth)
	handle("GET "+ident, a.getKubernetesAuth)
	handle("PATCH "+ident, a.updateKubernetesAuth)
	handle("DELETE "+ident, a.revokeKubernetesAuth)
	handle("POST "+ident+"/test-connection", a.testKubernetesAuthConnection) // kubernetesauth_check.go
}

// nullable is a field that may be absent, null or a value, which PATCH
// tells apart.
type nullable[T any] struct {
	Set, Null bool
	Value     T
}

func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(b) == "null" {
		n.Null = true
		return nil
	}
	return json.Unmarshal(b, &n.Value)
}

// orEmpty is nil when absent, a pointer to the zero value when null (a
// clear), else a pointer to the value.
func (n nullable[T]) orEmpty() *T {
	if !n.Set {
		return nil
	}
	return &n.Value
}

// kubernetesAuthBody is the body of attach (POST) and update (PATCH).
type kubernetesAuthBody struct {
	KubernetesHost          nullable[string]        `json:"kubernetesHost"`
	TokenReviewerJWT        nullable[secret.Secret] `json:"tokenReviewerJwt"`
	AllowedNamespaces       *string                 `json:"allowedNamespaces"`
	AllowedNames            *string                 `json:"allowedNames"`
	AllowedAudience         *string                 `json:"allowedAudience"`
	CACert                  *string                 `json:"caCert"`
	VerifyTLSCertificate    *bool                   `json:"verifyTlsCertificate"`
	TokenReviewMode         *kubeauth.ReviewMode    `json:"tokenReviewMode"` // "api", "gateway", or "local" (a Gatehouse extension)
	GatewayID               nullable[string]        `json:"gatewayId"`
	GatewayPoolID           nullable[string]        `json:"gatewayPoolId"`
	AccessTokenTrustedIPs   *[]authmethod.TrustedIP `json:"accessTokenTrustedIps"`
	AccessTokenTTL          *int64                  `json:"accessTokenTTL"`
	AccessTokenMaxTTL       *int64                  `json:"accessTokenMaxTTL"`
	AccessTokenNumUsesLimit *int64                  `json:"accessTokenNumUsesLimit"`
}

func (b kubernetesAuthBody) input() (kubeauth.Input, error) {
	// kubernetesHost: null clears it (gateway mode); a string has at least
	// one character once trimmed, in every mode.
	if h := b.KubernetesHost; h.Set && !h.Null && strings.TrimSpace(h.Value) == "" {
		return kubeauth.Input{}, errs.Validation(errs.FieldError{Path: "kubernetesHost", Message: "String must contain at least 1 character(s)"})
	}
	in := kubeauth.Input{
		Cluster: kubeauth.ClusterInput{
			Host: b.KubernetesHost.orEmpty(), CACert: b.CACert, VerifyTLS: b.VerifyTLSCertificate, Mode: b.TokenReviewMode,
			GatewayID: b.GatewayID.orEmpty(), GatewayPoolID: b.GatewayPoolID.orEmpty(),
		},
		Rules: kubeauth.RulesInput{Namespaces: b.AllowedNamespaces, Names: b.AllowedNames, Audience: b.AllowedAudience},
		Policy: authmethod.PolicyInput{TTL: b.AccessTokenTTL, MaxTTL: b.AccessTokenMaxTTL,
			NumUsesLimit: b.AccessTokenNumUsesLimit, TrustedIPs: b.AccessTokenTrustedIPs},
	}
	// tokenReviewerJwt: null deletes it, "" (or only white space) leaves it
	// unchanged.
	if jwt := b.TokenReviewerJWT; jwt.Set && (jwt.Null || strings.TrimSpace(jwt.Value.Reveal()) != "") {
		in.Cluster.ReviewerJWT = &jwt.Value
	}
	return in, nil
}

type kubernetesAuthJSON struct {
	ID                      string                     `json:"id"`
	IdentityID              string                     `json:"identityId"`
	KubernetesHost          *string                    `json:"kubernetesHost"`
	AllowedNamespaces       string                     `json:"allowedNamespaces"`
	AllowedNames            string                     `json:"allowedNames"`
	AllowedAudience         string                     `json:"allowedAudience"`
	CACert                  string                     `json:"caCert"`
	VerifyTLSCertificate    bool                       `json:"verifyTlsCertificate"`
	TokenReviewMode         kubeauth.ReviewMode        `json:"tokenReviewMode"`
	TokenReviewerJWT        *string                    `json:"tokenReviewerJwt"` // always null: a secret, never returned
	TokenReviewerJWTSet     bool                       `json:"tokenReviewerJwtSet"`
	GatewayID               *string                    `json:"gatewayId"`
	GatewayPoolID           *string                    `json:"gatewayPoolId"`
	AccessTokenTTL          int64                      `json:"accessTokenTTL"`
	AccessTokenMaxTTL       int64                      `json:"accessTokenMaxTTL"`
	AccessTokenNumUsesLimit int64                      `json:"accessTokenNumUsesLimit"`
	AccessTokenTrustedIPs   []authmethod.TrustedIPView `json:"accessTokenTrustedIps"`
	CreatedAt               *string                    `json:"createdAt"`
	UpdatedAt               *string                    `json:"updatedAt"`
}

type kubernetesAuthEnvelope struct {
	IdentityKubernetesAuth kubernetesAuthJSON `json:"identityKubernetesAuth"`
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// kubernetesAuthResult turns a service's answer into the handler's.
func kubernetesAuthResult(v kubeauth.View, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	c, p := v.Config, v.TokenPolicy
	return http.StatusOK, kubernetesAuthEnvelope{kubernetesAuthJSON{
		ID: v.ID, IdentityID: v.IdentityID, KubernetesHost: nullIfEmpty(c.HostAsGiven()),
		AllowedNamespaces: c.NamespacesAsGiven(), AllowedNames: c.NamesAsGiven(), AllowedAudience: c.Audience(),
		CACert: c.CACert, VerifyTLSCertificate: c.VerifyTLS, TokenReviewMode: c.ReviewMode,
		TokenReviewerJWTSet: v.ReviewerJWTSet, GatewayID: nullIfEmpty(c.GatewayID), GatewayPoolID: nullIfEmpty(c.GatewayPoolID),
		AccessTokenTTL: p.TTL, AccessTokenMaxTTL: p.MaxTTL, AccessTokenNumUsesLimit: p.NumUsesLimit,
		AccessTokenTrustedIPs: authmethod.ViewTrustedIPs(p.TrustedIPs),
		CreatedAt:             formatTime(v.CreatedAt), UpdatedAt: formatTime(v.UpdatedAt),
	}}, nil
}

func (a *API) attachKubernetesAuth(r *http.Request) (int, any, error) {
	var body kubernetesAuthBody
	p, err := a.principalAndBody(r, &body)
	if err != nil {
		return 0, nil, err
	}
	in, err := body.input()
	if err != nil {
		return 0, nil, err
	}
	return kubernetesAuthResult(a.KubernetesAuth.Attach(r.Context(), p, r.PathValue("identityId"), in))
}

func (a *API) getKubernetesAuth(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	return kubernetesAuthResult(a.KubernetesAuth.Get(r.Context(), p, r.PathValue("identityId")))
}

func (a *API) updateKubernetesAuth(r *http.Request) (int, any, error) {
	var body kubernetesAuthBody
	p, err := a.principalAndPatch(r, &body, "kubernetesHost", "tokenReviewerJwt", "gatewayId", "gatewayPoolId")
	if err != nil {
		return 0, nil, err
	}
	in, err := body.input()
	if err != nil {
		return 0, nil, err
	}
	return kubernetesAuthResult(a.KubernetesAuth.Update(r.Context(), p, r.PathValue("identityId"), in))
}

func (a *API) revokeKubernetesAuth(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	return kubernetesAuthResult(a.KubernetesAuth.Revoke(r.Context(), p, r.PathValue("identityId")))
}

type kubernetesAuthLoginBody struct {
	IdentityID       string        `json:"identityId"`
	JWT              secret.Secret `json:"jwt"`              // a Secret at once: redacted if ever printed
	OrganizationSlug *string       `json:"organizationSlug"` // accepted and ignored: one organization
}

// kubernetesAuthLogin needs no auth header: the service-account token is
// the credential. Missing fields are left to the service, which audits
// every attempt.
func (a *API) kubernetesAuthLogin(r *http.Request) (int, any, error) {
	var body kubernetesAuthLoginBody
	if err := httpapi.DecodeStrict(r, &body); err != nil {
		return 0, nil, err
	}
	res, err := a.KubernetesAuth.LoginIdentity(r.Context(), kubeauth.LoginInput{
		IdentityID: body.IdentityID, JWT: body.JWT, ClientIP: httpapi.ClientIP(r),
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.loginAnswer(res.Token.Token.Reveal(), res.Token.Record), nil
}
