// Package token issues, checks, renews and revokes access tokens. Both login
// methods and both front ends go through it, so the lifetime and use rules
// live in one place:
//
//   - A token's expiry is min(lastRenewal + ttl if ttl > 0, createdAt + maxTtl
//     if maxTtl > 0, createdAt + the server's hard age cap). maxTtl is the
//     budget for the token and all its renewals, anchored at the login.
//   - A periodic token (period > 0) has ttl = period and no max TTL: it lives
//     for as long as it is renewed within each period.
//   - A use-limited token spends one use per authenticated request, counted
//     atomically in the store; renewal spends none.
//   - Each use must come from an address inside the issuing auth method's
//     current trusted-IP list.
//   - Every failure to authenticate is an errs.Unauthenticated error (an
//     address outside the trusted IPs: errs.Forbidden) whose cause is one
//     of the sentinels below and whose message tells the client to log in
//     again; each front end picks its status and wording.
package token

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"maps"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clientip"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// DefaultMaxAge is the default hard cap on a non-periodic token's life.
const DefaultMaxAge = 90 * 24 * time.Hour

// Why a presented token is refused: the cause (errors.Is) of the domain
// error a check returns. Each front end words them its own way.
var (
	ErrMalformed     = errors.New("token: malformed")
	ErrInvalid       = errors.New("token: unknown")
	ErrExpired       = errors.New("token: expired")
	ErrRevoked       = errors.New("token: revoked")
	ErrMaxTTLReached = errors.New("token: max TTL reached")
	ErrUsesExhausted = errors.New("token: uses exhausted")
	ErrIPDenied      = errors.New("token: client address not trusted")
)

const reLogin = "; log in again to get a new token"

// Service is the token store's domain face.
type Service struct {
	store  store.Store
	now    func() time.Time
	maxAge time.Duration
	// audit records revocations; nil records nothing (SetAuditLog).
	audit *audit.Log
	// devRootHash is the hash of a development root token chosen by the
	// operator (`server --dev --dev-root-token`), which need not have our
	// token format. Set once before serving; nil outside --dev.
	devRootHash []byte
}

// NewService returns a Service. maxAge <= 0 means DefaultMaxAge.
func NewService(s store.Store, now func() time.Time, maxAge time.Duration) *Service {
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	return &Service{store: s, now: now, maxAge: maxAge}
}

// SetAuditLog makes the service record every revocation in l. Set once
// before serving.
func (s *Service) SetAuditLog(l *audit.Log) { s.audit = l }

func (s *Service) record(ctx context.Context, ev store.AuditEvent) {
	if s.audit != nil {
		s.audit.Record(ctx, ev)
	}
}

// IssueRequest describes a token to issue after a successful login.
type IssueRequest struct {
	IdentityID     string
	AuthMethodID   string
	AuthMethodType store.AuthMethodType
	ClientSecretID string
	Policy         store.TokenPolicy
	Metadata       map[string]string
	// ConsumeClientSecret: count one use of ClientSecretID with the token
	// (ErrLimitReached or ErrNotFound in the error chain when it cannot be
	// used, and nothing is stored). Needs Event.
	ConsumeClientSecret bool
	// Event, when set, is the login's audit event, written with the token
	// in one transaction (store.IssueAccessToken) as a success, with the
	// token's id as its "accessor" detail. The caller must not record it
	// again.
	Event *store.AuditEvent
	// Lockout, with Event, is the login's lockout record: the login is
	// refused (store.ErrLocked in the chain) when it is locked, and it is
	// deleted with the token otherwise (store.TokenIssue.Lockout).
	Lockout *store.LockoutKey
}

// Issued is a new token: the secret (shown to the caller once) and its record.
type Issued struct {
	Token  secret.Secret
	Record store.AccessToken
}

