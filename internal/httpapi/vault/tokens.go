package vault

import (
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// tokenPolicies are the policies a token shows. Gatehouse has no policy
// engine; every token carries "default" (root tokens "root"), which is what
// Vault clients expect to see.
func tokenPolicies(rec store.AccessToken) []string {
	if rec.AuthMethodType == store.AuthMethodRoot {
		return []string{"root"}
	}
	if p := rec.Metadata[vaultauth.MetaPolicies]; p != "" {
		ps := strings.Split(p, ",")
		sort.Strings(ps)
		return ps
	}
	return []string{"default"}
}

func tokenPath(rec store.AccessToken) string {
	if rec.AuthMethodType == store.AuthMethodRoot {
		return "auth/token/root"
	}
	if m := rec.Metadata[vaultauth.MetaMount]; m != "" {
		return "auth/" + m + "/login"
	}
	return "auth/" + string(rec.AuthMethodType) + "/login"
}

func metaOf(rec store.AccessToken) map[string]string {
	if len(rec.Metadata) == 0 {
		return nil
	}
	out := make(map[string]string, len(rec.Metadata))
	for k, v := range rec.Metadata {
		if k == vaultauth.MetaPolicies || k == vaultauth.MetaMount {
			continue
		}
		out[k] = v
	}
	return out
}

// remainingUses is Vault's num_uses: uses left, 0 = unlimited.
func remainingUses(rec store.AccessToken) int64 {
	if rec.NumUsesLimit == 0 {
		return 0
	}
	if n := rec.NumUsesLimit - rec.NumUses; n > 0 {
		return n
	}
	return -1 // used up: Vault shows -1 on the last use
}

func (a *API) lookupSelf(r *http.Request) (int, any, error) {
	raw := vaultToken(r)
	_, rec, err := a.authenticate(r)
	if err != nil {
		return 0, nil, err
	}
	resp := envelope(r)
	resp.Data = a.tokenData(raw, rec)
	return http.StatusOK, resp, nil
}

// tokenLookup is a token lookup's data, Vault's field set. Its fields are
// in the order of their JSON names, so that it encodes exactly as the
// map[string]any it replaced did (encoding/json sorts map keys); Vault
// Agent and the Vault clients type-assert id, ttl, renewable and type.
// A struct spares the token check a map and a boxed value per field.
type tokenLookup struct {
	Accessor        string            `json:"accessor"`
	CreationTime    int64             `json:"creation_time"`
	CreationTTL     int64             `json:"creation_ttl"`
	DisplayName     string            `json:"display_name"`
	EntityID        string            `json:"entity_id"`
	ExpireTime      *string           `json:"expire_time"` // null when the token never expires
	ExplicitMaxTTL  int64             `json:"explicit_max_ttl"`
	ID              string            `json:"id"`
	IssueTime       string            `json:"issue_time"`
	LastRenewal     *string           `json:"last_renewal,omitempty"`      // only once renewed
	LastRenewalTime *int64            `json:"last_renewal_time,omitempty"` // only once renewed
	Meta            map[string]string `json:"meta"`
	NumUses         int64             `json:"num_uses"`
	Orphan          bool              `json:"orphan"`
	Path            string            `json:"path"`
	Period          int64             `json:"period,omitempty"` // only for periodic tokens
	Policies        []string          `json:"policies"`
	Renewable       bool              `json:"renewable"`
	TTL             int64             `json:"ttl"`
	Type            string            `json:"type"`

	// expireTime, lastRenewal and lastRenewalTime hold the values the
	// pointers above point at, so that they cost no allocation of their own.
	expireTime      string
	lastRenewal     string
	lastRenewalTime int64
}

// tokenData is a token lookup's data. raw is the token itself, or "" when
// it was looked up by accessor (Vault then shows an empty id).
func (a *API) tokenData(raw string, rec store.AccessToken) *tokenLookup {
	now := a.Now()
	root := rec.AuthMethodType == store.AuthMethodRoot
	d := &tokenLookup{
		Accessor:       rec.ID,
		ID:             raw,
		CreationTime:   rec.CreatedAt.Unix(),
		CreationTTL:    creationTTL(rec),
		IssueTime:      rec.CreatedAt.UTC().Format(time.RFC3339Nano),
		DisplayName:    displayName(rec),
		EntityID:       rec.IdentityID,
		ExplicitMaxTTL: rec.MaxTTL,
		Meta:           metaOf(rec),
		NumUses:        remainingUses(rec),
		Orphan:         true,
		Path:           tokenPath(rec),
		Policies:       tokenPolicies(rec),
		Renewable:      !root,
		TTL:            token.ExpiresIn(rec, now),
		Type:           "service",
	}
	if !rec.ExpiresAt.IsZero() {
		d.expireTime = rec.ExpiresAt.UTC().Format(time.RFC3339Nano)
		d.ExpireTime = &d.expireTime
	}
	if rec.Period > 0 {
		d.Period = rec.Period
	}
	if !rec.LastRenewedAt.Equal(rec.CreatedAt) {
		d.lastRenewalTime = rec.LastRenewedAt.Unix()
		d.lastRenewal = rec.LastRenewedAt.UTC().Format(time.RFC3339Nano)
		d.LastRenewalTime, d.LastRenewal = &d.lastRenewalTime, &d.lastRenewal
	}
	return d
}

// creationTTL is the lifetime the token was issued with, in seconds.
func creationTTL(rec store.AccessToken) int64 {
	if rec.ExpiresAt.IsZero() {
		return 0
	}
	if rec.LastRenewedAt.Equal(rec.CreatedAt) {
		return int64(rec.ExpiresAt.Sub(rec.CreatedAt) / time.Second)
	}
	if rec.TTL > 0 {
		return rec.TTL
	}
	return rec.MaxTTL
}

func displayName(rec store.AccessToken) string {
	if rec.AuthMethodType == store.AuthMethodRoot {
		return "root"
	}
	if ns, name := rec.Metadata[kubeauth.MetaNamespace], rec.Metadata[kubeauth.MetaName]; ns != "" && name != "" {
		return strings.TrimSuffix(rec.Metadata[vaultauth.MetaMount], "/") + "-" + ns + "-" + name
	}
	return string(rec.AuthMethodType)
}

type renewBody struct {
	Increment json.RawMessage `json:"increment"`
}

func (a *API) renewSelf(r *http.Request) (int, any, error) {
	raw := vaultToken(r)
	if raw == "" {
		return 0, nil, errNoToken()
	}
	var body renewBody
	unknown, err := httpapi.DecodeLenient(r, &body)
	if err != nil {
		return 0, nil, err
	}
	inc, err := ParseDuration("increment", body.Increment)
	if err != nil {
		return 0, nil, err
	}
	rec, err := a.Tokens.Renew(r.Context(), raw, httpapi.ClientIP(r), inc)
	if err != nil {
		return 0, nil, err
	}
	resp := envelope(r)
	resp.Warnings = ignoredWarning(unknown)
	if inc > 0 && token.ExpiresIn(rec, a.Now()) < inc {
		resp.Warnings = append(resp.Warnings, "TTL of \""+strconv.FormatInt(inc, 10)+"s\" exceeded the effective max_ttl; TTL value is capped accordingly")
	}
	resp.Auth = a.authBlock(raw, rec)
	return http.StatusOK, resp, nil
}

// authBlock is Vault's "auth" object for a token.
func (a *API) authBlock(raw string, rec store.AccessToken) map[string]any {
	policies := tokenPolicies(rec)
	return map[string]any{
		"client_token":    raw,
		"accessor":        rec.ID,
		"policies":        policies,
		"token_policies":  policies,
		"metadata":        metaOf(rec),
		"lease_duration":  token.ExpiresIn(rec, a.Now()),
		"renewable":       rec.AuthMethodType != store.AuthMethodRoot,
		"entity_id":       rec.IdentityID,
		"token_type":      "service",
		"orphan":          true,
		"mfa_requirement": nil,
		"num_uses":        remainingUses(rec),
	}
}

func (a *API) revokeSelf(r *http.Request) (int, any, error) {
	raw := vaultToken(r)
	if raw == "" {
		return 0, nil, errNoToken()
	}
	if _, err := a.Tokens.RevokePresented(r.Context(), raw, httpapi.ClientIP(r)); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// ignoredWarning is Vault's warning for request fields it does not know.
func ignoredWarning(unknown []string) []string {
	if len(unknown) == 0 {
		return nil
	}
	return []string{"Endpoint ignored these unrecognized parameters: [" + strings.Join(unknown, " ") + "]"}
}

// ParseDuration reads a Vault duration: integer seconds, a numeric string,
// or a Go-style duration string ("1h", "90m"). Absent or null is 0.
func ParseDuration(field string, raw json.RawMessage) (int64, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, nil
	}
	bad := errs.New(errs.BadRequest, "invalid value for %q: want seconds or a duration string such as \"1h\"", field)
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		v, err := n.Int64()
		if err != nil || v < 0 {
			return 0, bad
		}
		return v, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return 0, bad
	}
	str = strings.TrimSpace(str)
	if str == "" {
		return 0, nil
	}
	if v, err := strconv.ParseInt(str, 10, 64); err == nil {
		if v < 0 {
			return 0, bad
		}
		return v, nil
	}
	d, err := time.ParseDuration(str)
	if err != nil || d < 0 {
		// Vault also accepts a "d" suffix for days.
		if days, ok := strings.CutSuffix(str, "d"); ok {
			if v, err := strconv.ParseInt(days, 10, 64); err == nil && v >= 0 && v <= math.MaxInt64/86400 {
				return v * 86400, nil
			}
		}
		return 0, bad
	}
	return int64(d / time.Second), nil
}

