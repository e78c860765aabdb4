package universalauth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clientip"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// ErrLockedOut is the cause of a login refused by a lockout in force.
var ErrLockedOut = errors.New("universal auth: locked out")

// LoginInput is one login attempt.
type LoginInput struct {
	ClientID     string
	ClientSecret secret.Secret // redacts itself if printed or logged
	ClientIP     netip.Addr
}

// Login exchanges a client ID and client secret for an access token. The
// checks run in this order, each on its own atomically:
//
//  1. the client ID names a Universal Auth method;
//  2. the caller's address is in the method's clientSecretTrustedIps
//     (errs.Forbidden);
//  3. no lockout is active for (client ID, caller's address)
//     (errs.TooManyRequests, ErrLockedOut);
//  4. the secret is an unrevoked, unexpired secret of that client ID;
//  5. one use of the secret is consumed, if it is below its limit (one
//     store statement, so concurrent logins never exceed the limit), in
//     the same transaction that stores the token and the login's audit
//     event (store.IssueAccessToken): a login writes all or nothing.
//
// Every other failure is one generic errs.Unauthenticated "invalid
// credentials", so that a caller learns nothing about which part was
// wrong. Every attempt is audited with its true reason; the secret never
// is.
//
// Lockout counts the failures that guessing produces (see failure); a
// successful login resets the counter of its (client ID, address). The
// threshold is a hard cap under parallel guesses: a failure is counted and
// the lock decided in one store operation, and a failure that finds the
// lock already set (by concurrent failures) is answered as locked out, not
// as a wrong secret; a right secret's token is written only if the key is
// not locked, in the transaction that resets the counter. So at most
// lockoutThreshold wrong secrets per window are ever given a verdict.
func (s *Service) Login(ctx context.Context, in LoginInput) (token.Issued, error) {
	ev := store.AuditEvent{Type: audit.TypeLogin, AuthMethod: string(store.AuthMethodUniversal),
		ClientIP: addrString(in.ClientIP), Details: map[string]string{"clientId": auditClientID(in.ClientID)}}
	issued, reason, err := s.login(ctx, in, &ev)
	if err == nil {
		return issued, nil // its event was stored with the token
	}
	ev.Success, ev.Reason = false, reason
	s.audit.Record(ctx, ev)
	return issued, err
}

// login runs the checks and returns the token, or the true reason of the
// failure (for the audit log) and the error for the caller.
func (s *Service) login(ctx context.Context, in LoginInput, ev *store.AuditEvent) (token.Issued, string, error) {
	m, err := s.store.GetAuthMethodByLookupKey(ctx, store.AuthMethodUniversal, strings.TrimSpace(in.ClientID))
	if errors.Is(err, store.ErrNotFound) {
		return token.Issued{}, "unknown client ID", invalidCredentials()
	}
	if err != nil {
		return token.Issued{}, "store error: " + err.Error(), unavailable(err)
	}
	ev.IdentityID = m.IdentityID
	cfg, err := decodeConfig(m)
	if err != nil {
		return token.Issued{}, err.Error(), err
	}

	if !allows(cfg.ClientSecretTrustedIPs, in.ClientIP) {
		return token.Issued{}, fmt.Sprintf("address %s is not in clientSecretTrustedIps", addrString(in.ClientIP)),
			errs.New(errs.Forbidden, "You are not allowed to access this resource from the current IP address (%s)", addrString(in.ClientIP))
	}

	now := s.now()
	key := store.LockoutKey{AuthMethodID: m.ID, ClientIP: addrString(in.ClientIP)}
	if cfg.Lockout.Enabled {
		l, err := s.store.GetLockout(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return token.Issued{}, "store error: " + err.Error(), unavailable(err)
		case l.Active(now):
			return token.Issued{}, lockedReason(l), lockedOut(l, now)
		}
	}

	cs, fail, err := s.checkSecret(ctx, m, in.ClientSecret, now)
	if err != nil {
		return token.Issued{}, "store error: " + err.Error(), unavailable(err)
	}
	if fail.reason != "" {
		return s.refuse(ctx, cfg, key, now, fail)
	}
	ev.Details["clientSecretId"] = cs.ID

	req := token.IssueRequest{
		IdentityID: m.IdentityID, AuthMethodID: m.ID, AuthMethodType: store.AuthMethodUniversal,
		ClientSecretID: cs.ID, Policy: m.TokenPolicy, ConsumeClientSecret: true, Event: ev,
	}
	if cfg.Lockout.Enabled {
		// Refused if concurrent failures locked the key meanwhile;
		// otherwise the success resets its counter, with the token.
		req.Lockout = &key
	}
	issued, err := s.tokens.Issue(ctx, req)
	if errors.Is(err, store.ErrLocked) {
		l, lerr := s.store.GetLockout(ctx, key)
		if lerr != nil {
			l = store.Lockout{LockedUntil: now.Add(time.Duration(cfg.Lockout.DurationSeconds) * time.Second), FailedAttempts: cfg.Lockout.Threshold}
		}
		return token.Issued{}, lockedReason(l) + " (locked while its secret was checked)", lockedOut(l, now)
	}
	if err != nil {
		fail := consumeFailure(cs, err)
		if fail.reason == "" {
			return token.Issued{}, "issuing the token: " + err.Error(), err
		}
		return s.refuse(ctx, cfg, key, now, fail)
	}
	return issued, "", nil
}

