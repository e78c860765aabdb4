package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ConsoleSession is a signed-in session of the web console
// (internal/console), kept in the store so that every replica sharing it
// knows the session. The browser holds only a random cookie value; the
// store keeps its SHA-256 hash, never the value itself.
type ConsoleSession struct {
	// IDHash is the SHA-256 of the session cookie's value; unique.
	IDHash []byte
	// SealedToken is the signed-in API token, sealed by the caller with
	// the server key. Never empty.
	SealedToken []byte
	Name        string // the identity's name, or "root"
	IdentityID  string // "" for a root token
	Admin       bool   // may write
	Root        bool
	CreatedAt   time.Time
	ExpiresAt   time.Time // the session is dead from then on
}

// Limits of a ConsoleSession, the same in every store.
const (
	// MaxConsoleSessionText bounds Name and IdentityID, in bytes.
	MaxConsoleSessionText = 1024
	// MaxConsoleSessionSealed bounds SealedToken, in bytes.
	MaxConsoleSessionSealed = 8192
)

// ConsoleSessionStore keeps the web console's sessions.
type ConsoleSessionStore interface {
	// CreateConsoleSession stores s. In the same transaction it deletes
	// every session expired at s.CreatedAt (ExpiresAt at or before it) and,
	// when s.IdentityID already has max or more live sessions (root
	// tokens' sessions, IdentityID "", count as one identity), the oldest
	// of them (by CreatedAt), so that the identity keeps at most max
	// sessions with s; concurrent creates from several processes keep
	// that bound too. ErrAlreadyExists on a taken IDHash; ErrInvalid on a
	// session CheckConsoleSession refuses or a max below 1.
	CreateConsoleSession(ctx context.Context, s ConsoleSession, max int) error
	// GetConsoleSession returns the session with that IDHash live at now:
	// ErrNotFound when there is none or it expired (ExpiresAt at or before
	// now); ErrInvalid when idHash is not a SHA-256 (32 bytes) or now is
	// zero. Times are kept to the microsecond (truncated), as every time.
	GetConsoleSession(ctx context.Context, idHash []byte, now time.Time) (ConsoleSession, error)
	// DeleteConsoleSession deletes the session (sign-out); none is not an
	// error. ErrInvalid when idHash is not 32 bytes.
	DeleteConsoleSession(ctx context.Context, idHash []byte) error
	// PurgeConsoleSessions deletes the sessions expired at now and returns
	// how many (ErrInvalid when now is zero).
	PurgeConsoleSessions(ctx context.Context, now time.Time) (int64, error)
}

// CheckConsoleSession is what every store refuses in a session it is asked
// to create (wrapped ErrInvalid): an IDHash that is not 32 bytes, an empty
// or oversized SealedToken, Name or IdentityID over MaxConsoleSessionText
// bytes or holding a NUL or invalid UTF-8, a zero CreatedAt, an ExpiresAt
// not after CreatedAt, and a max below 1.
func CheckConsoleSession(s ConsoleSession, max int) error {
	var why string
	switch {
	case len(s.IDHash) != sha256.Size:
		why = "the id hash is not 32 bytes"
	case len(s.SealedToken) == 0 || len(s.SealedToken) > MaxConsoleSessionSealed:
		why = fmt.Sprintf("the sealed token is empty or over %d bytes", MaxConsoleSessionSealed)
	case len(s.Name) > MaxConsoleSessionText || len(s.IdentityID) > MaxConsoleSessionText:
		why = fmt.Sprintf("name or identity id over %d bytes", MaxConsoleSessionText)
	case !cleanText(s.Name) || !cleanText(s.IdentityID):
		why = "NUL character or invalid UTF-8 in text"
	case s.CreatedAt.IsZero() || !s.ExpiresAt.After(s.CreatedAt):
		why = "no creation time, or it does not expire after it"
	case max < 1:
		why = "a session limit below 1"
	default:
		return nil
	}
	return fmt.Errorf("console session: %w: %s", ErrInvalid, why)
}

// CheckConsoleSessionLookup refuses (ErrInvalid) an id hash that is not a
// SHA-256, and a zero now (for DeleteConsoleSession, pass any non-zero
// time).
func CheckConsoleSessionLookup(idHash []byte, now time.Time) error {
	switch {
	case len(idHash) != sha256.Size:
		return fmt.Errorf("console session: %w: the id hash is not 32 bytes", ErrInvalid)
	case now.IsZero():
		return fmt.Errorf("console session: %w: zero time", ErrInvalid)
	}
	return nil
}

func cleanText(s string) bool { return !strings.ContainsRune(s, 0) && utf8.ValidString(s) }
