// Package universalauth is Universal Auth: an identity logs in with a
// client ID (a UUID made when the method is attached; not a secret) and one
// of its client secrets, and gets an access token.
//
// The method's token policy (TTL, max TTL, period, use limit, trusted IPs
// for the tokens) lives in store.AuthMethod.TokenPolicy and is validated by
// package authmethod like every login method's; what only Universal Auth
// has (the addresses that may log in with a client secret, the lockout
// settings) is the method's Config document, owned by this package.
//
// Client secrets are credentials of package secret (KindClientSecret:
// 256 random bits, a kind prefix and a checksum); the store keeps only
// their SHA-256 hash and a short display prefix.
//
// Lockout counts failed logins per (client ID, source address), in the
// store, so it holds across several server processes; see login.go.
package universalauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authmethod"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Limits and defaults of the Infisical contract.
const (
	DefaultLockoutThreshold           = 3
	DefaultLockoutDurationSeconds     = 300
	DefaultLockoutCounterResetSeconds = 30

	MinLockoutThreshold, MaxLockoutThreshold                     = 1, 30
	MinLockoutDurationSeconds, MaxLockoutDurationSeconds         = 30, 86400
	MinLockoutCounterResetSeconds, MaxLockoutCounterResetSeconds = 5, 3600
)

// Field names in the Infisical API.
const (
	FieldClientSecretTrustedIPs     = "clientSecretTrustedIps"
	FieldLockoutEnabled             = "lockoutEnabled"
	FieldLockoutThreshold           = "lockoutThreshold"
	FieldLockoutDurationSeconds     = "lockoutDurationSeconds"
	FieldLockoutCounterResetSeconds = "lockoutCounterResetSeconds"
)

// Service manages Universal Auth methods, their client secrets and logins.
type Service struct {
	store  store.Store
	tokens *token.Service
	audit  *audit.Log
	now    func() time.Time
}

// NewService returns a Service.
func NewService(s store.Store, tokens *token.Service, a *audit.Log, now func() time.Time) *Service {
	return &Service{store: s, tokens: tokens, audit: a, now: now}
}

// LockoutSettings say when failed logins lock a (client ID, address) out.
type LockoutSettings struct {
	Enabled             bool  `json:"enabled"`
	Threshold           int64 `json:"threshold"`
	DurationSeconds     int64 `json:"durationSeconds"`
	CounterResetSeconds int64 `json:"counterResetSeconds"`
}

func (l LockoutSettings) policy() store.LockoutPolicy {
	return store.LockoutPolicy{
		Threshold: l.Threshold,
		Window:    time.Duration(l.CounterResetSeconds) * time.Second,
		Duration:  time.Duration(l.DurationSeconds) * time.Second,
	}
}

// config is the method's Config document.
type config struct {
	// ClientSecretTrustedIPs are canonical CIDRs, as in TokenPolicy.
	ClientSecretTrustedIPs []string        `json:"clientSecretTrustedIps"`
	Lockout                LockoutSettings `json:"lockout"`
}

func defaultConfig() config {
	return config{
		ClientSecretTrustedIPs: authmethod.DefaultTrustedIPs(),
		Lockout: LockoutSettings{
			Enabled:             true,
			Threshold:           DefaultLockoutThreshold,
			DurationSeconds:     DefaultLockoutDurationSeconds,
			CounterResetSeconds: DefaultLockoutCounterResetSeconds,
		},
	}
}

func decodeConfig(m store.AuthMethod) (config, error) {
	var c config
	if err := json.Unmarshal(m.Config, &c); err != nil {
		return config{}, errs.Wrap(err, "auth method %s has an unreadable Universal Auth config", m.ID)
	}
	return c, nil
}

func encodeConfig(c config) (json.RawMessage, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, errs.Wrap(err, "encoding Universal Auth config")
	}
	return b, nil
}

// Method is a Universal Auth method as the API shows it.
type Method struct {
	ID                     string
	ClientID               string
	IdentityID             string
	ClientSecretTrustedIPs []string
	TokenPolicy            store.TokenPolicy
	Lockout                LockoutSettings
	CreatedAt, UpdatedAt   time.Time
}

