package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// Why an exchange is refused: the cause (errors.Is) of the errs.Error the
// service returns; the OAuth front end words them as RFC 6749 and RFC 8693
// error codes.
var (
	// ErrInvalidRequest: a parameter is missing, repeated or malformed.
	ErrInvalidRequest = errors.New("exchange: invalid request")
	// ErrInvalidGrant: the subject token (or the login behind it) is not
	// valid.
	ErrInvalidGrant = errors.New("exchange: subject not valid")
	// ErrInvalidTarget: an audience is not valid or not allowed.
	ErrInvalidTarget = errors.New("exchange: audience not allowed")
	// ErrUnsupportedGrantType: not a token exchange.
	ErrUnsupportedGrantType = errors.New("exchange: grant type not supported")
)

// Token types (RFC 8693 section 3).
const (
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
)

// Audit event types.
const (
	TypeTokenExchange = "token.exchange"
)

// Claim names of our own, namespaced.
const (
	ClaimIdentityName = "gatehouse.dev/identity_name"
	ClaimAuthMethod   = "gatehouse.dev/auth_method"
	ClaimKubernetes   = "gatehouse.dev/kubernetes"
)

// Limits.
const (
	MaxAudiences   = 10
	MaxAudienceLen = 512
	MaxScopeLen    = 1024
)

// Service exchanges Gatehouse access tokens for signed JWTs and
// introspects both.
type Service struct {
	keys   *Keys
	store  store.Store
	tokens *token.Service
	audit  *audit.Log
	now    func() time.Time
	kube   KubernetesLogin
	// verified caches the claims of verified JWTs (introspection).
	verified verifyCache
	// audiences caches the identities' exchange audiences.
	audiences audienceCache
}

// NewService returns a Service.
func NewService(keys *Keys, st store.Store, tokens *token.Service, a *audit.Log, now func() time.Time) *Service {
	return &Service{keys: keys, store: st, tokens: tokens, audit: a, now: now}
}

// Keys returns the issuer's key set.
func (s *Service) Keys() *Keys { return s.keys }

// Issuer is the issuer URL.
func (s *Service) Issuer() string { return s.keys.cfg.Issuer }

// ExchangeRequest is a token exchange as the front end parsed it.
type ExchangeRequest struct {
	// SubjectToken is a Gatehouse access token (SubjectTokenType
	// access_token).
	SubjectToken secret.Secret
	// Audiences are the audiences asked for, at least one.
	Audiences []string
	// Scope is passed through to the JWT's "scope" claim; optional.
	Scope    string
	ClientIP netip.Addr
	// TTL, when positive, asks for a shorter lifetime than the maximum.
	TTL time.Duration
}

// Exchanged is a minted JWT.
type Exchanged struct {
	JWT       secret.Secret
	ExpiresIn int64 // seconds
	Claims    Claims
}

// Claims are the claims of an exchanged JWT.
type Claims struct {
	Issuer       string           `json:"iss"`
	Subject      string           `json:"sub"`
	Audience     Audience         `json:"aud"`
	IssuedAt     int64            `json:"iat"`
	NotBefore    int64            `json:"nbf"`
	Expiry       int64            `json:"exp"`
	ID           string           `json:"jti"`
	Scope        string           `json:"scope,omitempty"`
	ClientID     string           `json:"client_id,omitempty"`
	IdentityName string           `json:"gatehouse.dev/identity_name,omitempty"`
	AuthMethod   string           `json:"gatehouse.dev/auth_method,omitempty"`
	Kubernetes   *KubernetesClaim `json:"gatehouse.dev/kubernetes,omitempty"`
}

// KubernetesClaim says which workload logged in, for Kubernetes logins.
type KubernetesClaim struct {
	// Cluster is the Vault auth mount the login went through; empty for
	// Infisical-style Kubernetes Auth (one cluster per identity).
	Cluster        string `json:"cluster,omitempty"`
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	Pod            string `json:"pod,omitempty"`
}

// Audience is "aud": a string when there is one, an array otherwise.
type Audience []string

func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// Exchange checks the subject token (spending one of its uses, from
// ClientIP, exactly as any authenticated request does), checks the
// audiences against the identity's allow list and mints a JWT. Every
// attempt is audited with its outcome.
func (s *Service) Exchange(ctx context.Context, req ExchangeRequest) (Exchanged, error) {
	ev := store.AuditEvent{Type: TypeTokenExchange, Details: map[string]string{"audience": strings.Join(req.Audiences, " ")}}
	if req.ClientIP.IsValid() {
		ev.ClientIP = req.ClientIP.String()
	}
	out, err := s.exchange(ctx, req, &ev)
	if err != nil {
		ev.Success, ev.Reason = false, errs.As(err).Error()
	} else {
		ev.Success = true
		ev.Details["jti"] = out.Claims.ID
	}
	s.audit.Record(ctx, ev)
	return out, err
}

