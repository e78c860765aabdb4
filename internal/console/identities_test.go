package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestIdentitiesListSearchPaging(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 25; i++ {
		e.identity(fmt.Sprintf("svc-%02d", i), "member")
	}
	e.identity("billing-worker", "member")
	b := e.browser()
	b.signIn(rootToken)

	p := b.get("/ui/identities")
	if p.status != 200 {
		t.Fatalf("list: %d", p.status)
	}
	mustContain(t, p.body, "svc-00", "svc-19", "26 identities", `href="/ui/identities?page=2"`)
	mustNotContain(t, p.body, "svc-20", "Previous page")

	p = b.get("/ui/identities?page=2")
	mustContain(t, p.body, "svc-20", "billing-worker", "Previous page")
	mustNotContain(t, p.body, "svc-19", "Next page")

	p = b.get("/ui/identities?q=BILLING")
	mustContain(t, p.body, "billing-worker", "1 match ")
	mustNotContain(t, p.body, "svc-01")
}

func TestIdentitiesCreateEditDelete(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(rootToken)
	p := b.post("/ui/identities", url.Values{"name": {"deployer"}, "role": {"admin"}, "metadata": {"team=infra\nenv=prod"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ui/identities/") {
		t.Fatalf("create: %d %q %s", p.status, p.location, p.body)
	}
	id := strings.TrimPrefix(p.location, "/ui/identities/")
	p = b.get(p.location)
	mustContain(t, p.body, "Identity deployer created.", "team=infra", "env=prod", `<option value="admin" selected>`)

	p = b.post("/ui/identities/"+id, url.Values{"name": {"deployer-2"}, "role": {"member"}, "metadata": {"team=core"}, "hasDeleteProtection": {"on"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("update: %d %s", p.status, p.body)
	}
	st, out := e.api("GET", "/api/v1/identities/"+id, rootToken, nil)
	ident := out["identity"].(map[string]any)
	if st != 200 || ident["name"] != "deployer-2" || ident["role"] != "member" || ident["hasDeleteProtection"] != true {
		t.Fatalf("after update: %d %v", st, ident)
	}

	// Protected: the API refuses and the page says why.
	p = b.post("/ui/identities/"+id+"/delete", nil)
	if p.status < 400 {
		t.Fatalf("delete of a protected identity: %d", p.status)
	}
	mustContain(t, p.body, `role="alert"`)
	b.post("/ui/identities/"+id, url.Values{"name": {"deployer-2"}, "role": {"member"}})
	p = b.post("/ui/identities/"+id+"/delete", nil)
	if p.status != http.StatusSeeOther || p.location != "/ui/identities" {
		t.Fatalf("delete: %d %q", p.status, p.location)
	}
	if st, _ := e.api("GET", "/api/v1/identities/"+id, rootToken, nil); st != http.StatusNotFound {
		t.Errorf("after delete: %d", st)
	}
}

func TestIdentitiesValidationErrorsBesideFields(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(rootToken)
	p := b.post("/ui/identities", url.Values{"name": {""}, "role": {"boss"}, "metadata": {"=novalue"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", p.status)
	}
	mustContain(t, p.body,
		`aria-describedby="name-error"`, `id="name-error"`,
		`aria-describedby="role-error"`, `id="role-error"`, "must be one of",
		`aria-describedby="metadata-error"`, "line 1 key: must be 1 to 255 characters",
		"=novalue")

	id := e.identity("edited", "member")
	p = b.post("/ui/identities/"+id, url.Values{"name": {strings.Repeat("x", 300)}, "role": {"member"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("update status %d", p.status)
	}
	mustContain(t, p.body, `id="name-error"`, "at most 255 characters")
}

func TestIdentitiesEscaping(t *testing.T) {
	e := newEnv(t)
	const evil = `<script>alert(1)</script>`
	id := e.identity(evil, "member")
	b := e.browser()
	b.signIn(rootToken)
	for _, path := range []string{"/ui/identities", "/ui/identities/" + id, "/ui/identities?q=" + url.QueryEscape(evil),
		"/ui/identities/" + id + "/universal-auth", "/ui/identities/" + id + "/tokens"} {
		p := b.get(path)
		mustNotContain(t, p.body, evil)
		mustContain(t, p.body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	}
}

func TestIdentitiesMemberReadOnly(t *testing.T) {
	e := newEnv(t)
	target := e.identity("target", "member")
	member := e.tokenFor(e.identity("reader", "member"))
	b := e.browser()
	b.signIn(member)
	p := b.get("/ui/identities")
	if p.status != 200 {
		t.Fatalf("list: %d", p.status)
	}
	mustContain(t, p.body, "target", "(read-only)")
	mustNotContain(t, p.body, "Create an identity", `action="/ui/identities"`+` class="card"`)
	p = b.get("/ui/identities/" + target)
	mustNotContain(t, p.body, "Save", "Delete identity")

	// The API refuses what the page does not offer.
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/ui/identities", url.Values{"name": {"sneaky"}, "role": {"admin"}}},
		{"/ui/identities/" + target, url.Values{"name": {"renamed"}, "role": {"admin"}}},
		{"/ui/identities/" + target + "/delete", nil},
	} {
		if p := b.post(tc.path, tc.form); p.status != http.StatusForbidden {
			t.Errorf("POST %s as member: %d", tc.path, p.status)
		}
	}
	st, out := e.api("GET", "/api/v1/identities/"+target, rootToken, nil)
	if st != 200 || out["identity"].(map[string]any)["name"] != "target" {
		t.Errorf("target changed: %d %v", st, out)
	}
}

func TestIdentitiesCSRFRefused(t *testing.T) {
	e := newEnv(t)
	id := e.identity("kept", "member")
	b := e.browser()
	b.signIn(rootToken)
	for _, path := range []string{"/ui/identities", "/ui/identities/" + id, "/ui/identities/" + id + "/delete"} {
		if p := b.post(path, url.Values{"csrf": {"forged"}, "name": {"x"}, "role": {"member"}}); p.status != http.StatusForbidden {
			t.Errorf("POST %s with a forged csrf: %d", path, p.status)
		}
	}
	if st, _ := e.api("GET", "/api/v1/identities/"+id, rootToken, nil); st != 200 {
		t.Errorf("identity gone: %d", st)
	}
}
