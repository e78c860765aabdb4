package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// appendEvents writes n audit events of type typ for identityID directly
// into the store, all at the same instant (one hour bucket).
func (e *env) appendEvents(n int, typ, identityID string, ok bool) {
	e.t.Helper()
	now := time.Now()
	for i := range n {
		ev := store.AuditEvent{ID: fmt.Sprintf("%s-%s-%d-%t", typ, identityID, i, ok), Time: now,
			Type: typ, Success: ok, IdentityID: identityID, ClientIP: "192.0.2.7"}
		if !ok {
			ev.Reason = "the client secret is wrong"
		}
		if err := e.gh.Store().AppendAuditEvent(context.Background(), ev); err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestAuditPageFilters(t *testing.T) {
	e := newEnv(t)
	alice := e.identity("alice", "member")
	bob := e.identity("bob", "member")
	e.appendEvents(2, "login", alice, true)
	e.appendEvents(3, "login", bob, false)
	b := e.browser()
	b.signIn(rootToken)

	p := b.get("/ui/audit")
	if p.status != 200 {
		t.Fatalf("audit page: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, "identity.create", `<label for="type">`, `<label for="outcome">`, `<label for="from">`)

	p = b.get("/ui/audit?" + url.Values{"type": {"login"}, "outcome": {"failure"}}.Encode())
	mustContain(t, p.body, "3 events matching the filters", "the client secret is wrong", bob)
	mustNotContain(t, p.body, alice, "identity.create</code>")

	p = b.get("/ui/audit?" + url.Values{"identity": {alice}, "type": {"login"}}.Encode())
	mustContain(t, p.body, "2 events matching the filters", alice)
	mustNotContain(t, p.body, bob)

	// Times are read as UTC; an hour from now holds nothing.
	from := time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04")
	p = b.get("/ui/audit?from=" + from)
	mustContain(t, p.body, "0 events matching the filters", "No events match these filters.", `value="`+from+`"`)
}

func TestAuditPagePaging(t *testing.T) {
	e := newEnv(t)
	id := e.identity("busy", "member")
	e.appendEvents(60, "login", id, true)
	b := e.browser()
	b.signIn(rootToken)
	p := b.get("/ui/audit?type=login")
	mustContain(t, p.body, "60 events matching the filters", "page 1", `rel="next"`)
	mustNotContain(t, p.body, `rel="prev"`)
	if n := strings.Count(p.body, `<td data-label="Time">`); n != 50 {
		t.Errorf("first page has %d rows, want 50", n)
	}
	p = b.get("/ui/audit?page=2&type=login")
	mustContain(t, p.body, "page 2", `rel="prev"`)
	mustNotContain(t, p.body, `rel="next"`)
	if n := strings.Count(p.body, `<td data-label="Time">`); n != 10 {
		t.Errorf("second page has %d rows, want 10", n)
	}
}

func TestAuditPageInvalidFilters(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(rootToken)
	for _, c := range []struct{ query, field, msg string }{
		{"outcome=maybe", "outcome", "Choose success or failure."},
		{"from=yesterday", "from", "Give a date and time"},
		{"to=2026-13-40T99:00", "to", "Give a date and time"},
		{"page=0", "", "The page must be a number from 1."},
		{"from=2026-05-02T00:00&to=2026-05-01T00:00", "to", "must be after startDate"},
		{"type=" + url.QueryEscape(strings.Repeat("x", 201)), "type", "at most 200 bytes"},
	} {
		p := b.get("/ui/audit?" + c.query)
		if p.status < 400 || p.status > 499 {
			t.Errorf("%s: status %d", c.query, p.status)
		}
		mustContain(t, p.body, c.msg)
		if c.field != "" {
			mustContain(t, p.body, `id="`+c.field+`-error"`, `aria-describedby="`+c.field+`-error"`)
		}
	}
}

func TestAuditPageEscaping(t *testing.T) {
	e := newEnv(t)
	e.appendEvents(1, "<script>alert(1)</script>", "<b>x</b>", false)
	b := e.browser()
	b.signIn(rootToken)
	p := b.get("/ui/audit?" + url.Values{"identity": {`"><script>alert(2)</script>`}}.Encode())
	mustNotContain(t, p.body, "<script>alert(2)</script>")
	mustContain(t, p.body, "&lt;script&gt;alert(2)&lt;/script&gt;")
	p = b.get("/ui/audit")
	mustNotContain(t, p.body, "<script>alert(1)</script>", "<b>x</b>")
	mustContain(t, p.body, "&lt;script&gt;alert(1)&lt;/script&gt;")
}

func TestAuditPageRoles(t *testing.T) {
	e := newEnv(t)
	member := e.tokenFor(e.identity("reader", "member"))
	b := e.browser()
	b.signIn(member)
	if p := b.get("/ui/audit"); p.status != http.StatusForbidden {
		t.Errorf("member reads the audit page: %d", p.status)
	}
	anon := e.browser()
	if p := anon.get("/ui/audit"); p.status != http.StatusSeeOther || p.location != "/ui/signin" {
		t.Errorf("anonymous: %d %q", p.status, p.location)
	}
}