// tokenBody is auth/token/lookup and auth/token/revoke.
type tokenBody struct {
	Token string `json:"token"`
}

// accessorBody is auth/token/lookup-accessor and revoke-accessor.
type accessorBody struct {
	Accessor string `json:"accessor"`
}

// adminBody authenticates an administrator and decodes the body into v.
func (a *API) adminBody(r *http.Request, action string, v any) (identity.Principal, error) {
	p, _, err := a.authedBody(r, v)
	if err != nil {
		return identity.Principal{}, err
	}
	return p, p.RequireAdmin(action)
}

// tokenOf reads the token of an admin lookup or revoke body.
func (a *API) tokenOf(r *http.Request, action string) (identity.Principal, string, error) {
	var b tokenBody
	p, err := a.adminBody(r, action, &b)
	if err != nil {
		return identity.Principal{}, "", err
	}
	raw := strings.TrimSpace(b.Token)
	if raw == "" {
		return identity.Principal{}, "", errs.New(errs.BadRequest, "missing token")
	}
	return p, raw, nil
}

// badToken is Vault's answer for a token that is not live: 403.
func badToken(err error) error {
	if e := errs.As(err); e.Code == errs.NotFound {
		return errs.New(errs.Forbidden, "bad token")
	}
	return err
}

func (a *API) lookupToken(r *http.Request) (int, any, error) {
	p, raw, err := a.tokenOf(r, "looking up another token")
	if err != nil {
		return 0, nil, err
	}
	rec, err := a.Tokens.InspectAs(r.Context(), p, raw)
	if err != nil {
		return 0, nil, badToken(err)
	}
	resp := envelope(r)
	resp.Data = a.tokenData(raw, rec)
	return http.StatusOK, resp, nil
}

