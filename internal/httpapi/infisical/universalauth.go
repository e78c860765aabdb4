package infisical

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/authmethod"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/universalauth"
)

// registerUniversalAuth adds the Universal Auth routes.
func (a *API) registerUniversalAuth(handle func(string, func(*http.Request) (int, any, error))) {
	const base = "/api/v1/auth/universal-auth"
	const ident = base + "/identities/{identityId}"
	handle("POST "+base+"/login", a.limitLogin(a.universalAuthLogin))
	handle("POST "+ident, a.attachUniversalAuth)
	handle("GET "+ident, a.getUniversalAuth)
	handle("PATCH "+ident, a.updateUniversalAuth)
	handle("DELETE "+ident, a.revokeUniversalAuth)
	handle("POST "+ident+"/client-secrets", a.createClientSecret)
	handle("GET "+ident+"/client-secrets", a.listClientSecrets)
	handle("GET "+ident+"/client-secrets/{clientSecretId}", a.getClientSecret)
	handle("POST "+ident+"/client-secrets/{clientSecretId}/revoke", a.revokeClientSecret)
	handle("POST "+ident+"/clear-lockouts", a.clearLockouts)
}

// universalAuthBody is the body of attach (POST) and update (PATCH).
type universalAuthBody struct {
	ClientSecretTrustedIPs     *[]authmethod.TrustedIP `json:"clientSecretTrustedIps"`
	AccessTokenTrustedIPs      *[]authmethod.TrustedIP `json:"accessTokenTrustedIps"`
	AccessTokenTTL             *int64                  `json:"accessTokenTTL"`
	AccessTokenMaxTTL          *int64                  `json:"accessTokenMaxTTL"`
	AccessTokenNumUsesLimit    *int64                  `json:"accessTokenNumUsesLimit"`
	AccessTokenPeriod          *int64                  `json:"accessTokenPeriod"`
	LockoutEnabled             *bool                   `json:"lockoutEnabled"`
	LockoutThreshold           *int64                  `json:"lockoutThreshold"`
	LockoutDurationSeconds     *int64                  `json:"lockoutDurationSeconds"`
	LockoutCounterResetSeconds *int64                  `json:"lockoutCounterResetSeconds"`
}

func (b universalAuthBody) input() universalauth.Input {
	return universalauth.Input{
		Token: authmethod.PolicyInput{TTL: b.AccessTokenTTL, MaxTTL: b.AccessTokenMaxTTL,
			NumUsesLimit: b.AccessTokenNumUsesLimit, Period: b.AccessTokenPeriod, TrustedIPs: b.AccessTokenTrustedIPs},
		ClientSecretTrustedIPs: b.ClientSecretTrustedIPs, LockoutEnabled: b.LockoutEnabled,
		LockoutThreshold: b.LockoutThreshold, LockoutDurationSeconds: b.LockoutDurationSeconds,
		LockoutCounterResetSeconds: b.LockoutCounterResetSeconds,
	}
}

type universalAuthJSON struct {
	ID                         string                     `json:"id"`
	ClientID                   string                     `json:"clientId"`
	IdentityID                 string                     `json:"identityId"`
	ClientSecretTrustedIPs     []authmethod.TrustedIPView `json:"clientSecretTrustedIps"`
	AccessTokenTrustedIPs      []authmethod.TrustedIPView `json:"accessTokenTrustedIps"`
	AccessTokenTTL             int64                      `json:"accessTokenTTL"`
	AccessTokenMaxTTL          int64                      `json:"accessTokenMaxTTL"`
	AccessTokenNumUsesLimit    int64                      `json:"accessTokenNumUsesLimit"`
	AccessTokenPeriod          int64                      `json:"accessTokenPeriod"`
	LockoutEnabled             bool                       `json:"lockoutEnabled"`
	LockoutThreshold           int64                      `json:"lockoutThreshold"`
	LockoutDurationSeconds     int64                      `json:"lockoutDurationSeconds"`
	LockoutCounterResetSeconds int64                      `json:"lockoutCounterResetSeconds"`
	CreatedAt                  *string                    `json:"createdAt"`
	UpdatedAt                  *string                    `json:"updatedAt"`
}

type universalAuthEnvelope struct {
	IdentityUniversalAuth universalAuthJSON `json:"identityUniversalAuth"`
}

