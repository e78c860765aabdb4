package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// signInData is the sign-in page's.
type signInData struct {
	Form Form
	CSRF string
}

func (c *Console) signInForm(w http.ResponseWriter, r *http.Request) {
	s, err := c.session(r)
	if err != nil {
		c.storeFailed(w, r, err)
		return
	}
	if s != nil {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	c.showSignIn(w, r, http.StatusOK, NewForm())
}

// showSignIn renders the sign-in form with a fresh double-submit value.
func (c *Console) showSignIn(w http.ResponseWriter, r *http.Request, status int, f Form) {
	v := randomString(32)
	http.SetCookie(w, c.cookie(signInCookie, v, 3600))
	c.renderStatus(w, r, nil, status, "signin.html", "Sign in", signInData{Form: f, CSRF: v})
}

// signIn checks the token with the API (who it is, whether it may write)
// and starts a session.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		c.renderError(w, r, nil, http.StatusRequestEntityTooLarge, "The form could not be read: it is too large or malformed.")
		return
	}
	ck, err := r.Cookie(signInCookie)
	if err != nil || !c.checkCSRF(r, ck.Value) {
		c.renderError(w, r, nil, http.StatusForbidden, "The sign-in form could not be verified (CSRF check failed). Reload the page and try again.")
		return
	}
	f := NewForm()
	tok := strings.TrimSpace(r.PostFormValue("token"))
	if tok == "" {
		f.Errors["token"] = "Enter a token."
		c.showSignIn(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	s, accessor, err := c.whoIs(r, tok)
	if err != nil {
		status := http.StatusUnauthorized
		if e := asAPIError(err); e != nil {
			switch e.Status {
			case http.StatusUnauthorized:
				f.Errors["token"] = "This token is not accepted (" + e.Name + ")."
			case http.StatusForbidden:
				status = http.StatusForbidden
				f.Errors["token"] = "This token may not use the console: its identity has no access."
			default:
				status = e.Status
				f.Errors["token"] = e.Message
			}
		} else {
			c.cfg.Logger.ErrorContext(r.Context(), "console: sign-in failed", "err", err)
			status = http.StatusInternalServerError
			f.Errors["token"] = "Signing in failed."
		}
		c.showSignIn(w, r, status, f)
		return
	}
	// A session this browser still had ends: signing in again replaces
	// it rather than leaving it in the store until it expires.
	if err := c.dropSession(r); err != nil {
		c.storeFailed(w, r, err)
		return
	}
	if err := c.startSession(w, r, s); err != nil {
		c.storeFailed(w, r, err)
		return
	}
	http.SetCookie(w, c.cookie(signInCookie, "", -1))
	c.audit(r, s, audit.TypeConsoleSignIn, map[string]string{"accessor": accessor})
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// whoIs asks the API who tok is: its own token record, then, for an
// identity's token, the identity (its name and role). It returns the
// token's id (its accessor) too.
func (c *Console) whoIs(r *http.Request, tok string) (*Session, string, error) {
	var look struct {
		Token struct {
			ID         string `json:"id"`
			IdentityID string `json:"identityId"`
			AuthMethod string `json:"authMethod"`
		} `json:"token"`
	}
	if err := c.callToken(r.Context(), r, tok, http.MethodGet, "/api/v1/auth/token/lookup", nil, &look); err != nil {
		return nil, "", err
	}
	s := &Session{Token: Token(tok)}
	if look.Token.AuthMethod == "root" {
		s.Name, s.Root, s.Admin = "root", true, true
		return s, look.Token.ID, nil
	}
	var got struct {
		Identity struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Role string `json:"role"`
		} `json:"identity"`
	}
	if err := c.callToken(r.Context(), r, tok, http.MethodGet, "/api/v1/identities/"+url.PathEscape(look.Token.IdentityID), nil, &got); err != nil {
		return nil, "", err
	}
	s.Name, s.IdentityID, s.Admin = got.Identity.Name, got.Identity.ID, got.Identity.Role == "admin"
	return s, look.Token.ID, nil
}

// signOut ends the session (the token itself stays valid). When the store
// cannot delete it, the session stays and the page says so (503).
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *Session) {
	if err := c.endSession(w, r); err != nil {
		c.storeFailed(w, r, err)
		return
	}
	c.audit(r, s, audit.TypeConsoleSignOut, map[string]string{"cause": "sign-out"})
	http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
}

// signedOut ends a session the API no longer accepts the token of: its
// row is deleted (a failure is logged: the session is of no use anyway).
func (c *Console) signedOut(w http.ResponseWriter, r *http.Request, s *Session, cause string) {
	if err := c.endSession(w, r); err != nil {
		c.cfg.Logger.WarnContext(r.Context(), "console: a dead session could not be deleted", "err", err)
		http.SetCookie(w, c.cookie(sessionCookie, "", -1))
	}
	c.audit(r, s, audit.TypeConsoleSignOut, map[string]string{"cause": cause})
}

// audit records a sign-in or sign-out: who, from where; never the token
// or the session's cookie.
func (c *Console) audit(r *http.Request, s *Session, typ string, details map[string]string) {
	if c.cfg.Audit == nil || s == nil {
		return
	}
	actor := s.IdentityID
	if s.Root {
		actor = "root"
	}
	c.cfg.Audit.Record(r.Context(), store.AuditEvent{Type: typ, Success: true, ActorID: actor, IdentityID: s.IdentityID,
		ClientIP: c.cfg.ClientIP(r), Details: details})
}
