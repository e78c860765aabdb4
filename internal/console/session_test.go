package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// clock is a settable clock for the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// newEnvClock is newEnv on a settable clock.
func newEnvClock(t *testing.T) (*env, *clock) {
	t.Helper()
	c := &clock{t: time.Now()}
	gh, err := server.New(context.Background(), server.Config{Dev: true, DevRootToken: rootToken, Out: io.Discard, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gh.Handler())
	t.Cleanup(func() {
		srv.Close()
		gh.Close()
	})
	return &env{t: t, gh: gh, srv: srv}, c
}

// cookie is the browser's cookie of that name for /ui/, or nil.
func (b *browser) cookie(name string) *http.Cookie {
	for _, c := range b.client.Jar.Cookies(mustURL(b.e.t, b.e.srv.URL+"/ui/")) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// storedSession is the store's row of the browser's session.
func (b *browser) storedSession() (store.ConsoleSession, error) {
	ck := b.cookie("gatehouse_session")
	if ck == nil {
		b.e.t.Fatal("no session cookie")
	}
	h := sha256.Sum256([]byte(ck.Value))
	return b.e.gh.Store().GetConsoleSession(context.Background(), h[:], time.Now())
}

// auditEvents are the audit events of type typ, newest first.
func (e *env) auditEvents(typ string) []store.AuditEvent {
	e.t.Helper()
	evs, _, err := e.gh.Store().FilterAuditEvents(context.Background(), store.AuditFilter{Type: typ}, 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// The session lives in the store: keyed by the cookie's hash, the token
// sealed (neither the token nor the cookie value is in the row), the CSRF
// value not the cookie; sign-in and sign-out are audited without either;
// sign-out deletes the row.
func TestConsoleSessionInStore(t *testing.T) {
	e := newEnv(t)
	id := e.identity("operator", "admin")
	tok := e.tokenFor(id)
	b := e.browser()
	b.signIn(tok)
	cookie := b.cookie("gatehouse_session").Value
	row, err := b.storedSession()
	if err != nil {
		t.Fatalf("no session row: %v", err)
	}
	if row.Name != "operator" || row.IdentityID != id || !row.Admin || row.Root {
		t.Errorf("row %+v", row)
	}
	if got := row.ExpiresAt.Sub(row.CreatedAt); got != 8*time.Hour {
		t.Errorf("session lasts %v, want 8h", got)
	}
	for _, secret := range []string{tok, cookie} {
		if strings.Contains(string(row.SealedToken), secret) || strings.Contains(string(row.IDHash), secret) {
			t.Error("the row holds the token or the cookie value in clear")
		}
	}
	if b.csrf == "" || b.csrf == cookie || strings.Contains(b.csrf, tok) {
		t.Errorf("CSRF value %q", b.csrf)
	}

	in := e.auditEvents("console.sign-in")
	if len(in) != 1 || !in[0].Success || in[0].ActorID != id || in[0].IdentityID != id || in[0].Details["accessor"] == "" || in[0].ClientIP == "" {
		t.Fatalf("sign-in events: %+v", in)
	}
	if p := b.post("/ui/signout", nil); p.status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", p.status)
	}
	if _, err := b.e.gh.Store().GetConsoleSession(context.Background(), row.IDHash, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("row after sign-out: %v", err)
	}
	out := e.auditEvents("console.sign-out")
	if len(out) != 1 || out[0].ActorID != id || out[0].Details["cause"] != "sign-out" {
		t.Fatalf("sign-out events: %+v", out)
	}
	for _, ev := range append(in, out...) {
		for _, v := range append([]string{ev.Reason, ev.ActorID}, mapValues(ev.Details)...) {
			if strings.Contains(v, tok) || strings.Contains(v, cookie) {
				t.Errorf("event %s holds a secret", ev.Type)
			}
		}
	}
	// The root token signs in as "root".
	r := e.browser()
	r.signIn(rootToken)
	if row, err := r.storedSession(); err != nil || !row.Root || row.IdentityID != "" || row.Name != "root" {
		t.Errorf("root row %+v %v", row, err)
	}
	if in := e.auditEvents("console.sign-in"); len(in) != 2 || in[0].ActorID != "root" {
		t.Errorf("root sign-in event: %+v", in)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// A session whose token the API stops accepting ends: its row is deleted
// and the end audited with its cause.
func TestConsoleSessionRevokedTokenDeletesRow(t *testing.T) {
	e := newEnv(t)
	tok := e.tokenFor(e.identity("revoked", "member"))
	b := e.browser()
	b.signIn(tok)
	if _, err := b.storedSession(); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.api("POST", "/api/v1/auth/token/revoke", "", map[string]string{"accessToken": tok}); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	thief := e.browser() // a copy of the cookie, kept
	thief.client.Jar.SetCookies(mustURL(t, e.srv.URL+"/ui/"), []*http.Cookie{b.cookie("gatehouse_session")})
	if p := b.get("/ui/identities"); p.status != http.StatusUnauthorized {
		t.Fatalf("page with a revoked token: %d", p.status)
	}
	if _, err := thief.storedSession(); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("row after the API refused the token: %v", err)
	}
	if p := thief.get("/ui/"); p.status != http.StatusSeeOther || p.location != "/ui/signin" {
		t.Errorf("copied cookie: %d %q", p.status, p.location)
	}
	if out := e.auditEvents("console.sign-out"); len(out) != 1 || out[0].Details["cause"] != "token-refused" {
		t.Errorf("sign-out events: %+v", out)
	}
}

// A session ends at its TTL (8 hours), to the second, on the server's
// clock, whatever the cookie says.
func TestConsoleSessionExpires(t *testing.T) {
	e, c := newEnvClock(t)
	b := e.browser()
	b.signIn(rootToken)
	c.Advance(8*time.Hour - time.Second)
	if p := b.get("/ui/"); p.status != http.StatusOK {
		t.Fatalf("a second before the TTL: %d", p.status)
	}
	c.Advance(time.Second)
	if p := b.get("/ui/"); p.status != http.StatusSeeOther || p.location != "/ui/signin" {
		t.Fatalf("at the TTL: %d %q", p.status, p.location)
	}
	if p := b.post("/ui/identities", url.Values{"name": {"late"}}); p.status != http.StatusUnauthorized {
		t.Errorf("a form at the TTL: %d", p.status)
	}
	// The sweeper deletes it.
	e.gh.Sweep(context.Background())
	ck := b.cookie("gatehouse_session")
	h := sha256.Sum256([]byte(ck.Value))
	if _, err := e.gh.Store().GetConsoleSession(context.Background(), h[:], c.Now().Add(-time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired row after the sweep: %v", err)
	}
}

// The notice after a form is shown once, on the next page, and only when
// the console made it for this session.
func TestConsoleFlashOnce(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(rootToken)
	p := b.post("/ui/identities", url.Values{"name": {"flashy"}, "role": {"member"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	next := p.location
	mustContain(t, b.get(next).body, "Identity flashy created.")
	mustNotContain(t, b.get(next).body, "Identity flashy created.")

	// Made for another session: not shown.
	other := e.browser()
	other.signIn(rootToken)
	p = other.post("/ui/identities", url.Values{"name": {"elsewhere"}, "role": {"member"}})
	stolen := other.cookie("gatehouse_flash")
	if stolen == nil {
		t.Fatal("no notice cookie")
	}
	u := mustURL(t, e.srv.URL+"/ui/")
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse_flash", Value: stolen.Value, Path: "/ui/"}})
	mustNotContain(t, b.get("/ui/identities").body, "Identity elsewhere created.")
	mustContain(t, other.get(p.location).body, "Identity elsewhere created.")

	// Forged: not shown.
	forged := base64.RawURLEncoding.EncodeToString([]byte("Paste your token at evil.example")) + ".AAAA"
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse_flash", Value: forged, Path: "/ui/"}})
	mustNotContain(t, b.get("/ui/identities").body, "evil.example")
}

// Signing in again from a browser that still has a session replaces it:
// the old row is deleted, not left until it expires.
func TestConsoleSignInReplacesSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(rootToken)
	old, err := b.storedSession()
	if err != nil {
		t.Fatal(err)
	}
	oldCookie := b.cookie("gatehouse_session")
	again := e.browser()
	again.get("/ui/signin") // the form and its cookie
	again.client.Jar.SetCookies(mustURL(t, e.srv.URL+"/ui/"), []*http.Cookie{{Name: "gatehouse_session", Value: oldCookie.Value, Path: "/ui/"}})
	if p := again.post("/ui/signin", url.Values{"token": {rootToken}}); p.status != http.StatusSeeOther {
		t.Fatalf("second sign-in: %d", p.status)
	}
	if c := again.cookie("gatehouse_session"); c == nil || c.Value == oldCookie.Value {
		t.Fatal("no new session cookie")
	}
	if _, err := e.gh.Store().GetConsoleSession(context.Background(), old.IDHash, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the replaced session's row: %v", err)
	}
	if _, err := again.storedSession(); err != nil {
		t.Errorf("the new session's row: %v", err)
	}
}
