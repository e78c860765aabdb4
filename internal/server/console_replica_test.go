package server_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
)

// consoleUser is a browser on the console of one server: its own cookie
// jar, the last CSRF value its pages showed, and the headers a browser
// sends with a same-origin form post.
type consoleUser struct {
	t      *testing.T
	base   string
	client *http.Client
	csrf   string
}

func newConsoleUser(t *testing.T, ts *testServer) *consoleUser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleUser{t: t, base: ts.http.URL, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

type consolePage struct {
	status   int
	location string
	body     string
}

func (u *consoleUser) do(req *http.Request) consolePage {
	u.t.Helper()
	resp, err := u.client.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := consoleCSRF.FindSubmatch(body); m != nil {
		u.csrf = string(m[1])
	}
	return consolePage{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body)}
}

func (u *consoleUser) get(path string) consolePage {
	u.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u.base+path, nil)
	return u.do(req)
}

func (u *consoleUser) post(path string, form url.Values) consolePage {
	u.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", u.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, u.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", u.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return u.do(req)
}

// signIn signs in through the sign-in form.
func (u *consoleUser) signIn(tok string) {
	u.t.Helper()
	u.get("/ui/signin")
	if p := u.post("/ui/signin", url.Values{"token": {tok}}); p.status != http.StatusSeeOther || p.location != "/ui/" {
		u.t.Fatalf("sign-in: %d %q %s", p.status, p.location, p.body)
	}
}

// cookies are the user's console cookies.
func (u *consoleUser) cookies() []*http.Cookie {
	return u.client.Jar.Cookies(mustParseURL(u.t, u.base+"/ui/"))
}

// takeCookies gives u the console cookies of other (as a load balancer
// does, sending one browser to another replica).
func (u *consoleUser) takeCookies(other *consoleUser) {
	var cs []*http.Cookie
	for _, c := range other.cookies() {
		cs = append(cs, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/ui/"})
	}
	u.client.Jar.SetCookies(mustParseURL(u.t, u.base+"/ui/"), cs)
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestConsoleSessionAcrossReplicas: two replicas on one PostgreSQL behind
// no sticky load balancer. A session started at A works at B (pages, a
// form with its CSRF value, the notice after it shown at A); signing out
// at B ends it at A at once.
func TestConsoleSessionAcrossReplicas(t *testing.T) {
	cfg := server.Config{Storage: pgtest.URL(t), EncryptionKey: testKey}
	a := newTestServerWith(t, cfg)
	b := newTestServerWith(t, cfg)

	atA := newConsoleUser(t, a)
	atA.signIn(a.root)
	if p := atA.get("/ui/identities"); p.status != http.StatusOK {
		t.Fatalf("A after sign-in: %d", p.status)
	}
	csrfA := atA.csrf

	atB := newConsoleUser(t, b)
	atB.takeCookies(atA)
	p := atB.get("/ui/identities")
	if p.status != http.StatusOK || !strings.Contains(p.body, "Sign out") {
		t.Fatalf("B with A's session: %d", p.status)
	}
	if atB.csrf != csrfA {
		t.Errorf("B's CSRF value differs from A's")
	}
	p = atB.post("/ui/identities", url.Values{"name": {"made-at-b"}, "role": {"member"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("form at B: %d %s", p.status, p.body)
	}
	// The next page comes from A: the notice B set is shown there, once.
	atA.takeCookies(atB)
	if p := atA.get(p.location); p.status != http.StatusOK || !strings.Contains(p.body, "Identity made-at-b created.") {
		t.Errorf("A after B's form: %d, notice shown: %v", p.status, strings.Contains(p.body, "made-at-b created"))
	}

	session := atA.cookies()
	if p := atB.post("/ui/signout", nil); p.status != http.StatusSeeOther || p.location != "/ui/signin" {
		t.Fatalf("sign-out at B: %d %q", p.status, p.location)
	}
	// A, still presenting the cookie, is refused at once.
	stale := newConsoleUser(t, a)
	stale.client.Jar.SetCookies(mustParseURL(t, a.http.URL+"/ui/"), session)
	if p := stale.get("/ui/identities"); p.status != http.StatusSeeOther || p.location != "/ui/signin" {
		t.Errorf("A after sign-out at B: %d %q", p.status, p.location)
	}
	stale.csrf = csrfA
	if p := stale.post("/ui/identities", url.Values{"name": {"after-sign-out"}}); p.status != http.StatusUnauthorized {
		t.Errorf("form at A after sign-out at B: %d", p.status)
	}
	if r := a.do("GET", "/api/v1/identities", a.root, nil); strings.Contains(r.raw, "after-sign-out") || !strings.Contains(r.raw, "made-at-b") {
		t.Errorf("identities: %s", r.raw)
	}
}

// TestConsoleStoreOutage: while the store cannot read, create or delete a
// session, the console answers its error page with 503 (never a 500 or a
// panic), a sign-out that could not be written leaves the session live,
// and everything works again once the store is back.
func TestConsoleStoreOutage(t *testing.T) {
	ts, fs, _ := newFaultServer(t)
	u := newConsoleUser(t, ts)

	u.get("/ui/signin")
	fs.fail("CreateConsoleSession")
	p := u.post("/ui/signin", url.Values{"token": {ts.root}})
	if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "unavailable") {
		t.Errorf("sign-in, store down: %d", p.status)
	}
	for _, c := range u.cookies() {
		if c.Name == "gatehouse_session" {
			t.Error("a session cookie without a session")
		}
	}
	fs.heal()
	u.signIn(ts.root)

	fs.fail("GetConsoleSession")
	for _, path := range []string{"/ui/", "/ui/identities", "/ui/signin", "/ui/nope"} {
		if p := u.get(path); p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "<main") {
			t.Errorf("GET %s, store down: %d", path, p.status)
		}
	}
	if p := u.post("/ui/identities", url.Values{"name": {"during-outage"}}); p.status != http.StatusServiceUnavailable {
		t.Errorf("form, store down: %d", p.status)
	}
	fs.heal()
	if p := u.get("/ui/identities"); p.status != http.StatusOK {
		t.Fatalf("after the outage: %d", p.status)
	}

	fs.fail("DeleteConsoleSession")
	if p := u.post("/ui/signout", nil); p.status != http.StatusServiceUnavailable {
		t.Errorf("sign-out, store down: %d", p.status)
	}
	fs.heal()
	if p := u.get("/ui/identities"); p.status != http.StatusOK {
		t.Errorf("the session after a sign-out that failed: %d", p.status)
	}
	if p := u.post("/ui/signout", nil); p.status != http.StatusSeeOther {
		t.Errorf("sign-out: %d", p.status)
	}
}