// refuse answers a refused secret: a failure that counts towards lockout
// is recorded, and when concurrent failures locked the key before it
// could be counted, it is answered as locked out, so that no more than
// the threshold of failures per window ever get a verdict on their
// secret. It returns the audit reason and the error.
func (s *Service) refuse(ctx context.Context, cfg config, key store.LockoutKey, now time.Time, fail failure) (token.Issued, string, error) {
	if !fail.counts || !cfg.Lockout.Enabled {
		return token.Issued{}, fail.reason, invalidCredentials()
	}
	l, counted, err := s.store.RecordLoginFailure(ctx, key, now, cfg.Lockout.policy())
	switch {
	case err != nil:
		return token.Issued{}, fail.reason + "; recording the failure for lockout failed: " + err.Error(), invalidCredentials()
	case !counted:
		// The verdict on the secret is not given, nor recorded.
		return token.Issued{}, lockedReason(l) + " (locked while its secret was checked)", lockedOut(l, now)
	case l.Active(now):
		return token.Issued{}, fmt.Sprintf("%s; failure %d of %d: locked out until %s", fail.reason, l.FailedAttempts, cfg.Lockout.Threshold,
			l.LockedUntil.UTC().Format(time.RFC3339)), invalidCredentials()
	}
	return token.Issued{}, fmt.Sprintf("%s; failure %d of %d", fail.reason, l.FailedAttempts, cfg.Lockout.Threshold), invalidCredentials()
}

func lockedReason(l store.Lockout) string {
	return fmt.Sprintf("locked out until %s after %d failed logins", l.LockedUntil.UTC().Format(time.RFC3339), l.FailedAttempts)
}

// consumeFailure is why a secret's use could not be counted when the token
// was stored: used up (raced to its limit) or revoked since it was read.
// Any other error is not the secret's fault (zero failure).
func consumeFailure(cs store.ClientSecret, err error) failure {
	switch {
	case errors.Is(err, store.ErrLimitReached):
		return usedUp(cs)
	case errors.Is(err, store.ErrNotFound):
		return guess(fmt.Sprintf("client secret %s is revoked", cs.ID))
	}
	return failure{}
}

func usedUp(cs store.ClientSecret) failure {
	return failure{reason: fmt.Sprintf("client secret %s has used all of its %d uses", cs.ID, cs.NumUsesLimit)}
}

// failure is why a presented secret was refused. counts says whether it
// counts towards lockout: a wrong, malformed or revoked secret, or one of
// another client, does (that is what guessing produces); an expired or
// used-up secret does not, since whoever sent it held a real secret.
type failure struct {
	reason string
	counts bool
}

func guess(reason string) failure { return failure{reason: reason, counts: true} }