// RecordRefused audits a token request refused before Exchange was called
// (a malformed request, an unsupported grant type).
func (s *Service) RecordRefused(ctx context.Context, clientIP netip.Addr, err error) {
	ev := store.AuditEvent{Type: TypeTokenExchange, Reason: errs.As(err).Error()}
	if clientIP.IsValid() {
		ev.ClientIP = clientIP.String()
	}
	s.audit.Record(ctx, ev)
}

func (s *Service) exchange(ctx context.Context, req ExchangeRequest, ev *store.AuditEvent) (Exchanged, error) {
	if err := checkAudiences(req.Audiences); err != nil {
		return Exchanged{}, err
	}
	if len(req.Scope) > MaxScopeLen {
		return Exchanged{}, errs.Because(errs.BadRequest, ErrInvalidRequest, "scope is longer than %d bytes", MaxScopeLen)
	}
	checked, err := s.tokens.Authenticate(ctx, req.SubjectToken.Reveal(), req.ClientIP)
	if err != nil {
		e := errs.As(err)
		if e.Code == errs.Unauthenticated || e.Code == errs.Forbidden {
			return Exchanged{}, &errs.Error{Code: errs.BadRequest, Message: "the subject token is not valid: " + e.Message, Err: fmt.Errorf("%w: %w", ErrInvalidGrant, err)}
		}
		return Exchanged{}, err
	}
	rec := checked.Record
	ev.Details["accessor"] = rec.ID
	ev.IdentityID, ev.AuthMethod = rec.IdentityID, string(rec.AuthMethodType)
	if rec.AuthMethodType == store.AuthMethodRoot || rec.IdentityID == "" {
		return Exchanged{}, errs.Because(errs.BadRequest, ErrInvalidGrant, "a root token belongs to no identity and cannot be exchanged")
	}
	allowed, identityName, err := s.exchangeAudiences(ctx, rec.IdentityID)
	if errors.Is(err, store.ErrNotFound) {
		return Exchanged{}, errs.Because(errs.BadRequest, ErrInvalidGrant, "the subject token's identity no longer exists")
	}
	if err != nil {
		return Exchanged{}, unavailable(err)
	}
	for _, a := range req.Audiences {
		if !AudienceAllowed(allowed, a) {
			return Exchanged{}, errs.Because(errs.BadRequest, ErrInvalidTarget, "audience %q is not in this identity's allowed exchange audiences", a)
		}
	}
	now := s.now()
	exp := now.Add(s.keys.cfg.MaxTTL)
	if req.TTL > 0 && now.Add(req.TTL).Before(exp) {
		exp = now.Add(req.TTL)
	}
	if !rec.ExpiresAt.IsZero() && rec.ExpiresAt.Before(exp) {
		exp = rec.ExpiresAt
	}
	exp = exp.Truncate(time.Second)
	if exp.Sub(now) < time.Second {
		return Exchanged{}, errs.Because(errs.BadRequest, ErrInvalidGrant, "the subject token expires too soon to be exchanged")
	}
	claims := Claims{
		Issuer: s.keys.cfg.Issuer, Subject: rec.IdentityID, Audience: Audience(req.Audiences),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: exp.Unix(), ID: newJTI(),
		Scope: req.Scope, ClientID: rec.AuthMethodID,
		IdentityName: identityName, AuthMethod: string(rec.AuthMethodType),
		Kubernetes: kubernetesClaim(rec),
	}
	jwt, kid, err := s.keys.Sign(appendClaims(make([]byte, 0, 512), &claims), now)
	if err != nil {
		return Exchanged{}, err
	}
	ev.Details["kid"] = kid
	return Exchanged{JWT: secret.Secret(jwt), ExpiresIn: exp.Unix() - now.Unix(), Claims: claims}, nil
}

// exchangeAudiences is store.ExchangeAudiences through the cache.
func (s *Service) exchangeAudiences(ctx context.Context, identityID string) ([]string, string, error) {
	now := s.now()
	e, gen, ok := s.audiences.get(identityID, now)
	if ok {
		return e.audiences, e.name, nil
	}
	auds, name, err := s.store.ExchangeAudiences(ctx, identityID)
	if err != nil {
		return nil, "", err
	}
	s.audiences.put(identityID, gen, audienceEntry{audiences: auds, name: name, expires: now.Add(audienceCacheTTL)})
	return auds, name, nil
}

