package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// sessionCookie names the console's session cookie.
const sessionCookie = "gatehouse_session"

// maxSessionsPerIdentity bounds the sessions one identity (or all root
// tokens together) keeps in the store; signing in once more drops its
// oldest session.
const maxSessionsPerIdentity = 100

// sessionValueLen is the length of a session cookie's value: 32 random
// bytes, base64url without padding.
const sessionValueLen = 43

// SessionStore keeps the console's sessions: the server's store, shared by
// every replica, so that a session started on one is known to all.
type SessionStore interface {
	CreateConsoleSession(ctx context.Context, s store.ConsoleSession, max int) error
	GetConsoleSession(ctx context.Context, idHash []byte, now time.Time) (store.ConsoleSession, error)
	DeleteConsoleSession(ctx context.Context, idHash []byte) error
}

// Token is a signed-in API token; it never prints.
type Token string

// LogValue redacts the token.
func (Token) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// String redacts the token (use string(t) to send it).
func (Token) String() string { return "REDACTED" }

// Session is a signed-in console user.
type Session struct {
	Token      Token
	CSRF       string // derived from the session id (csrfFor)
	Name       string // identity name, or "root"
	IdentityID string // "" for a root token
	Admin      bool   // may write
	Root       bool

	hash [sha256.Size]byte // SHA-256 of the cookie value: the store's key
}

// randomString is n random bytes, base64url.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// sealAAD binds a sealed token to its session: copied to another row, it
// does not open.
func sealAAD(hash [sha256.Size]byte) []byte {
	return append([]byte("gatehouse console session "), hash[:]...)
}

// mac is HMAC-SHA256 under key of the session hash and msg.
func mac(key []byte, hash [sha256.Size]byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(hash[:])
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// csrfFor is a session's CSRF token: an HMAC of its id under a key derived
// from the server key, so every replica computes the same one and none
// needs to be stored.
func (c *Console) csrfFor(hash [sha256.Size]byte) string {
	return base64.RawURLEncoding.EncodeToString(mac(c.csrfKey, hash, ""))
}

// startSession stores s (its token sealed) and sets its cookie.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, s *Session) error {
	value := randomString(32)
	s.hash = sha256.Sum256([]byte(value))
	s.CSRF = c.csrfFor(s.hash)
	sealed, err := c.cfg.Key.Seal([]byte(s.Token), sealAAD(s.hash))
	if err != nil {
		return err
	}
	now := c.cfg.Now()
	err = c.cfg.Sessions.CreateConsoleSession(r.Context(), store.ConsoleSession{
		IDHash: s.hash[:], SealedToken: sealed, Name: s.Name, IdentityID: s.IdentityID, Admin: s.Admin, Root: s.Root,
		CreatedAt: now, ExpiresAt: now.Add(c.cfg.SessionTTL),
	}, maxSessionsPerIdentity)
	if err != nil {
		return err
	}
	http.SetCookie(w, c.cookie(sessionCookie, value, int(c.cfg.SessionTTL/time.Second)))
	return nil
}

// session is the request's live session: nil without a cookie, or when
// the store knows no live session for it (signed out, expired, never
// existed); an error only when the store could not answer.
func (c *Console) session(r *http.Request) (*Session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || len(ck.Value) != sessionValueLen {
		return nil, nil
	}
	hash := sha256.Sum256([]byte(ck.Value))
	rec, err := c.cfg.Sessions.GetConsoleSession(r.Context(), hash[:], c.cfg.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("console: reading the session: %w", err)
	}
	tok, err := c.cfg.Key.Open(rec.SealedToken, sealAAD(hash))
	if err != nil {
		// Sealed under another key (replicas with different keys) or
		// tampered with: the session is of no use.
		c.cfg.Logger.WarnContext(r.Context(), "console: a session's token does not open under the server key", "err", err)
		return nil, nil
	}
	return &Session{Token: Token(tok), CSRF: c.csrfFor(hash), Name: rec.Name, IdentityID: rec.IdentityID, Admin: rec.Admin, Root: rec.Root, hash: hash}, nil
}

// endSession deletes the request's session from the store, so that every
// replica refuses its cookie at once, and clears the cookie. When the
// store cannot delete it, the cookie stays (the session is still live) and
// the error is returned.
func (c *Console) endSession(w http.ResponseWriter, r *http.Request) error {
	if err := c.dropSession(r); err != nil {
		return err
	}
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
	http.SetCookie(w, c.cookie(flashCookie, "", -1))
	return nil
}

// dropSession deletes the session the request's cookie names, if any,
// from the store.
func (c *Console) dropSession(r *http.Request) error {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || len(ck.Value) != sessionValueLen {
		return nil
	}
	hash := sha256.Sum256([]byte(ck.Value))
	if err := c.cfg.Sessions.DeleteConsoleSession(r.Context(), hash[:]); err != nil {
		return fmt.Errorf("console: deleting the session: %w", err)
	}
	return nil
}

// storeFailed answers a request whose session the store could not read or
// write: 503 while the store is unavailable, 500 otherwise.
func (c *Console) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		c.renderError(w, r, nil, http.StatusServiceUnavailable, "The server's store is unavailable. Try again in a moment.")
		return
	}
	c.cfg.Logger.ErrorContext(r.Context(), "console: session store failed", "err", err)
	c.renderError(w, r, nil, http.StatusInternalServerError, "Something went wrong.")
}

// flashCookie carries a notice to the next page (after a redirect): the
// message and an HMAC binding it to the session, so that nothing but the
// console can put a notice on a session's page, and no server memory is
// needed.
const flashCookie = "gatehouse_flash"

// maxFlash bounds a notice, in bytes (a cookie holds about 4 KB).
const maxFlash = 1000

// setFlash sends a notice for the session's next page.
func (c *Console) setFlash(w http.ResponseWriter, s *Session, msg string) {
	if s == nil || msg == "" {
		return
	}
	if len(msg) > maxFlash {
		msg = strings.ToValidUTF8(msg[:maxFlash], "") + "…"
	}
	v := base64.RawURLEncoding.EncodeToString([]byte(msg)) + "." + base64.RawURLEncoding.EncodeToString(mac(c.flashKey, s.hash, msg))
	http.SetCookie(w, c.cookie(flashCookie, v, 60))
}

// takeFlash returns the session's notice, if the request carries one made
// for it, and clears it.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request, s *Session) string {
	ck, err := r.Cookie(flashCookie)
	if s == nil || err != nil || ck.Value == "" {
		return ""
	}
	http.SetCookie(w, c.cookie(flashCookie, "", -1))
	m, sig, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return ""
	}
	msg, err1 := base64.RawURLEncoding.DecodeString(m)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(got, mac(c.flashKey, s.hash, string(msg))) {
		return ""
	}
	return string(msg)
}

// cookie is a console cookie: HttpOnly, SameSite=Strict, Path=/ui/,
// Secure under TLS.
func (c *Console) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/ui/", MaxAge: maxAge, HttpOnly: true, Secure: c.cfg.Secure, SameSite: http.SameSiteStrictMode}
}