// checkSecret finds the presented secret among the method's live secrets.
// It returns why the secret was refused, or an error when the store
// failed. Its use is counted later, atomically, with the token
// (consumeFailure); a secret already used up is refused here.
func (s *Service) checkSecret(ctx context.Context, m store.AuthMethod, presented secret.Secret, now time.Time) (store.ClientSecret, failure, error) {
	sec, err := secret.Parse(secret.KindClientSecret, strings.TrimSpace(presented.Reveal()))
	if err != nil {
		return store.ClientSecret{}, guess("malformed client secret (" + err.Error() + ")"), nil
	}
	// The secret is found by its SHA-256 hash. The index lookup compares
	// hashes, not secrets: its timing could at most tell how much of a
	// digest matches, which says nothing about a 256-bit preimage. The
	// constant-time comparison after it checks the row against the hash
	// without relying on how the store matched it.
	h := sec.Hash()
	cs, err := s.store.GetClientSecretByHash(ctx, h[:])
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.ClientSecret{}, guess("no client secret matches"), nil
	case err != nil:
		return store.ClientSecret{}, failure{}, err
	case !secret.Equal(cs.Hash, h[:]):
		return store.ClientSecret{}, guess("no client secret matches"), nil
	case cs.AuthMethodID != m.ID:
		return store.ClientSecret{}, guess("the client secret belongs to another client ID"), nil
	case !cs.RevokedAt.IsZero():
		return store.ClientSecret{}, guess(fmt.Sprintf("client secret %s is revoked", cs.ID)), nil
	}
	if expires := cs.CreatedAt.Add(time.Duration(cs.TTL) * time.Second); cs.TTL > 0 && !now.Before(expires) {
		return store.ClientSecret{}, failure{reason: fmt.Sprintf("client secret %s expired at %s", cs.ID, expires.UTC().Format(time.RFC3339))}, nil
	}
	if cs.NumUsesLimit > 0 && cs.NumUses >= cs.NumUsesLimit {
		return store.ClientSecret{}, usedUp(cs), nil
	}
	return cs, failure{}, nil
}

// ClearLockouts deletes every lockout record of the identity's Universal
// Auth method and returns how many there were.
func (s *Service) ClearLockouts(ctx context.Context, p identity.Principal, identityID string) (int64, error) {
	if err := p.RequireAdmin("clearing lockouts"); err != nil {
		return 0, err
	}
	m, err := s.method(ctx, identityID)
	if err != nil {
		return 0, err
	}
	n, err := s.store.ClearLockouts(ctx, m.ID)
	if err != nil {
		return 0, storeError(err)
	}
	s.audit.Record(ctx, store.AuditEvent{Type: audit.TypeLockoutClear, Success: true, ActorID: p.ActorID(),
		IdentityID: identityID, AuthMethod: string(store.AuthMethodUniversal),
		Details: map[string]string{"clientId": m.LookupKey, "deleted": fmt.Sprint(n)}})
	return n, nil
}

// ActiveLockouts returns the lockouts in force on the identity's Universal
// Auth method (none when it has no such method).
func (s *Service) ActiveLockouts(ctx context.Context, p identity.Principal, identityID string) ([]store.Lockout, error) {
	if err := p.RequireMember("reading lockouts"); err != nil {
		return nil, err
	}
	if err := identity.CheckID("identityId", identityID); err != nil {
		return nil, err
	}
	m, err := s.store.GetAuthMethodByIdentity(ctx, identityID, store.AuthMethodUniversal)
	if errors.Is(err, store.ErrNotFound) {
		return []store.Lockout{}, nil
	}
	if err != nil {
		return nil, storeError(err)
	}
	ls, err := s.store.ListActiveLockouts(ctx, m.ID, s.now())
	if err != nil {
		return nil, storeError(err)
	}
	return ls, nil
}

func allows(cidrs []string, addr netip.Addr) bool {
	ok, err := clientip.ListAllows(cidrs, addr)
	return ok && err == nil // a damaged list allows nobody
}

func invalidCredentials() error {
	return errs.New(errs.Unauthenticated, "invalid credentials")
}

func lockedOut(l store.Lockout, now time.Time) error {
	wait := int64((l.LockedUntil.Sub(now) + time.Second - 1) / time.Second)
	return errs.Because(errs.TooManyRequests, ErrLockedOut,
		"This client ID is temporarily locked out from your address after %d failed logins; try again in %d seconds", l.FailedAttempts, wait)
}

func unavailable(err error) error {
	return &errs.Error{Code: errs.Unavailable, Message: "the store is unavailable", Err: err}
}

// auditClientID is the client ID as the audit log records it: a client ID
// is not a secret, but whatever a caller typed into the field might be (a
// client secret pasted in the wrong place), so only UUIDs are recorded.
func auditClientID(s string) string {
	s = strings.TrimSpace(s)
	if identity.CheckID("clientId", s) != nil {
		return "(not a UUID)"
	}
	return s
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	return a.String()
}
