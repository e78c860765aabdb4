package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestConsoleSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, path := range []string{"/ui/signin", "/ui/static/style.css", "/ui/nope"} {
		p := b.get(path)
		want := map[string]string{
			"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-store",
		}
		for k, v := range want {
			if got := p.header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
	if p := b.get("/ui/nope"); p.status != http.StatusNotFound {
		t.Errorf("unknown page: %d", p.status)
	}
}

func TestConsoleRedirects(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if p := b.get("/ui"); p.status != http.StatusMovedPermanently || p.location != "/ui/" {
		t.Errorf("GET /ui: %d %q", p.status, p.location)
	}
	if p := b.get("/ui/"); p.status != http.StatusSeeOther || p.location != "/ui/signin" {
		t.Errorf("GET /ui/ signed out: %d %q", p.status, p.location)
	}
}

func TestConsoleSignInOut(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	p := b.get("/ui/signin")
	mustContain(t, p.body, `<label for="token">`, `<main id="main"`)
	var session *http.Cookie
	for _, c := range b.client.Jar.Cookies(mustURL(t, e.srv.URL+"/ui/")) {
		if c.Name == "gatehouse_signin" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no sign-in cookie")
	}
	p = b.post("/ui/signin", url.Values{"token": {rootToken}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", p.status, p.body)
	}
	setCookie := strings.Join(p.header.Values("Set-Cookie"), "\n")
	mustContain(t, setCookie, "gatehouse_session=", "HttpOnly", "SameSite=Strict", "Path=/ui/")
	if strings.Contains(setCookie, rootToken) {
		t.Error("the cookie holds the token")
	}
	p = b.get("/ui/")
	mustContain(t, p.body, `<nav aria-label="Main">`, "root", "Sign out")

	p = b.post("/ui/signout", nil)
	if p.status != http.StatusSeeOther || p.location != "/ui/signin" {
		t.Fatalf("sign-out: %d %q", p.status, p.location)
	}
	if p := b.get("/ui/"); p.status != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", p.status)
	}
}

// A copied session cookie is dead after sign-out: the session is gone
// server-side, not only in the browser.
func TestConsoleSignOutEndsSessionServerSide(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(rootToken)
	u := mustURL(t, e.srv.URL+"/ui/")
	cookies := b.client.Jar.Cookies(u)
	b.post("/ui/signout", nil)
	thief := e.browser()
	thief.client.Jar.SetCookies(u, cookies)
	if p := thief.get("/ui/"); p.status != http.StatusSeeOther {
		t.Errorf("old cookie after sign-out: %d", p.status)
	}
}

func TestConsoleSignInRefusals(t *testing.T) {
	e := newEnv(t)
	noAccess := e.tokenFor(e.identity("blocked", "no-access"))
	cases := []struct {
		name, token string
		status      int
		want        string
	}{
		{"empty", "", http.StatusUnprocessableEntity, "Enter a token."},
		{"wrong", "gth_nope", http.StatusUnauthorized, "not accepted"},
		{"no access", noAccess, http.StatusForbidden, "no access"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			b.get("/ui/signin")
			p := b.post("/ui/signin", url.Values{"token": {tc.token}})
			if p.status != tc.status {
				t.Fatalf("status %d, want %d", p.status, tc.status)
			}
			mustContain(t, p.body, tc.want, `aria-invalid="true"`, `aria-describedby="token-error"`)
		})
	}
}

func TestConsoleCSRFRefused(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name    string
		form    url.Values
		headers map[string]string
	}{
		{"no token", url.Values{"csrf": {""}}, nil},
		{"wrong token", url.Values{"csrf": {"forged"}}, nil},
		{"cross-site fetch", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"foreign origin", nil, map[string]string{"Origin": "https://evil.example"}},
	}
	for _, tc := range cases {
		t.Run("signout "+tc.name, func(t *testing.T) {
			b := e.browser()
			b.signIn(rootToken)
			if p := b.postHeaders("/ui/signout", tc.form, tc.headers); p.status != http.StatusForbidden {
				t.Fatalf("status %d", p.status)
			}
			if p := b.get("/ui/"); p.status != 200 {
				t.Errorf("session ended by a forged sign-out: %d", p.status)
			}
		})
		t.Run("signin "+tc.name, func(t *testing.T) {
			b := e.browser()
			b.get("/ui/signin")
			form := url.Values{"token": {rootToken}}
			for k, v := range tc.form {
				form[k] = v
			}
			p := b.postHeaders("/ui/signin", form, tc.headers)
			if p.status != http.StatusForbidden {
				t.Fatalf("status %d", p.status)
			}
			if strings.Contains(strings.Join(p.header.Values("Set-Cookie"), ""), "gatehouse_session=") {
				t.Error("a session was started")
			}
		})
	}
	t.Run("signin without the form cookie", func(t *testing.T) {
		b := e.browser()
		b.get("/ui/signin")
		csrf := b.csrf
		other := e.browser()
		if p := other.post("/ui/signin", url.Values{"token": {rootToken}, "csrf": {csrf}}); p.status != http.StatusForbidden {
			t.Fatalf("status %d", p.status)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A session ends as soon as a page finds its token revoked.
func TestConsoleSessionEndsWithItsToken(t *testing.T) {
	e := newEnv(t)
	tok := e.tokenFor(e.identity("short-lived", "admin"))
	b := e.browser()
	b.signIn(tok)
	if st, _ := e.api("POST", "/api/v1/auth/token/revoke", "", map[string]string{"accessToken": tok}); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	p := b.get("/ui/identities")
	if p.status != http.StatusUnauthorized {
		t.Fatalf("page with a revoked token: %d", p.status)
	}
	mustContain(t, p.body, "Sign in again")
	if p := b.get("/ui/identities"); p.status != http.StatusSeeOther || p.location != "/ui/signin" {
		t.Errorf("after: %d %q", p.status, p.location)
	}
}

func TestConsoleFormTooLarge(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(rootToken)
	p := b.post("/ui/identities", url.Values{"name": {"big"}, "metadata": {strings.Repeat("k=v\n", 100<<10)}})
	if p.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", p.status)
	}
	mustContain(t, p.body, "too large")
	if st, out := e.api("GET", "/api/v1/identities", rootToken, nil); st != 200 || out["totalCount"].(float64) != 0 {
		t.Errorf("an identity was created: %v", out)
	}
}
