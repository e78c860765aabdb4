package server_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// uaToken creates an identity with role, Universal Auth and a client
// secret, and returns its id and a token from a real login.
func (ts *testServer) uaToken(role string) (identityID, tok string) {
	ts.t.Helper()
	identityID = ts.createIdentity("ua-"+role, role)
	clientID := ts.attachUA(identityID, map[string]any{})["clientId"].(string)
	secret, _ := ts.createSecret(identityID, map[string]any{})
	r := ts.uaLogin(clientID, secret, nil)
	if r.status != 200 {
		ts.t.Fatalf("login: %d %s", r.status, r.raw)
	}
	return identityID, r.body["accessToken"].(string)
}

// auditEvents reads the whole audit log with tok.
func (ts *testServer) auditEvents(tok string) []map[string]any {
	ts.t.Helper()
	r := ts.do("GET", "/api/v1/audit-logs?limit=100", tok, nil)
	if r.status != 200 {
		ts.t.Fatalf("audit log: %d %s", r.status, r.raw)
	}
	var out []map[string]any
	for _, e := range r.body["auditLogs"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

func detailsOf(e map[string]any) map[string]any { return e["details"].(map[string]any) }

// rootAccessor is the accessor of the root token as root reads it in the
// audit log (its creation event).
func (ts *testServer) rootAccessor() string {
	ts.t.Helper()
	for _, e := range ts.auditEvents(ts.root) {
		if e["type"] == "root-token.create" {
			return detailsOf(e)["accessor"].(string)
		}
	}
	ts.t.Fatal("no root-token.create event")
	return ""
}

// TestRootTokenAnswersOnlyToRoot: an admin identity can neither revoke nor
// look up the root token, by accessor or by value, on the Vault API (403
// permission denied, as Vault answers a non-root token revoking a root
// token); the audit log hides the root accessor from it; root itself can
// look itself up and revoke itself.
func TestRootTokenAnswersOnlyToRoot(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.rootAccessor()
	_, admin := ts.uaToken("admin")

	for _, e := range ts.auditEvents(admin) {
		if e["type"] == "root-token.create" && detailsOf(e)["accessor"] != "(hidden: root token)" {
			t.Errorf("an admin identity reads the root-token.create event as %v", e)
		}
		if got, _ := detailsOf(e)["accessor"].(string); got == acc {
			t.Errorf("an admin identity reads the root accessor in %v", e)
		}
	}

	for _, c := range []struct{ path, body string }{
		{"auth/token/revoke-accessor", `{"accessor":"` + acc + `"}`},
		{"auth/token/lookup-accessor", `{"accessor":"` + acc + `"}`},
		{"auth/token/revoke", `{"token":"` + ts.root + `"}`},
		{"auth/token/lookup", `{"token":"` + ts.root + `"}`},
	} {
		r := ts.vault("POST", c.path, admin, c.body)
		vaultErrorOK(t, r, 403, "permission denied")
		if strings.Contains(r.raw, ts.root) {
			t.Errorf("%s echoes the root token", c.path)
		}
	}
	if r := ts.do("GET", "/api/v1/identities?limit=1", ts.root, nil); r.status != 200 {
		t.Fatalf("root token after the identity's attempts: %d %s", r.status, r.raw)
	}
	for _, e := range ts.auditEvents(ts.root) {
		if e["type"] == "token.revoke" {
			t.Errorf("a refused revocation was audited as one: %v", e)
		}
	}

	// Root may look itself up by accessor, and revoke itself.
	if d := dataOf(t, ts.vaultOK("POST", "auth/token/lookup-accessor", ts.root, map[string]string{"accessor": acc})); d["accessor"] != acc {
		t.Errorf("root looking itself up: %v", d)
	}
	root := ts.root
	noContent(t, ts.vault("POST", "auth/token/revoke-self", root, nil))
	vaultErrorOK(t, ts.vault("GET", "auth/token/lookup-self", root, nil), 403, "revoked")
}

// TestAdminsRevokeIdentityTokensAudited: an admin identity may still revoke
// another identity's token, and that is audited.
func TestAdminsRevokeIdentityTokens(t *testing.T) {
	ts := newTestServer(t)
	adminID, admin := ts.uaToken("admin")
	_, member := ts.uaToken("member")
	acc := dataOf(t, ts.vaultOK("GET", "auth/token/lookup-self", member, nil))["accessor"].(string)
	noContent(t, ts.vault("POST", "auth/token/revoke-accessor", admin, map[string]string{"accessor": acc}))
	found := false
	for _, e := range ts.auditEvents(ts.root) {
		if e["type"] == "token.revoke" && detailsOf(e)["accessor"] == acc {
			found = e["actorId"] == adminID && detailsOf(e)["cause"] == "revoke-accessor"
		}
	}
	if !found {
		t.Errorf("no token.revoke event by %s for accessor %s", adminID, acc)
	}
}

// TestRevocationsAudited: every way a token is revoked writes a token.revoke
// event naming who revoked what (accessor, or the scope of a cascade) and
// why, and no event holds a token.
func TestRevocationsAudited(t *testing.T) {
	ts, _ := newVaultServer(t)
	var tokens []string
	accessorOf := func(tok string) string {
		return dataOf(t, ts.vaultOK("GET", "auth/token/lookup-self", tok, nil))["accessor"].(string)
	}
	type want struct{ actor, cause, key, value string }
	var wants []want

	// Infisical revoke (the token revokes itself).
	idA, a := ts.uaToken("member")
	accA := accessorOf(a)
	if r := ts.do("POST", "/api/v1/auth/token/revoke", "", map[string]string{"accessToken": a}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	wants = append(wants, want{idA, "revoke-self", "accessor", accA})

	// Vault revoke-self, revoke {token}, revoke-accessor.
	idB, b := ts.uaToken("member")
	accB := accessorOf(b)
	noContent(t, ts.vault("POST", "auth/token/revoke-self", b, nil))
	wants = append(wants, want{idB, "revoke-self", "accessor", accB})
	_, c := ts.uaToken("member")
	accC := accessorOf(c)
	noContent(t, ts.vault("POST", "auth/token/revoke", ts.root, map[string]string{"token": c}))
	wants = append(wants, want{"root", "revoke", "accessor", accC})
	_, d := ts.uaToken("member")
	accD := accessorOf(d)
	noContent(t, ts.vault("POST", "auth/token/revoke-accessor", ts.root, map[string]string{"accessor": accD}))
	wants = append(wants, want{"root", "revoke-accessor", "accessor", accD})
	tokens = append(tokens, a, b, c, d)

	// Cascades: revoking a client secret, detaching Universal Auth,
	// deleting an identity, disabling a Vault mount.
	idE, e := ts.uaToken("member")
	tokens = append(tokens, e)
	r := ts.do("GET", uaBase+"/identities/"+idE+"/client-secrets", ts.root, nil)
	csID := r.body["clientSecretData"].([]any)[0].(map[string]any)["id"].(string)
	if r := ts.do("POST", uaBase+"/identities/"+idE+"/client-secrets/"+csID+"/revoke", ts.root, nil); r.status != 200 {
		t.Fatalf("revoke client secret: %d %s", r.status, r.raw)
	}
	wants = append(wants, want{"root", "client-secret.revoke", "clientSecretId", csID})
	idF, f := ts.uaToken("member")
	tokens = append(tokens, f)
	if r := ts.do("DELETE", uaBase+"/identities/"+idF, ts.root, nil); r.status != 200 {
		t.Fatalf("detach: %d %s", r.status, r.raw)
	}
	wants = append(wants, want{"root", "auth-method.delete", "authMethod", string(store.AuthMethodUniversal)})
	idG, g := ts.uaToken("member")
	tokens = append(tokens, g)
	if r := ts.do("DELETE", "/api/v1/identities/"+idG, ts.root, nil); r.status != 200 {
		t.Fatalf("delete identity: %d %s", r.status, r.raw)
	}
	wants = append(wants, want{"root", "identity.delete", "identityId", idG})
	ts.vaultOK("POST", "sys/auth/k8s-roles", ts.root, map[string]any{"type": "kubernetes"})
	noContent(t, ts.vault("POST", "auth/k8s-roles/role/web", ts.root, map[string]any{
		"bound_service_account_names": []string{"web"}, "bound_service_account_namespaces": "apps", "audience": "vault",
	}))
	noContent(t, ts.vault("DELETE", "auth/k8s-roles/role/web", ts.root, nil))
	wants = append(wants, want{"root", "role.delete", "role", "web"})
	ts.vaultOK("POST", "sys/auth/k8s-gone", ts.root, map[string]any{"type": "kubernetes"})
	noContent(t, ts.vault("DELETE", "sys/auth/k8s-gone", ts.root, nil))
	wants = append(wants, want{"root", "mount.delete", "mount", "k8s-gone"})

	events := ts.auditEvents(ts.root)
	for _, w := range wants {
		found := false
		for _, e := range events {
			d := detailsOf(e)
			if e["type"] == "token.revoke" && e["actorId"] == w.actor && d["cause"] == w.cause && d[w.key] == w.value {
				found = true
			}
		}
		if !found {
			t.Errorf("no token.revoke event by %s for %s with %s = %s", w.actor, w.cause, w.key, w.value)
		}
	}
	raw := ts.do("GET", "/api/v1/audit-logs?limit=100", ts.root, nil).raw
	for _, tok := range append(tokens, ts.root) {
		if strings.Contains(raw, tok) {
			t.Errorf("the audit log holds a token")
		}
	}
}

// TestRootTokenSelfRevocationOnInfisical: a root token revokes itself with
// the Infisical API's revoke (its own value); the event names it by
// accessor, which root reads and an admin identity does not.
func TestRootTokenSelfRevocationOnInfisical(t *testing.T) {
	ts := newTestServer(t)
	_, admin := ts.uaToken("admin")
	issued, err := ts.srv.Tokens().IssueRoot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	second := issued.Token.Reveal()
	// An identity cannot revoke it through the Infisical API either: its
	// revoke takes only the caller's own token.
	if r := ts.do("POST", "/api/v1/auth/token/revoke", admin, map[string]string{"accessToken": second}); r.status != 200 {
		t.Fatalf("revoke with the token's own value: %d %s", r.status, r.raw)
	}
	if r := ts.do("GET", "/api/v1/identities?limit=1", second, nil); r.status != 401 {
		t.Fatalf("the revoked root token still works: %d %s", r.status, r.raw)
	}
	var rootEvent, adminEvent map[string]any
	for _, e := range ts.auditEvents(ts.root) {
		if e["type"] == "token.revoke" && detailsOf(e)["accessor"] == issued.Record.ID {
			rootEvent = e
		}
	}
	for _, e := range ts.auditEvents(admin) {
		if e["type"] == "token.revoke" && detailsOf(e)["cause"] == "revoke-self" && e["actorId"] == "root" {
			adminEvent = e
		}
	}
	if rootEvent == nil || rootEvent["actorId"] != "root" || detailsOf(rootEvent)["tokenType"] != "root" {
		t.Errorf("root reads the self-revocation as %v", rootEvent)
	}
	if adminEvent == nil || detailsOf(adminEvent)["accessor"] != "(hidden: root token)" {
		t.Errorf("an admin identity reads the self-revocation as %v", adminEvent)
	}
}