// kubernetesClaim is the workload of a Kubernetes login, from the token's
// metadata; nil for other logins.
func kubernetesClaim(rec store.AccessToken) *KubernetesClaim {
	switch rec.AuthMethodType {
	case store.AuthMethodKubernetes, store.AuthMethodVaultKubernetes:
	default:
		return nil
	}
	md := rec.Metadata
	return &KubernetesClaim{
		Cluster:        md[vaultauth.MetaMount],
		Namespace:      md[kubeauth.MetaNamespace],
		ServiceAccount: md[kubeauth.MetaName],
		Pod:            md[kubeauth.MetaPodName],
	}
}

// AudienceAllowed reports whether aud matches one of the patterns (exact,
// or a glob where '*' matches any run of characters). An empty list
// allows nothing.
func AudienceAllowed(patterns []string, aud string) bool {
	for _, p := range patterns {
		if kubeauth.MatchGlob(p, aud) {
			return true
		}
	}
	return false
}

// checkAudiences checks the requested audiences' shape.
func checkAudiences(auds []string) error {
	if len(auds) == 0 {
		return errs.Because(errs.BadRequest, ErrInvalidRequest, "audience is required")
	}
	if len(auds) > MaxAudiences {
		return errs.Because(errs.BadRequest, ErrInvalidRequest, "at most %d audiences may be asked for", MaxAudiences)
	}
	seen := map[string]bool{}
	for _, a := range auds {
		switch {
		case a == "":
			return errs.Because(errs.BadRequest, ErrInvalidRequest, "audience must not be empty")
		case len(a) > MaxAudienceLen:
			return errs.Because(errs.BadRequest, ErrInvalidRequest, "an audience is longer than %d bytes", MaxAudienceLen)
		case strings.ContainsAny(a, "*\x00") || !validText(a):
			return errs.Because(errs.BadRequest, ErrInvalidTarget, "audience %q is not a valid audience", a)
		case seen[a]:
			return errs.Because(errs.BadRequest, ErrInvalidRequest, "audience %q is given twice", a)
		}
		seen[a] = true
	}
	return nil
}

func validText(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func unavailable(err error) error {
	return &errs.Error{Code: errs.Unavailable, Message: "the store is unavailable", Err: err}
}

// Patterns for the allow list (the admin API).

// MaxAllowedAudiences bounds an identity's allow list.
const MaxAllowedAudiences = 100

// SetAudiences replaces identity id's allowed exchange audiences; only an
// admin may.
func (s *Service) SetAudiences(ctx context.Context, p identity.Principal, identityID string, patterns []string) ([]string, error) {
	if err := p.RequireAdmin("setting an identity's exchange audiences"); err != nil {
		return nil, err
	}
	if err := identity.CheckID("identityId", identityID); err != nil {
		return nil, err
	}
	if len(patterns) > MaxAllowedAudiences {
		return nil, errs.Validation(errs.FieldError{Path: "audiences", Message: "at most 100 entries"})
	}
	clean := []string{}
	seen := map[string]bool{}
	for i, a := range patterns {
		a = strings.TrimSpace(a)
		if a == "" || len(a) > MaxAudienceLen || strings.ContainsRune(a, 0) || !validText(a) {
			return nil, errs.Validation(errs.FieldError{Path: "audiences." + strconv.Itoa(i), Message: "must be a non-empty audience or glob of at most 512 printable characters"})
		}
		if !seen[a] {
			seen[a] = true
			clean = append(clean, a)
		}
	}
	err := s.store.SetExchangeAudiences(ctx, identityID, clean, s.now())
	s.audiences.clear() // committed or not, before the caller hears of it
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.New(errs.NotFound, "identity %s not found", identityID)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	s.audit.Record(ctx, store.AuditEvent{Type: "identity.exchange-audiences", Success: true, ActorID: p.ActorID(), IdentityID: identityID,
		Details: map[string]string{"audiences": strings.Join(clean, " ")}})
	return clean, nil
}

// Audiences returns identity id's allowed exchange audiences; a member or
// admin may read them.
func (s *Service) Audiences(ctx context.Context, p identity.Principal, identityID string) ([]string, error) {
	if err := p.RequireMember("reading an identity's exchange audiences"); err != nil {
		return nil, err
	}
	if err := identity.CheckID("identityId", identityID); err != nil {
		return nil, err
	}
	out, _, err := s.store.ExchangeAudiences(ctx, identityID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.New(errs.NotFound, "identity %s not found", identityID)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}