func toMethod(m store.AuthMethod) (Method, error) {
	c, err := decodeConfig(m)
	if err != nil {
		return Method{}, err
	}
	return Method{
		ID: m.ID, ClientID: m.LookupKey, IdentityID: m.IdentityID,
		ClientSecretTrustedIPs: c.ClientSecretTrustedIPs, TokenPolicy: m.TokenPolicy, Lockout: c.Lockout,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}, nil
}

// Input is the settings of an attach or update request; nil fields are
// absent (attach: the default; update: unchanged).
type Input struct {
	Token                      authmethod.PolicyInput
	ClientSecretTrustedIPs     *[]authmethod.TrustedIP
	LockoutEnabled             *bool
	LockoutThreshold           *int64
	LockoutDurationSeconds     *int64
	LockoutCounterResetSeconds *int64
}

// applyConfig sets the present Universal Auth fields on c and returns the
// schema failures.
func (in Input) applyConfig(c *config) []errs.FieldError {
	var fields []errs.FieldError
	if in.ClientSecretTrustedIPs != nil {
		ips, err := authmethod.ParseTrustedIPList(FieldClientSecretTrustedIPs, *in.ClientSecretTrustedIPs)
		fields = append(fields, fieldErrors(err)...)
		c.ClientSecretTrustedIPs = ips
	}
	if in.LockoutEnabled != nil {
		c.Lockout.Enabled = *in.LockoutEnabled
	}
	setRange := func(dst *int64, v *int64, field string, lo, hi int64) {
		if v == nil {
			return
		}
		if *v < lo || *v > hi {
			fields = append(fields, errs.FieldError{Path: field, Message: rangeMessage(lo, hi)})
			return
		}
		*dst = *v
	}
	setRange(&c.Lockout.Threshold, in.LockoutThreshold, FieldLockoutThreshold, MinLockoutThreshold, MaxLockoutThreshold)
	setRange(&c.Lockout.DurationSeconds, in.LockoutDurationSeconds, FieldLockoutDurationSeconds, MinLockoutDurationSeconds, MaxLockoutDurationSeconds)
	setRange(&c.Lockout.CounterResetSeconds, in.LockoutCounterResetSeconds, FieldLockoutCounterResetSeconds, MinLockoutCounterResetSeconds, MaxLockoutCounterResetSeconds)
	return fields
}

// settle merges the outcome of the token-policy validation (policyErr)
// with the config's schema failures: every schema failure (422) is
// reported together, and only then a rule across fields (400).
func settle(policyErr error, configFields []errs.FieldError) error {
	fields := append(fieldErrors(policyErr), configFields...)
	if len(fields) > 0 {
		return errs.Validation(fields...)
	}
	return policyErr
}

// fieldErrors returns the field errors of a validation error, nil for
// anything else.
func fieldErrors(err error) []errs.FieldError {
	if err != nil && errs.Is(err, errs.Invalid) {
		return errs.As(err).Fields
	}
	return nil
}

// Attach attaches Universal Auth to an identity, with a new client ID.
func (s *Service) Attach(ctx context.Context, p identity.Principal, identityID string, in Input) (Method, error) {
	if err := p.RequireAdmin("attaching Universal Auth"); err != nil {
		return Method{}, err
	}
	if err := identity.CheckID("identityId", identityID); err != nil {
		return Method{}, err
	}
	cfg := defaultConfig()
	policy, perr := in.Token.Create()
	if err := settle(perr, in.applyConfig(&cfg)); err != nil {
		return Method{}, err
	}
	if _, err := s.store.GetIdentity(ctx, identityID); err != nil {
		return Method{}, identity.NotFound(err, identityID)
	}
	raw, err := encodeConfig(cfg)
	if err != nil {
		return Method{}, err
	}
	now := s.now()
	m := store.AuthMethod{
		ID: uuid.NewString(), IdentityID: identityID, Type: store.AuthMethodUniversal,
		LookupKey: uuid.NewString(), Config: raw, TokenPolicy: policy, CreatedAt: now, UpdatedAt: now,
	}
	switch err := s.store.CreateAuthMethod(ctx, m); {
	case errors.Is(err, store.ErrAlreadyExists):
		return Method{}, errs.New(errs.BadRequest, "Failed to add Universal Auth to already configured identity")
	case err != nil:
		return Method{}, identity.NotFound(err, identityID)
	}
	s.audit.Record(ctx, s.changeEvent(audit.TypeAuthMethodCreate, p, m))
	return toMethod(m)
}

