package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

var tokenIDRE = regexp.MustCompile(`/tokens/([0-9a-f-]{36})/revoke`)

func TestIdentityTokensPageListLookupRevoke(t *testing.T) {
	e := newEnv(t)
	id := e.identity("worker", "member")
	value := e.tokenFor(id)
	e.tokenFor(id)
	b := e.browser()
	b.signIn(rootToken)

	p := b.get("/ui/identities/" + id + "/tokens")
	if p.status != 200 {
		t.Fatalf("list: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, "2 live tokens", "universal-auth")
	mustNotContain(t, p.body, value)
	m := tokenIDRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no revoke form")
	}
	tid := m[1]

	p = b.get("/ui/identities/" + id + "/tokens?lookup=" + tid)
	if p.status != http.StatusSeeOther || p.location != "/ui/identities/"+id+"/tokens/"+tid {
		t.Fatalf("lookup: %d %q", p.status, p.location)
	}
	p = b.get(p.location)
	mustContain(t, p.body, tid, "live", "Revoke token")
	mustNotContain(t, p.body, value)

	p = b.get("/ui/identities/" + id + "/tokens?lookup=not-a-uuid")
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("lookup of a bad id: %d", p.status)
	}
	mustContain(t, p.body, `id="lookup-error"`, `aria-describedby="lookup-error"`, "must be a UUID")
	p = b.get("/ui/identities/" + id + "/tokens?lookup=6c1f3f4e-7d59-4a8e-9a43-2f9d51f0c1aa")
	if p.status != http.StatusNotFound {
		t.Fatalf("lookup of an unknown id: %d", p.status)
	}
	mustContain(t, p.body, `id="lookup-error"`, "not found")

	p = b.post("/ui/identities/"+id+"/tokens/"+tid+"/revoke", nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", p.status, p.body)
	}
	p = b.get(p.location)
	mustContain(t, p.body, "Token "+tid+" revoked.", "1 live token,")
	p = b.get("/ui/identities/" + id + "/tokens/" + tid)
	mustContain(t, p.body, "revoked")
	mustNotContain(t, p.body, "Revoke token")
}

func TestIdentityTokensPageRevokesOnlyThisIdentitys(t *testing.T) {
	e := newEnv(t)
	id := e.identity("worker", "member")
	other := e.identity("other", "member")
	value := e.tokenFor(other)
	st, out := e.api("GET", "/api/v1/identities/"+other+"/tokens", rootToken, nil)
	if st != 200 {
		t.Fatal(st)
	}
	tid := out["tokens"].([]any)[0].(map[string]any)["id"].(string)
	b := e.browser()
	b.signIn(rootToken)
	if p := b.post("/ui/identities/"+id+"/tokens/"+tid+"/revoke", nil); p.status != http.StatusNotFound {
		t.Errorf("revoke of another identity's token: %d", p.status)
	}
	if st, _ := e.api("GET", "/api/v1/auth/token/lookup", value, nil); st != 200 {
		t.Errorf("the other identity's token was revoked: %d", st)
	}
}

func TestIdentityTokensPageMemberRefused(t *testing.T) {
	e := newEnv(t)
	id := e.identity("worker", "member")
	value := e.tokenFor(id)
	_, out := e.api("GET", "/api/v1/identities/"+id+"/tokens", rootToken, nil)
	tid := out["tokens"].([]any)[0].(map[string]any)["id"].(string)
	b := e.browser()
	b.signIn(e.tokenFor(e.identity("reader", "member")))
	p := b.get("/ui/identities/" + id + "/tokens")
	if p.status != http.StatusForbidden {
		t.Fatalf("list as member: %d", p.status)
	}
	mustContain(t, p.body, `role="alert"`, "permission denied")
	mustNotContain(t, p.body, "Revoke", tid)
	if p := b.post("/ui/identities/"+id+"/tokens/"+tid+"/revoke", nil); p.status != http.StatusForbidden {
		t.Errorf("revoke as member: %d", p.status)
	}
	if st, _ := e.api("GET", "/api/v1/auth/token/lookup", value, nil); st != 200 {
		t.Errorf("revoked by a member: %d", st)
	}
}

func TestIdentityTokensPageCSRFRefused(t *testing.T) {
	e := newEnv(t)
	id := e.identity("worker", "member")
	value := e.tokenFor(id)
	_, out := e.api("GET", "/api/v1/identities/"+id+"/tokens", rootToken, nil)
	tid := out["tokens"].([]any)[0].(map[string]any)["id"].(string)
	b := e.browser()
	b.signIn(rootToken)
	if p := b.post("/ui/identities/"+id+"/tokens/"+tid+"/revoke", url.Values{"csrf": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("forged revoke: %d", p.status)
	}
	if st, _ := e.api("GET", "/api/v1/auth/token/lookup", value, nil); st != 200 {
		t.Errorf("revoked by a forged form: %d", st)
	}
}