func toUniversalAuthJSON(m universalauth.Method) universalAuthEnvelope {
	p := m.TokenPolicy
	return universalAuthEnvelope{universalAuthJSON{
		ID: m.ID, ClientID: m.ClientID, IdentityID: m.IdentityID,
		ClientSecretTrustedIPs: authmethod.ViewTrustedIPs(m.ClientSecretTrustedIPs),
		AccessTokenTrustedIPs:  authmethod.ViewTrustedIPs(p.TrustedIPs),
		AccessTokenTTL:         p.TTL, AccessTokenMaxTTL: p.MaxTTL, AccessTokenNumUsesLimit: p.NumUsesLimit, AccessTokenPeriod: p.Period,
		LockoutEnabled: m.Lockout.Enabled, LockoutThreshold: m.Lockout.Threshold,
		LockoutDurationSeconds: m.Lockout.DurationSeconds, LockoutCounterResetSeconds: m.Lockout.CounterResetSeconds,
		CreatedAt: formatTime(m.CreatedAt), UpdatedAt: formatTime(m.UpdatedAt),
	}}
}

// methodResult turns a service's answer about a method into the handler's.
func methodResult(m universalauth.Method, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toUniversalAuthJSON(m), nil
}

func (a *API) attachUniversalAuth(r *http.Request) (int, any, error) {
	var body universalAuthBody
	p, err := a.principalAndBody(r, &body)
	if err != nil {
		return 0, nil, err
	}
	return methodResult(a.UniversalAuth.Attach(r.Context(), p, r.PathValue("identityId"), body.input()))
}

func (a *API) getUniversalAuth(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	return methodResult(a.UniversalAuth.Get(r.Context(), p, r.PathValue("identityId")))
}

func (a *API) updateUniversalAuth(r *http.Request) (int, any, error) {
	var body universalAuthBody
	p, err := a.principalAndPatch(r, &body)
	if err != nil {
		return 0, nil, err
	}
	return methodResult(a.UniversalAuth.Update(r.Context(), p, r.PathValue("identityId"), body.input()))
}

func (a *API) revokeUniversalAuth(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	return methodResult(a.UniversalAuth.Revoke(r.Context(), p, r.PathValue("identityId")))
}

type clientSecretBody struct {
	Description  *string `json:"description"`
	NumUsesLimit *int64  `json:"numUsesLimit"`
	TTL          *int64  `json:"ttl"`
}

type clientSecretJSON struct {
	ID                       string  `json:"id"`
	Description              string  `json:"description"`
	ClientSecretPrefix       string  `json:"clientSecretPrefix"`
	ClientSecretNumUses      int64   `json:"clientSecretNumUses"`
	ClientSecretNumUsesLimit int64   `json:"clientSecretNumUsesLimit"`
	ClientSecretTTL          int64   `json:"clientSecretTTL"`
	IsClientSecretRevoked    bool    `json:"isClientSecretRevoked"`
	CreatedAt                *string `json:"createdAt"`
	UpdatedAt                *string `json:"updatedAt"`
}

func toClientSecretJSON(cs store.ClientSecret) clientSecretJSON {
	return clientSecretJSON{
		ID: cs.ID, Description: cs.Description, ClientSecretPrefix: cs.Prefix,
		ClientSecretNumUses: cs.NumUses, ClientSecretNumUsesLimit: cs.NumUsesLimit, ClientSecretTTL: cs.TTL,
		IsClientSecretRevoked: !cs.RevokedAt.IsZero(), CreatedAt: formatTime(cs.CreatedAt), UpdatedAt: formatTime(cs.UpdatedAt),
	}
}

// clientSecretResult turns a service's answer about one client secret into
// the handler's.
func clientSecretResult(cs store.ClientSecret, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"clientSecretData": toClientSecretJSON(cs)}, nil
}

// createClientSecret answers the only response that holds the secret.
func (a *API) createClientSecret(r *http.Request) (int, any, error) {
	var body clientSecretBody
	p, err := a.principalAndBody(r, &body)
	if err != nil {
		return 0, nil, err
	}
	created, err := a.UniversalAuth.CreateClientSecret(r.Context(), p, r.PathValue("identityId"),
		universalauth.SecretInput{Description: body.Description, NumUsesLimit: body.NumUsesLimit, TTL: body.TTL})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{
		"clientSecret":     created.Secret.Reveal(),
		"clientSecretData": toClientSecretJSON(created.Record),
	}, nil
}