// Get returns an identity's Universal Auth method.
func (s *Service) Get(ctx context.Context, p identity.Principal, identityID string) (Method, error) {
	if err := p.RequireMember("reading Universal Auth"); err != nil {
		return Method{}, err
	}
	m, err := s.method(ctx, identityID)
	if err != nil {
		return Method{}, err
	}
	return toMethod(m)
}

// Update changes the settings that in sets. The current settings are read,
// checked and written in one store transaction.
func (s *Service) Update(ctx context.Context, p identity.Principal, identityID string, in Input) (Method, error) {
	if err := p.RequireAdmin("updating Universal Auth"); err != nil {
		return Method{}, err
	}
	cur, err := s.method(ctx, identityID)
	if err != nil {
		return Method{}, err
	}
	now := s.now()
	m, err := s.store.UpdateAuthMethod(ctx, cur.ID, func(m *store.AuthMethod) error {
		cfg, err := decodeConfig(*m)
		if err != nil {
			return err
		}
		policy, perr := in.Token.Update(m.TokenPolicy)
		if err := settle(perr, in.applyConfig(&cfg)); err != nil {
			return err
		}
		if m.Config, err = encodeConfig(cfg); err != nil {
			return err
		}
		m.TokenPolicy, m.UpdatedAt = policy, now
		return nil
	})
	if err != nil {
		return Method{}, notAttached(err, identityID)
	}
	s.audit.Record(ctx, s.changeEvent(audit.TypeAuthMethodUpdate, p, m))
	return toMethod(m)
}

// Revoke detaches Universal Auth: the method, its client secrets, its
// lockout records and every token it issued go, in one store transaction.
// It returns the method as it was.
func (s *Service) Revoke(ctx context.Context, p identity.Principal, identityID string) (Method, error) {
	if err := p.RequireAdmin("revoking Universal Auth"); err != nil {
		return Method{}, err
	}
	m, err := s.method(ctx, identityID)
	if err != nil {
		return Method{}, err
	}
	view, err := toMethod(m)
	if err != nil {
		return Method{}, err
	}
	if err := s.store.DeleteAuthMethod(ctx, m.ID, s.now()); err != nil {
		return Method{}, notAttached(err, identityID)
	}
	s.audit.Record(ctx, s.changeEvent(audit.TypeAuthMethodDelete, p, m))
	s.audit.Record(ctx, audit.TokensRevoked(p.ActorID(), audit.CauseAuthMethodDelete, identityID,
		map[string]string{"authMethodId": m.ID, "authMethod": string(store.AuthMethodUniversal)}))
	return view, nil
}

// method returns the identity's Universal Auth method: 404 when the
// identity does not exist or has none.
func (s *Service) method(ctx context.Context, identityID string) (store.AuthMethod, error) {
	if err := identity.CheckID("identityId", identityID); err != nil {
		return store.AuthMethod{}, err
	}
	m, err := s.store.GetAuthMethodByIdentity(ctx, identityID, store.AuthMethodUniversal)
	if errors.Is(err, store.ErrNotFound) {
		if _, ierr := s.store.GetIdentity(ctx, identityID); ierr != nil {
			return store.AuthMethod{}, identity.NotFound(ierr, identityID)
		}
	}
	if err != nil {
		return store.AuthMethod{}, notAttached(err, identityID)
	}
	return m, nil
}

func (s *Service) changeEvent(typ string, p identity.Principal, m store.AuthMethod) store.AuditEvent {
	return store.AuditEvent{Type: typ, Success: true, ActorID: p.ActorID(), IdentityID: m.IdentityID,
		AuthMethod: string(store.AuthMethodUniversal), Details: map[string]string{"clientId": m.LookupKey}}
}

func notAttached(err error, identityID string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errs.New(errs.NotFound, "Universal Auth is not attached to identity %s", identityID)
	}
	return storeError(err)
}

// storeError passes domain errors (an updater's validation) through and
// turns anything else into an internal error.
func storeError(err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	return errs.Wrap(err, "universal auth store")
}

func rangeMessage(lo, hi int64) string {
	return fmt.Sprintf("must be an integer from %d to %d", lo, hi)
}
