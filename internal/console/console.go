// Package console is Gatehouse's web console: server-rendered pages under
// /ui/ for administrators. It is a client of the HTTP API, in process:
// every read and write goes through Config.API with the signed-in token,
// so authorization, validation and audit stay the API's.
package console

import (
	"context"
	"embed"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// DefaultSessionTTL is how long a console session lasts when
// Config.SessionTTL is 0.
const DefaultSessionTTL = 8 * time.Hour

// maxFormBytes bounds a form post (an identity's 100 metadata entries
// fit).
const maxFormBytes = 256 << 10

// Config configures a Console.
type Config struct {
	// API is the server's full, middleware-wrapped HTTP handler.
	API http.Handler
	// Secure marks cookies Secure (the server serves TLS).
	Secure bool
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
	// SessionTTL caps a session's life (DefaultSessionTTL when 0).
	SessionTTL time.Duration
	// Sessions keeps the sessions (the server's store, shared by every
	// replica); required.
	Sessions SessionStore
	// Key seals the sessions' tokens in the store and derives their CSRF
	// tokens and the notices' MACs: the server key, the same on every
	// replica; required.
	Key seal.Key
	// Audit records sign-ins and sign-outs (none when nil).
	Audit Auditor
	// ClientIP is a request's client address as the API resolves it, for
	// audit events ("" when nil).
	ClientIP func(*http.Request) string
}

// Auditor records audit events (audit.Log).
type Auditor interface {
	Record(ctx context.Context, e store.AuditEvent)
}

// Console serves the web console.
type Console struct {
	cfg      Config
	mux      *http.ServeMux
	csrfKey  []byte // derived from Key: CSRF tokens
	flashKey []byte // derived from Key: notices' MACs
	pages    map[string]*pageTemplate
}

// handlerFunc is a console page handler for a signed-in session.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *Session)

// New builds a console. It panics without Config.Sessions or Config.Key.
func New(cfg Config) *Console {
	if cfg.Sessions == nil || cfg.Key.IsZero() {
		panic("console: New needs Config.Sessions and Config.Key")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = func(*http.Request) string { return "" }
	}
	c := &Console{cfg: cfg, mux: http.NewServeMux(), pages: mustParsePages(),
		csrfKey: cfg.Key.Derive("console csrf"), flashKey: cfg.Key.Derive("console flash")}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	c.mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /ui/signin", c.signInForm)
	c.mux.HandleFunc("POST /ui/signin", c.signIn)
	c.handle("POST /ui/signout", c.signOut)
	c.mux.HandleFunc("/ui/", c.fallback)

	c.routesIdentities(c.mux)
	c.routesUniversalAuth(c.mux)
	c.routesTokens(c.mux)
	c.routesKubernetesAuth(c.mux)
	c.routesVault(c.mux)
	c.routesGateways(c.mux)
	c.routesAudit(c.mux)
	c.routesDashboard(c.mux)
	return c
}

// ServeHTTP serves the console with its security headers on every answer.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	c.mux.ServeHTTP(w, r)
}

// handle registers a page that needs a session (else: the sign-in page);
// a POST must also pass the CSRF check.
func (c *Console) handle(pattern string, h handlerFunc) {
	c.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			c.storeFailed(w, r, err)
			return
		}
		if s == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
				return
			}
			c.renderError(w, r, nil, http.StatusUnauthorized, "Your session has ended. Sign in again.")
			return
		}
		if err := r.ParseForm(); err != nil {
			c.renderError(w, r, s, http.StatusRequestEntityTooLarge, "The form could not be read: it is too large or malformed.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !c.checkCSRF(r, s.CSRF) {
			c.renderError(w, r, s, http.StatusForbidden, "The form could not be verified (CSRF check failed). Reload the page and try again.")
			return
		}
		h(w, r, s)
	})
}

// fallback answers every console path no page has (404); GET /ui/ itself
// is the dashboard's.
func (c *Console) fallback(w http.ResponseWriter, r *http.Request) {
	s, err := c.session(r)
	if err != nil {
		c.storeFailed(w, r, err)
		return
	}
	c.renderError(w, r, s, http.StatusNotFound, "Page not found.")
}