// ExpiresIn is the token's real remaining lifetime in whole seconds at now.
func ExpiresIn(rec store.AccessToken, now time.Time) int64 {
	if rec.ExpiresAt.IsZero() {
		return 0
	}
	d := rec.ExpiresAt.Sub(now)
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// Issue mints and stores a new token: with req.Event, together with the
// login's audit event (and the client-secret use) in one transaction.
func (s *Service) Issue(ctx context.Context, req IssueRequest) (Issued, error) {
	if req.ConsumeClientSecret && (req.Event == nil || req.ClientSecretID == "") {
		return Issued{}, errs.New(errs.Internal, "consuming a client secret needs its id and the login's audit event")
	}
	save := s.store.CreateAccessToken
	if req.Event != nil {
		save = func(ctx context.Context, rec store.AccessToken) error {
			ev := audit.Stamp(ctx, *req.Event, rec.CreatedAt)
			ev.Success, ev.Reason = true, ""
			ev.Details = maps.Clone(ev.Details)
			if ev.Details == nil {
				ev.Details = map[string]string{}
			}
			ev.Details["accessor"] = rec.ID
			w := store.TokenIssue{Token: rec, Event: ev, Lockout: req.Lockout}
			if req.ConsumeClientSecret {
				w.ClientSecretID = req.ClientSecretID
			}
			return s.store.IssueAccessToken(ctx, w)
		}
	}
	return s.mint(ctx, save, func(rec *store.AccessToken) {
		rec.IdentityID, rec.AuthMethodID = req.IdentityID, req.AuthMethodID
		rec.AuthMethodType, rec.ClientSecretID = req.AuthMethodType, req.ClientSecretID
		rec.TTL, rec.MaxTTL, rec.Period = req.Policy.TTL, req.Policy.MaxTTL, req.Policy.Period
		rec.NumUsesLimit = req.Policy.NumUsesLimit
		if req.Metadata != nil {
			rec.Metadata = req.Metadata
		}
		if rec.Period > 0 {
			rec.TTL, rec.MaxTTL = rec.Period, 0
		}
		rec.ExpiresAt = s.expiry(*rec, rec.CreatedAt, rec.TTL)
	})
}

// IssueRoot mints a root admin token, which never expires and is never
// limited. Only the server's bootstrap and `operator generate-root` call it.
func (s *Service) IssueRoot(ctx context.Context) (Issued, error) {
	return s.mint(ctx, s.store.CreateAccessToken, func(rec *store.AccessToken) { rec.AuthMethodType = store.AuthMethodRoot })
}

// IssueRootWithValue stores a root token with a value the operator chose,
// for development servers only: such a value need not be in Gatehouse's
// token format, so the check accepts it by its hash.
func (s *Service) IssueRootWithValue(ctx context.Context, value string) (store.AccessToken, error) {
	rec := s.newRecord(sha256.Sum256([]byte(value)))
	rec.AuthMethodType = store.AuthMethodRoot
	if err := s.store.CreateAccessToken(ctx, rec); err != nil {
		return store.AccessToken{}, errs.Wrap(err, "storing root token")
	}
	s.devRootHash = rec.Hash
	return rec, nil
}

// mint generates a token, lets fill set the record's fields and stores it
// with save.
func (s *Service) mint(ctx context.Context, save func(context.Context, store.AccessToken) error, fill func(*store.AccessToken)) (Issued, error) {
	tok, err := secret.Generate(secret.KindAccessToken)
	if err != nil {
		return Issued{}, errs.Wrap(err, "generating token")
	}
	rec := s.newRecord(tok.Hash())
	fill(&rec)
	if err := save(ctx, rec); err != nil {
		return Issued{}, errs.Wrap(err, "storing token")
	}
	return Issued{Token: tok, Record: rec}, nil
}

func (s *Service) newRecord(hash [32]byte) store.AccessToken {
	now := s.now()
	return store.AccessToken{
		ID:            uuid.NewString(),
		Hash:          hash[:],
		CreatedAt:     now,
		LastRenewedAt: now,
		Metadata:      map[string]string{},
	}
}

// expiry is the end of a token's life if renewed at renewedAt for ttl
// seconds (0 = no TTL).
func (s *Service) expiry(rec store.AccessToken, renewedAt time.Time, ttl int64) time.Time {
	if rec.AuthMethodType == store.AuthMethodRoot {
		return time.Time{}
	}
	if rec.Period > 0 {
		return renewedAt.Add(seconds(rec.Period))
	}
	exp := rec.CreatedAt.Add(s.maxAge)
	if ttl > 0 {
		exp = earliest(exp, renewedAt.Add(seconds(ttl)))
	}
	if rec.MaxTTL > 0 {
		exp = earliest(exp, maxTTLEnd(rec))
	}
	return exp
}

func maxTTLEnd(rec store.AccessToken) time.Time { return rec.CreatedAt.Add(seconds(rec.MaxTTL)) }

// Checked is a token that passed its check.
type Checked struct {
	Record store.AccessToken
	// IdentityRole is the role of the token's identity, read with the token
	// in one query; "" for a root token, and when the identity no longer
	// exists.
	IdentityRole store.Role
}

// Authenticate checks a presented token for a request from client and, for
// a use-limited token, spends one use.
func (s *Service) Authenticate(ctx context.Context, raw string, client netip.Addr) (Checked, error) {
	c, err := s.live(ctx, raw, client)
	if err != nil {
		return Checked{}, err
	}
	checked := Checked{Record: c.Token, IdentityRole: c.IdentityRole}
	if c.Token.NumUsesLimit == 0 {
		return checked, nil
	}
	checked.Record, err = s.store.UseAccessToken(ctx, c.Token.ID, s.now())
	switch {
	case errors.Is(err, store.ErrLimitReached):
		return Checked{}, usesExhausted()
	case errors.Is(err, store.ErrNotFound):
		return Checked{}, revoked()
	case err != nil:
		return Checked{}, unavailable(err)
	}
	return checked, nil
}

// Lookup checks a presented token like Authenticate but spends no use.
func (s *Service) Lookup(ctx context.Context, raw string, client netip.Addr) (store.AccessToken, error) {
	c, err := s.live(ctx, raw, client)
	return c.Token, err
}

// Renew extends a live token and returns its new record. increment (seconds,
// 0 = the token's own TTL) asks for a lifetime, capped by the max TTL and the
// hard age cap; a periodic token is always renewed for one period.
func (s *Service) Renew(ctx context.Context, raw string, client netip.Addr, increment int64) (store.AccessToken, error) {
	rec, err := s.Lookup(ctx, raw, client)
	if err != nil {
		return store.AccessToken{}, err
	}
	if rec.AuthMethodType == store.AuthMethodRoot {
		return rec, nil // root tokens never expire; nothing to extend
	}
	now := s.now()
	ttl := rec.TTL
	if increment > 0 && rec.Period == 0 {
		ttl = increment
	}
	exp := s.expiry(rec, now, ttl)
	if !exp.After(now) {
		return store.AccessToken{}, maxTTLReached()
	}
	rec, err = s.store.RenewAccessToken(ctx, rec.ID, now, exp)
	if errors.Is(err, store.ErrNotFound) {
		return store.AccessToken{}, revoked()
	}
	if err != nil {
		return store.AccessToken{}, unavailable(err)
	}
	return rec, nil
}

// RevokePresented revokes the presented token itself (a client logging
// out; the only way a root token is revoked through the APIs) and audits
// it (audit.CauseRevokeSelf).
func (s *Service) RevokePresented(ctx context.Context, raw string, client netip.Addr) (store.AccessToken, error) {
	rec, err := s.Lookup(ctx, raw, client)
	if err != nil {
		return store.AccessToken{}, err
	}
	if _, err := s.store.RevokeAccessTokens(ctx, store.TokenFilter{ID: rec.ID}, s.now()); err != nil {
		return store.AccessToken{}, unavailable(err)
	}
	actor := rec.IdentityID
	if rec.AuthMethodType == store.AuthMethodRoot {
		actor = "root"
	}
	s.record(ctx, audit.TokenRevoked(actor, audit.CauseRevokeSelf, rec))
	return rec, nil
}

// RevokeAs revokes the token rec (found by InspectAs or InspectAccessorAs)
// for the administrator p, and audits it with cause.
func (s *Service) RevokeAs(ctx context.Context, p identity.Principal, rec store.AccessToken, cause string) error {
	if err := mayTouch(p, rec); err != nil {
		return err
	}
	if _, err := s.store.RevokeAccessTokens(ctx, store.TokenFilter{ID: rec.ID}, s.now()); err != nil {
		return unavailable(err)
	}
	s.record(ctx, audit.TokenRevoked(p.ActorID(), cause, rec))
	return nil
}

// InspectAs is Inspect for the administrator p: a root token is Forbidden
// unless p is root (an identity may not look up or revoke it).
func (s *Service) InspectAs(ctx context.Context, p identity.Principal, raw string) (store.AccessToken, error) {
	rec, err := s.Inspect(ctx, raw)
	if err != nil {
		return store.AccessToken{}, err
	}
	return rec, mayTouch(p, rec)
}

// InspectAccessorAs is InspectAccessor for the administrator p, with
// InspectAs's rule for root tokens.
func (s *Service) InspectAccessorAs(ctx context.Context, p identity.Principal, id string) (store.AccessToken, error) {
	rec, err := s.InspectAccessor(ctx, id)
	if err != nil {
		return store.AccessToken{}, err
	}
	return rec, mayTouch(p, rec)
}

// mayTouch fails with Forbidden when p may not look up or revoke rec: a
// root token answers only to root (itself, another root token, or
// `operator generate-root`), never to an identity, whatever its role, as
// in Vault, where a non-root token cannot revoke a root token.
func mayTouch(p identity.Principal, rec store.AccessToken) error {
	if rec.AuthMethodType == store.AuthMethodRoot && !p.Root {
		return errs.New(errs.Forbidden, "permission denied: a root token can be looked up or revoked only with a root token")
	}
	return nil
}

// Get returns a token's record by id (accessor).
func (s *Service) Get(ctx context.Context, id string) (store.AccessToken, error) {
	rec, err := s.store.GetAccessToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.AccessToken{}, errs.New(errs.NotFound, "token not found")
	}
	if err != nil {
		return store.AccessToken{}, unavailable(err)
	}
	return rec, nil
}

