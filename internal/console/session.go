package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// sessionCookie names the console's session cookie.
const sessionCookie = "gatehouse_session"

// maxSessions bounds the sessions kept in memory.
const maxSessions = 10000

// Token is a signed-in API token; it never prints.
type Token string

// LogValue redacts the token.
func (Token) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// String redacts the token (use string(t) to send it).
func (Token) String() string { return "REDACTED" }

// Session is a signed-in console user.
type Session struct {
	Token      Token
	CSRF       string
	Name       string // identity name, or "root"
	IdentityID string // "" for a root token
	Admin      bool   // may write
	Root       bool

	expires time.Time
	flash   string // shown once on the next page
}

// sessions is the server-side session table, keyed by the hash of the
// cookie value.
type sessions struct {
	mu sync.Mutex
	m  map[[32]byte]*Session
}

func newSessions() *sessions { return &sessions{m: map[[32]byte]*Session{}} }

// randomString is n random bytes, base64url.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// startSession stores s and sets its cookie.
func (c *Console) startSession(w http.ResponseWriter, s *Session) {
	value := randomString(32)
	now := c.cfg.Now()
	s.expires = now.Add(c.cfg.SessionTTL)
	s.CSRF = randomString(32)
	c.sessions.mu.Lock()
	for k, v := range c.sessions.m {
		if !now.Before(v.expires) {
			delete(c.sessions.m, k)
		}
	}
	if len(c.sessions.m) >= maxSessions {
		// Drop the session closest to its end.
		var oldest [32]byte
		var at time.Time
		for k, v := range c.sessions.m {
			if at.IsZero() || v.expires.Before(at) {
				oldest, at = k, v.expires
			}
		}
		delete(c.sessions.m, oldest)
	}
	c.sessions.m[sha256.Sum256([]byte(value))] = s
	c.sessions.mu.Unlock()
	http.SetCookie(w, c.cookie(sessionCookie, value, int(c.cfg.SessionTTL/time.Second)))
}

// session is the request's live session, or nil.
func (c *Console) session(r *http.Request) *Session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	key := sha256.Sum256([]byte(ck.Value))
	c.sessions.mu.Lock()
	defer c.sessions.mu.Unlock()
	s := c.sessions.m[key]
	if s == nil {
		return nil
	}
	if !c.cfg.Now().Before(s.expires) {
		delete(c.sessions.m, key)
		return nil
	}
	return s
}

// endSession deletes the request's session and its cookie.
func (c *Console) endSession(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.sessions.mu.Lock()
		delete(c.sessions.m, sha256.Sum256([]byte(ck.Value)))
		c.sessions.mu.Unlock()
	}
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
}

// setFlash keeps a notice for the session's next page.
func (c *Console) setFlash(s *Session, msg string) {
	c.sessions.mu.Lock()
	s.flash = msg
	c.sessions.mu.Unlock()
}

// takeFlash returns and clears the session's notice.
func (c *Console) takeFlash(s *Session) string {
	if s == nil {
		return ""
	}
	c.sessions.mu.Lock()
	defer c.sessions.mu.Unlock()
	msg := s.flash
	s.flash = ""
	return msg
}

// cookie is a console cookie: HttpOnly, SameSite=Strict, Path=/ui/,
// Secure under TLS.
func (c *Console) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/ui/", MaxAge: maxAge, HttpOnly: true, Secure: c.cfg.Secure, SameSite: http.SameSiteStrictMode}
}