func (a *API) revokeToken(r *http.Request) (int, any, error) {
	p, raw, err := a.tokenOf(r, "revoking another token")
	if err != nil {
		return 0, nil, err
	}
	rec, err := a.Tokens.InspectAs(r.Context(), p, raw)
	if err != nil {
		// Revoking a token that is already dead or unknown changes nothing.
		if e := errs.As(err); e.Code == errs.NotFound {
			return http.StatusNoContent, nil, nil
		}
		return 0, nil, err
	}
	if err := a.Tokens.RevokeAs(r.Context(), p, rec, audit.CauseRevoke); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// accessor reads and checks the accessor of a request body.
func (a *API) accessor(r *http.Request, action string) (identity.Principal, string, error) {
	var b accessorBody
	p, err := a.adminBody(r, action, &b)
	if err != nil {
		return identity.Principal{}, "", err
	}
	acc := strings.TrimSpace(b.Accessor)
	if acc == "" {
		return identity.Principal{}, "", errs.New(errs.BadRequest, "missing accessor")
	}
	if _, err := uuid.Parse(acc); err != nil || len(acc) != 36 {
		return identity.Principal{}, "", errs.New(errs.BadRequest, "invalid accessor")
	}
	return p, strings.ToLower(acc), nil
}

func (a *API) lookupAccessor(r *http.Request) (int, any, error) {
	p, acc, err := a.accessor(r, "looking up a token by accessor")
	if err != nil {
		return 0, nil, err
	}
	rec, err := a.Tokens.InspectAccessorAs(r.Context(), p, acc)
	if err != nil {
		if e := errs.As(err); e.Code == errs.NotFound {
			return 0, nil, errs.New(errs.BadRequest, "invalid accessor")
		}
		return 0, nil, err
	}
	resp := envelope(r)
	resp.Data = a.tokenData("", rec)
	return http.StatusOK, resp, nil
}

func (a *API) revokeAccessor(r *http.Request) (int, any, error) {
	p, acc, err := a.accessor(r, "revoking a token by accessor")
	if err != nil {
		return 0, nil, err
	}
	rec, err := a.Tokens.InspectAccessorAs(r.Context(), p, acc)
	if err != nil {
		if e := errs.As(err); e.Code == errs.NotFound {
			return 0, nil, errs.New(errs.BadRequest, "invalid accessor")
		}
		return 0, nil, err
	}
	if err := a.Tokens.RevokeAs(r.Context(), p, rec, audit.CauseRevokeAccessor); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