func (a *API) listClientSecrets(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	list, err := a.UniversalAuth.ListClientSecrets(r.Context(), p, r.PathValue("identityId"))
	if err != nil {
		return 0, nil, err
	}
	out := make([]clientSecretJSON, 0, len(list))
	for _, cs := range list {
		out = append(out, toClientSecretJSON(cs))
	}
	return http.StatusOK, map[string]any{"clientSecretData": out}, nil
}

func (a *API) getClientSecret(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	return clientSecretResult(a.UniversalAuth.GetClientSecret(r.Context(), p, r.PathValue("identityId"), r.PathValue("clientSecretId")))
}

func (a *API) revokeClientSecret(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	return clientSecretResult(a.UniversalAuth.RevokeClientSecret(r.Context(), p, r.PathValue("identityId"), r.PathValue("clientSecretId")))
}

func (a *API) clearLockouts(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	n, err := a.UniversalAuth.ClearLockouts(r.Context(), p, r.PathValue("identityId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]int64{"deleted": n}, nil
}

type universalAuthLoginBody struct {
	ClientID         *string        `json:"clientId"`
	ClientSecret     *secret.Secret `json:"clientSecret"`     // a Secret at once: redacted if ever printed
	OrganizationSlug *string        `json:"organizationSlug"` // accepted and ignored: one organization
}

// universalAuthLogin needs no auth header: the client secret is the
// credential.
func (a *API) universalAuthLogin(r *http.Request) (int, any, error) {
	var body universalAuthLoginBody
	if err := httpapi.DecodeStrict(r, &body); err != nil {
		return 0, nil, err
	}
	var missing []errs.FieldError
	if body.ClientID == nil {
		missing = append(missing, errs.FieldError{Path: "clientId", Message: "Required"})
	}
	if body.ClientSecret == nil {
		missing = append(missing, errs.FieldError{Path: "clientSecret", Message: "Required"})
	}
	if len(missing) > 0 {
		return 0, nil, errs.Validation(missing...)
	}
	issued, err := a.UniversalAuth.Login(r.Context(), universalauth.LoginInput{
		ClientID: *body.ClientID, ClientSecret: *body.ClientSecret, ClientIP: httpapi.ClientIP(r),
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.loginAnswer(issued.Token.Reveal(), issued.Record), nil
}

// identityDetailJSON is the identity of GET /api/v1/identities/{id}, with
// the lockouts in force on its auth methods: Infisical's
// activeLockoutAuthMethods (method names) and the lockouts themselves.
type identityDetailJSON struct {
	identityJSON
	ActiveLockoutAuthMethods []string      `json:"activeLockoutAuthMethods"`
	ActiveLockouts           []lockoutJSON `json:"activeLockouts"`
}

type lockoutJSON struct {
	AuthMethod     string  `json:"authMethod"`
	IPAddress      string  `json:"ipAddress"`
	FailedAttempts int64   `json:"failedAttempts"`
	LockedUntil    *string `json:"lockedUntil"`
}

// identityDetail combines an identity with its active lockouts. The
// identity package does not know about Universal Auth; this is where the
// two meet.
func (a *API) identityDetail(r *http.Request, p identity.Principal, v identity.View) (any, error) {
	out := identityDetailJSON{identityJSON: toIdentityJSON(v), ActiveLockoutAuthMethods: []string{}, ActiveLockouts: []lockoutJSON{}}
	ls, err := a.UniversalAuth.ActiveLockouts(r.Context(), p, v.ID)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		out.ActiveLockouts = append(out.ActiveLockouts, lockoutJSON{AuthMethod: string(store.AuthMethodUniversal),
			IPAddress: l.ClientIP, FailedAttempts: l.FailedAttempts, LockedUntil: formatTime(l.LockedUntil)})
	}
	if len(ls) > 0 {
		out.ActiveLockoutAuthMethods = append(out.ActiveLockoutAuthMethods, string(store.AuthMethodUniversal))
	}
	return map[string]any{"identity": out}, nil
}
