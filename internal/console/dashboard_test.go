package console_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestDashboardCountsAndChart(t *testing.T) {
	e := newEnv(t)
	alice := e.identity("alice", "member")
	e.identity("bob", "member")
	e.appendEvents(3, "login", alice, true)
	e.appendEvents(2, "login", alice, false)
	e.appendEvents(4, "token.renew", alice, true) // not a login
	b := e.browser()
	b.signIn(rootToken)
	p := b.get("/ui/")
	if p.status != 200 {
		t.Fatalf("dashboard: %d %s", p.status, p.body)
	}
	mustContain(t, p.body,
		`<span class="stat">2</span> identities`,
		`<span class="stat">3</span> successful logins in the last 24 hours`,
		`<span class="stat">2</span> failed logins</a>`,
		`<svg viewBox="0 0 720 222" role="img" aria-labelledby="chart-title chart-desc"`,
		`<title id="chart-title">`, "3 succeeded and 2 failed in all",
		"<td>3</td><td>2</td>", // the current hour in the table
	)
	// 24 hours, two bars each; the CSP forbids style attributes.
	if n := strings.Count(p.body, "<rect "); n != 48 {
		t.Errorf("%d bars, want 48", n)
	}
	if regexp.MustCompile(`\sstyle=`).MatchString(p.body) {
		t.Errorf("the dashboard has a style attribute")
	}
	// The current hour's bars: the tallest, a success one and a failure one.
	mustContain(t, p.body, "UTC: 3 succeeded</title>", "UTC: 2 failed</title>")
}

func TestDashboardEmpty(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(rootToken)
	p := b.get("/ui/")
	mustContain(t, p.body, `<span class="stat">0</span> successful logins`, `<span class="stat">0</span> failed logins`)
	if strings.Contains(p.body, `height="-`) || strings.Contains(p.body, "NaN") {
		t.Errorf("bad geometry with no logins")
	}
}

func TestDashboardRoles(t *testing.T) {
	e := newEnv(t)
	id := e.identity("<script>alert(1)</script>", "member")
	e.appendEvents(1, "login", id, true)
	b := e.browser()
	b.signIn(e.tokenFor(id))
	p := b.get("/ui/")
	if p.status != 200 {
		t.Fatalf("member dashboard: %d", p.status)
	}
	mustContain(t, p.body, "Login counts and the audit log are for administrators.", "&lt;script&gt;alert(1)&lt;/script&gt;")
	mustNotContain(t, p.body, "<svg", "successful login", "<script>alert(1)</script>")
	if p := e.browser().get("/ui/"); p.status != http.StatusSeeOther || p.location != "/ui/signin" {
		t.Errorf("anonymous dashboard: %d %q", p.status, p.location)
	}
	if p := b.get("/ui/nope"); p.status != http.StatusNotFound {
		t.Errorf("unknown page: %d", p.status)
	}
}