// Purge deletes tokens that expired or were revoked more than grace ago.
func (s *Service) Purge(ctx context.Context, grace time.Duration) (int64, error) {
	return s.store.PurgeAccessTokens(ctx, s.now().Add(-grace))
}

// live parses and looks up a token and checks that it may be used now from
// client, without spending a use. The token, its method's trusted IPs and
// its identity's role come from one store query.
func (s *Service) live(ctx context.Context, raw string, client netip.Addr) (store.TokenCheck, error) {
	var h [32]byte
	tok, err := secret.Parse(secret.KindAccessToken, raw)
	switch {
	case err == nil:
		h = tok.Hash()
	case s.devRootHash != nil && subtle.ConstantTimeCompare(hashOf(raw), s.devRootHash) == 1:
		copy(h[:], s.devRootHash)
	default:
		// Rejected before any store access.
		return store.TokenCheck{}, errs.Because(errs.Unauthenticated, ErrMalformed, "the access token is malformed (not a Gatehouse access token or a damaged copy)"+reLogin)
	}
	c, err := s.store.GetTokenCheck(ctx, h[:])
	if errors.Is(err, store.ErrNotFound) {
		return store.TokenCheck{}, errs.Because(errs.Unauthenticated, ErrInvalid, "the access token is not valid"+reLogin)
	}
	if err != nil {
		return store.TokenCheck{}, unavailable(err)
	}
	rec := c.Token
	if err := checkState(rec, s.now()); err != nil {
		return store.TokenCheck{}, err
	}
	if rec.AuthMethodID != "" {
		if err := checkTrustedIPs(c, client); err != nil {
			return store.TokenCheck{}, err
		}
	}
	return c, nil
}

