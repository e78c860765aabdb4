package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var secretRE = regexp.MustCompile(`<code class="secret" id="new-secret">([^<]+)</code>`)

// login logs in with Universal Auth through the API; it returns the status.
func (e *env) login(clientID, secret string) int {
	e.t.Helper()
	st, _ := e.api("POST", "/api/v1/auth/universal-auth/login", "", map[string]string{"clientId": clientID, "clientSecret": secret})
	return st
}

func (e *env) clientID(id string) string {
	e.t.Helper()
	st, out := e.api("GET", "/api/v1/auth/universal-auth/identities/"+id, rootToken, nil)
	if st != 200 {
		e.t.Fatalf("get universal auth: %d %v", st, out)
	}
	return out["identityUniversalAuth"].(map[string]any)["clientId"].(string)
}

func TestUniversalAuthAttachSecretLoginRevoke(t *testing.T) {
	e := newEnv(t)
	id := e.identity("worker", "member")
	b := e.browser()
	b.signIn(rootToken)
	p := b.get("/ui/identities/" + id + "/universal-auth")
	mustContain(t, p.body, "not attached", "Attach Universal Auth")

	p = b.post("/ui/identities/"+id+"/universal-auth", url.Values{"attach": {"1"}, "accessTokenTTL": {"600"}, "lockoutEnabled": {"on"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("attach: %d %s", p.status, p.body)
	}
	p = b.get(p.location)
	mustContain(t, p.body, "Universal Auth attached.", "600 s", "Save settings", "Create a client secret")

	p = b.post("/ui/identities/"+id+"/universal-auth/client-secrets", url.Values{"description": {"ci <b>runner</b>"}})
	if p.status != 200 {
		t.Fatalf("create secret: %d %s", p.status, p.body)
	}
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("the page does not show the new secret")
	}
	secret := m[1]
	mustContain(t, p.body, `data-copy="new-secret"`, "shown only this once", "ci &lt;b&gt;runner&lt;/b&gt;")
	clientID := e.clientID(id)
	if st := e.login(clientID, secret); st != 200 {
		t.Fatalf("login with the shown secret: %d", st)
	}
	// Shown once: the page never shows it again.
	p = b.get("/ui/identities/" + id + "/universal-auth")
	mustNotContain(t, p.body, secret, `id="new-secret"`)

	re := regexp.MustCompile(`action="(/ui/identities/[^"]+/client-secrets/[^"]+/revoke)"`)
	rm := re.FindStringSubmatch(p.body)
	if rm == nil {
		t.Fatal("no revoke form")
	}
	p = b.post(rm[1], nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", p.status, p.body)
	}
	p = b.get(p.location)
	mustContain(t, p.body, "Client secret revoked.", "revoked")
	if st := e.login(clientID, secret); st != http.StatusUnauthorized {
		t.Errorf("login with a revoked secret: %d", st)
	}

	p = b.post("/ui/identities/"+id+"/universal-auth/detach", nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("detach: %d", p.status)
	}
	if st, _ := e.api("GET", "/api/v1/auth/universal-auth/identities/"+id, rootToken, nil); st != http.StatusNotFound {
		t.Errorf("after detach: %d", st)
	}
}

func TestUniversalAuthValidationErrorsBesideFields(t *testing.T) {
	e := newEnv(t)
	id := e.identity("worker", "member")
	b := e.browser()
	b.signIn(rootToken)
	b.get("/ui/identities/" + id + "/universal-auth")
	p := b.post("/ui/identities/"+id+"/universal-auth", url.Values{"attach": {"1"}, "accessTokenTTL": {"-5"}, "clientSecretTrustedIps": {"not-an-ip"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("attach: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, `id="accessTokenTTL-error"`, `aria-describedby="accessTokenTTL-error"`,
		`id="clientSecretTrustedIps-error"`, "line 1 ipAddress: must be an IPv4 or IPv6 address or CIDR", `value="-5"`)

	p = b.post("/ui/identities/"+id+"/universal-auth", url.Values{"attach": {"1"}, "accessTokenMaxTTL": {"ten"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("attach with a word: %d", p.status)
	}
	mustContain(t, p.body, `id="accessTokenMaxTTL-error"`, "must be a whole number")

	b.post("/ui/identities/"+id+"/universal-auth", url.Values{"attach": {"1"}})
	p = b.post("/ui/identities/"+id+"/universal-auth/client-secrets", url.Values{"description": {strings.Repeat("d", 1100)}, "ttl": {"-1"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("create secret: %d", p.status)
	}
	mustContain(t, p.body, `id="description-error"`, `id="ttl-error"`)
	mustNotContain(t, p.body, `id="new-secret"`)
}

func TestUniversalAuthLockoutsClear(t *testing.T) {
	e := newEnv(t)
	id := e.identity("worker", "member")
	b := e.browser()
	b.signIn(rootToken)
	b.post("/ui/identities/"+id+"/universal-auth", url.Values{"attach": {"1"}, "lockoutEnabled": {"on"}, "lockoutThreshold": {"1"}, "lockoutDurationSeconds": {"300"}})
	clientID := e.clientID(id)
	e.login(clientID, "wrong")
	p := b.get("/ui/identities/" + id + "/universal-auth")
	mustContain(t, p.body, "Clear lockouts", "127.0.0.1")
	p = b.post("/ui/identities/"+id+"/universal-auth/clear-lockouts", nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("clear: %d", p.status)
	}
	p = b.get(p.location)
	mustContain(t, p.body, "1 lockout(s) cleared.", "No address is locked out.")
}

func TestUniversalAuthMemberReadOnly(t *testing.T) {
	e := newEnv(t)
	id := e.identity("worker", "member")
	e.api("POST", "/api/v1/auth/universal-auth/identities/"+id, rootToken, map[string]any{})
	st, out := e.api("POST", "/api/v1/auth/universal-auth/identities/"+id+"/client-secrets", rootToken, map[string]any{"description": "kept"})
	if st != 200 {
		t.Fatalf("create secret: %d %v", st, out)
	}
	sid := out["clientSecretData"].(map[string]any)["id"].(string)
	b := e.browser()
	b.signIn(e.tokenFor(e.identity("reader", "member")))
	p := b.get("/ui/identities/" + id + "/universal-auth")
	if p.status != 200 {
		t.Fatalf("page: %d", p.status)
	}
	mustContain(t, p.body, "kept", "active")
	mustNotContain(t, p.body, "Create a client secret", "Save settings", "Revoke", "Detach")
	base := "/ui/identities/" + id + "/universal-auth"
	for _, path := range []string{base, base + "/client-secrets", base + "/client-secrets/" + sid + "/revoke", base + "/clear-lockouts", base + "/detach"} {
		if p := b.post(path, url.Values{"accessTokenTTL": {"1"}}); p.status != http.StatusForbidden {
			t.Errorf("POST %s as member: %d", path, p.status)
		}
	}
	_, out = e.api("GET", "/api/v1/auth/universal-auth/identities/"+id+"/client-secrets", rootToken, nil)
	secrets := out["clientSecretData"].([]any)
	if len(secrets) != 1 || secrets[0].(map[string]any)["isClientSecretRevoked"] != false {
		t.Errorf("secrets changed: %v", secrets)
	}
}

func TestUniversalAuthCSRFRefused(t *testing.T) {
	e := newEnv(t)
	id := e.identity("worker", "member")
	b := e.browser()
	b.signIn(rootToken)
	base := "/ui/identities/" + id + "/universal-auth"
	for _, path := range []string{base, base + "/client-secrets", base + "/clear-lockouts", base + "/detach"} {
		if p := b.post(path, url.Values{"csrf": {"forged"}, "attach": {"1"}}); p.status != http.StatusForbidden {
			t.Errorf("POST %s: %d", path, p.status)
		}
	}
	if st, _ := e.api("GET", "/api/v1/auth/universal-auth/identities/"+id, rootToken, nil); st != http.StatusNotFound {
		t.Errorf("attached by a forged form: %d", st)
	}
}

// The console calls the API from the browser's address: a token bound to
// 127.0.0.1 (the test's address) works through the console, and stops
// working there when its method's trusted IPs no longer hold it (403).
func TestConsoleCallsFromTheBrowsersAddress(t *testing.T) {
	e := newEnv(t)
	id := e.identity("bound", "admin")
	uaPath := "/api/v1/auth/universal-auth/identities/" + id
	if st, out := e.api("POST", uaPath, rootToken, map[string]any{"accessTokenTrustedIps": []map[string]string{{"ipAddress": "127.0.0.1/32"}}}); st != 200 {
		t.Fatalf("attach: %d %v", st, out)
	}
	_, out := e.api("POST", uaPath+"/client-secrets", rootToken, map[string]any{})
	st, login := e.api("POST", "/api/v1/auth/universal-auth/login", "", map[string]string{"clientId": e.clientID(id), "clientSecret": out["clientSecret"].(string)})
	if st != 200 {
		t.Fatalf("login: %d %v", st, login)
	}
	b := e.browser()
	b.signIn(login["accessToken"].(string))
	if p := b.get("/ui/identities"); p.status != 200 {
		t.Fatalf("identities: %d", p.status)
	}
	if st, out := e.api("PATCH", uaPath, rootToken, map[string]any{"accessTokenTrustedIps": []map[string]string{{"ipAddress": "10.0.0.0/8"}}}); st != 200 {
		t.Fatalf("update: %d %v", st, out)
	}
	if p := b.get("/ui/identities"); p.status != http.StatusForbidden {
		t.Fatalf("identities from an untrusted address: %d", p.status)
	}
}
