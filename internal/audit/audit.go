// Package audit writes the audit log: every authentication attempt and
// every change to identities and auth methods. Events never hold secrets.
package audit

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Event types.
const (
	TypeLogin              = "login"
	TypeIdentityCreate     = "identity.create"
	TypeIdentityUpdate     = "identity.update"
	TypeIdentityDelete     = "identity.delete"
	TypeAuthMethodCreate   = "auth-method.create"
	TypeAuthMethodUpdate   = "auth-method.update"
	TypeAuthMethodDelete   = "auth-method.delete"
	TypeClientSecretCreate = "client-secret.create"
	TypeClientSecretRevoke = "client-secret.revoke"
	TypeLockoutClear       = "lockout.clear"
	TypeTokenRevoke        = "token.revoke"
	TypeTokenRenew         = "token.renew"
	TypeRootTokenCreate    = "root-token.create"
	TypeMountCreate        = "mount.create"
	TypeMountDelete        = "mount.delete"
	TypeMountConfigure     = "mount.configure"
	// TypeAuthMethodCheck: an administrator tested a Kubernetes Auth
	// configuration's connection (no change).
	TypeAuthMethodCheck = "auth-method.check"
	// TypeConsoleSignIn and TypeConsoleSignOut: a web console session
	// started or ended (Details "cause": "sign-out", or "token-refused"
	// when the API stopped accepting its token).
	TypeConsoleSignIn  = "console.sign-in"
	TypeConsoleSignOut = "console.sign-out"
)

type requestIDKey struct{}

// ContextWithRequestID returns ctx carrying the request id.
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Log appends events to the store's audit table.
type Log struct {
	store  store.Store
	now    func() time.Time
	logger *slog.Logger
}

// New returns a Log writing to s.
func New(s store.Store, now func() time.Time, logger *slog.Logger) *Log {
	return &Log{store: s, now: now, logger: logger}
}

// Stamp fills in what an event leaves empty: a new id, the time now, and
// the request id of ctx. Record stamps every event; a login stamps its own,
// which the store writes with the token (store.TokenIssue).
func Stamp(ctx context.Context, e store.AuditEvent, now time.Time) store.AuditEvent {
	if e.ID == "" {
		e.ID = NewEventID()
	}
	if e.Time.IsZero() {
		e.Time = now
	}
	if e.RequestID == "" {
		e.RequestID = RequestID(ctx)
	}
	return e
}

// NewEventID returns a new event id: a time-ordered UUID (version 7: a
// millisecond timestamp, then random bits). The stores keep event ids in a
// UNIQUE index; ids that grow with time are added at the index's end,
// where a random (version 4) id landed on a random page of it, one more
// page for each event of a commit to write (BenchmarkAppendAuditEvent:
// half the time per event). The timestamp tells nothing the event's own
// time does not.
func NewEventID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// Record fills in the event's id, time and request id and appends it. A
// failure to write is logged, not returned: the audited action has already
// happened and its caller must still get its answer.
func (l *Log) Record(ctx context.Context, e store.AuditEvent) {
	e = Stamp(ctx, e, l.now())
	// Write even if the request's context was cancelled mid-way: the event
	// describes something that happened.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.store.AppendAuditEvent(ctx, e); err != nil {
		level := slog.LevelError
		if errors.Is(err, store.ErrUnavailable) {
			level = slog.LevelDebug // the outage is logged once (internal/store/bounded)
		}
		l.logger.Log(ctx, level, "audit event not written", "type", e.Type, "request_id", e.RequestID, "err", err)
	}
}