// checkState fails unless rec is live at now: not revoked, not expired,
// not used up.
func checkState(rec store.AccessToken, now time.Time) error {
	switch {
	case !rec.RevokedAt.IsZero():
		return revoked()
	case !rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt):
		if rec.MaxTTL > 0 && !now.Before(maxTTLEnd(rec)) {
			return maxTTLReached()
		}
		return errs.Because(errs.Unauthenticated, ErrExpired, "the access token has expired"+reLogin)
	case rec.NumUsesLimit > 0 && rec.NumUses >= rec.NumUsesLimit:
		return usesExhausted()
	}
	return nil
}

// Inspect returns the record of a live token given its value, for an
// administrator looking another token up: no use is spent and no address
// is checked. A malformed, unknown or dead token is NotFound.
func (s *Service) Inspect(ctx context.Context, raw string) (store.AccessToken, error) {
	tok, err := secret.Parse(secret.KindAccessToken, raw)
	if err != nil {
		return store.AccessToken{}, errs.New(errs.NotFound, "bad token")
	}
	h := tok.Hash()
	return s.inspect(s.store.GetAccessTokenByHash(ctx, h[:]))
}

// InspectAccessor is Inspect by accessor (the token's id).
func (s *Service) InspectAccessor(ctx context.Context, id string) (store.AccessToken, error) {
	return s.inspect(s.store.GetAccessToken(ctx, id))
}

func (s *Service) inspect(rec store.AccessToken, err error) (store.AccessToken, error) {
	if errors.Is(err, store.ErrNotFound) {
		return store.AccessToken{}, errs.New(errs.NotFound, "bad token")
	}
	if err != nil {
		return store.AccessToken{}, unavailable(err)
	}
	if checkState(rec, s.now()) != nil {
		return store.AccessToken{}, errs.New(errs.NotFound, "bad token")
	}
	return rec, nil
}

// checkTrustedIPs checks client against the current trusted-IP list of the
// token's auth method.
func checkTrustedIPs(c store.TokenCheck, client netip.Addr) error {
	if !c.AuthMethodFound {
		// The method was removed; its tokens die with it.
		return revoked()
	}
	ok, err := clientip.ListAllows(c.TrustedIPs, client)
	if err != nil {
		return errs.Wrap(err, "auth method %s has a bad trusted IP list", c.Token.AuthMethodID)
	}
	if ok {
		return nil
	}
	return errs.Because(errs.Forbidden, ErrIPDenied, "this access token may not be used from IP address %s", client)
}

func revoked() error {
	return errs.Because(errs.Unauthenticated, ErrRevoked, "the access token has been revoked"+reLogin)
}

func maxTTLReached() error {
	return errs.Because(errs.Unauthenticated, ErrMaxTTLReached, "the access token has reached its max TTL and cannot be renewed"+reLogin)
}

func usesExhausted() error {
	return errs.Because(errs.Unauthenticated, ErrUsesExhausted, "the access token has used up its allowed number of uses"+reLogin)
}

func unavailable(err error) error {
	return &errs.Error{Code: errs.Unavailable, Message: "the token store is unavailable", Err: err}
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func seconds(n int64) time.Duration { return time.Duration(n) * time.Second }

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
