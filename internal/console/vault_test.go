package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// TestVaultPages: an admin enables a mount, configures it, creates,
// edits and deletes a role, and disables the mount, all from the pages;
// the Vault API's errors are shown next to the fields they name.
func TestVaultPages(t *testing.T) {
	e := newEnv(t)
	c := kubetest.New(t)
	b := e.browser()
	b.signIn(rootToken)

	p := b.get("/ui/vault")
	if p.status != 200 {
		t.Fatalf("vault: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, `href="/ui/vault/mounts/kubernetes"`, "Enable a mount", `<label for="path">`)
	p = b.post("/ui/vault/mounts", url.Values{"path": {"k8s-prod"}, "description": {"<script>alert(1)</script>"}})
	if p.status != http.StatusSeeOther || p.location != "/ui/vault/mounts/k8s-prod" {
		t.Fatalf("enable: %d %q %s", p.status, p.location, p.body)
	}
	p = b.get("/ui/vault")
	mustContain(t, p.body, "k8s-prod/", "&lt;script&gt;alert(1)&lt;/script&gt;")
	mustNotContain(t, p.body, "<script>alert")
	if p := b.post("/ui/vault/mounts", url.Values{"path": {"k8s-prod"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="path-error"`) {
		t.Errorf("enable twice: %d", p.status)
	}

	p = b.get("/ui/vault/mounts/k8s-prod")
	mustContain(t, p.body, "Not configured yet", "No roles.", `<label for="kubernetes_host">`, "Save configuration", "Create role")
	// A bad host: the API's message, next to kubernetes_host.
	p = b.post("/ui/vault/mounts/k8s-prod/config", url.Values{"kubernetes_host": {"https://kube.example:99999"}, "token_review_mode": {"api"}})
	if p.status != http.StatusBadRequest {
		t.Fatalf("bad host: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, `id="kubernetes_host-error"`, "invalid port")
	p = b.post("/ui/vault/mounts/k8s-prod/config", url.Values{"kubernetes_host": {c.URL()}, "kubernetes_ca_cert": {c.CAPEM()},
		"token_review_mode": {"api"}, "disable_iss_validation": {"on"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("config: %d %s", p.status, p.body)
	}
	st, out := e.api("GET", "/v1/auth/k8s-prod/config", rootToken, nil)
	if data, _ := out["data"].(map[string]any); st != 200 || data["kubernetes_host"] != c.URL() || data["disable_iss_validation"] != true {
		t.Fatalf("stored config: %d %v", st, out)
	}
	mustContain(t, b.get("/ui/vault/mounts/k8s-prod").body, "Configuration saved.", `value="`+c.URL()+`"`)

	// Roles: a bad TTL is shown next to token_ttl; then created, edited, deleted.
	role := url.Values{"name": {"web"}, "bound_service_account_names": {"web"}, "bound_service_account_namespaces": {"apps"},
		"audience": {"vault"}, "token_policies": {"read,write"}, "token_ttl": {"forever"}, "alias_name_source": {"serviceaccount_uid"}, "token_type": {"default"}}
	p = b.post("/ui/vault/mounts/k8s-prod/roles", role)
	if p.status != http.StatusBadRequest {
		t.Fatalf("bad TTL: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, `id="role-token_ttl-error"`, `value="forever"`)
	role.Set("token_ttl", "1h")
	p = b.post("/ui/vault/mounts/k8s-prod/roles", role)
	if p.status != http.StatusSeeOther || p.location != "/ui/vault/mounts/k8s-prod/roles/web" {
		t.Fatalf("create role: %d %q %s", p.status, p.location, p.body)
	}
	p = b.get("/ui/vault/mounts/k8s-prod/roles/web")
	mustContain(t, p.body, "Role web saved.", `value="read,write"`, `value="3600"`, "Delete role web")
	role.Del("name")
	role.Set("bound_service_account_namespaces", "apps,team-*")
	if p := b.post("/ui/vault/mounts/k8s-prod/roles/web", role); p.status != http.StatusSeeOther {
		t.Fatalf("update role: %d %s", p.status, p.body)
	}
	_, out = e.api("GET", "/v1/auth/k8s-prod/role/web", rootToken, nil)
	if ns := out["data"].(map[string]any)["bound_service_account_namespaces"].([]any); len(ns) != 2 {
		t.Errorf("namespaces after update: %v", ns)
	}
	mustContain(t, b.get("/ui/vault/mounts/k8s-prod").body, `href="/ui/vault/mounts/k8s-prod/roles/web"`)
	if p := b.post("/ui/vault/mounts/k8s-prod/roles/web/delete", nil); p.status != http.StatusSeeOther {
		t.Fatalf("delete role: %d", p.status)
	}
	if p := b.get("/ui/vault/mounts/k8s-prod/roles/web"); p.status != http.StatusNotFound {
		t.Errorf("deleted role: %d", p.status)
	}
	if p := b.post("/ui/vault/mounts/k8s-prod/delete", nil); p.status != http.StatusSeeOther {
		t.Fatalf("disable: %d", p.status)
	}
	if p := b.get("/ui/vault/mounts/k8s-prod"); p.status != http.StatusNotFound {
		t.Errorf("disabled mount: %d", p.status)
	}
}

// TestVaultPagesNestedMount: a mount path with a slash has pages too.
func TestVaultPagesNestedMount(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(rootToken)
	b.get("/ui/vault")
	p := b.post("/ui/vault/mounts", url.Values{"path": {"team/prod"}})
	if p.status != http.StatusSeeOther || p.location != "/ui/vault/mounts/team%2Fprod" {
		t.Fatalf("enable: %d %q %s", p.status, p.location, p.body)
	}
	mustContain(t, b.get("/ui/vault").body, `href="/ui/vault/mounts/team%2Fprod"`)
	p = b.get(p.location)
	if p.status != 200 {
		t.Fatalf("mount page: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, "Mount team/prod/", `action="/ui/vault/mounts/team%2Fprod/config"`)
	p = b.post("/ui/vault/mounts/team%2Fprod/roles", url.Values{"name": {"web"}, "bound_service_account_names": {"web"},
		"bound_service_account_namespaces": {"apps"}, "audience": {"vault"}})
	if p.status != http.StatusSeeOther || p.location != "/ui/vault/mounts/team%2Fprod/roles/web" {
		t.Fatalf("create role: %d %q %s", p.status, p.location, p.body)
	}
	if st, _ := e.api("GET", "/v1/auth/team/prod/role/web", rootToken, nil); st != 200 {
		t.Errorf("role on the nested mount: %d", st)
	}
	mustContain(t, b.get(p.location).body, "Role web", `action="/ui/vault/mounts/team%2Fprod/roles/web"`)
}

// TestVaultPagesMemberAndCSRF: a member sees no admin form and the API
// refuses its posts; a post without the CSRF value is refused.
func TestVaultPagesMemberAndCSRF(t *testing.T) {
	e := newEnv(t)
	member := e.browser()
	member.signIn(e.tokenFor(e.identity("viewer", "member")))
	p := member.get("/ui/vault")
	if p.status != 200 {
		t.Fatalf("member vault page: %d", p.status)
	}
	mustContain(t, p.body, "Only administrators")
	mustNotContain(t, p.body, "Enable a mount", `name="path"`)
	for _, path := range []string{"/ui/vault/mounts", "/ui/vault/mounts/kubernetes/config", "/ui/vault/mounts/kubernetes/roles",
		"/ui/vault/mounts/kubernetes/delete"} {
		if p := member.post(path, url.Values{"path": {"x"}, "name": {"r"}, "kubernetes_host": {"https://k"}}); p.status != http.StatusForbidden {
			t.Errorf("member POST %s: %d", path, p.status)
		}
	}
	// The API lets a member read a mount (config and roles): no forms.
	p = member.get("/ui/vault/mounts/kubernetes")
	if p.status != 200 {
		t.Errorf("member mount page: %d", p.status)
	}
	mustNotContain(t, p.body, "Save configuration", "Create role", "Disable mount", `name="token_reviewer_jwt"`)
	admin := e.browser()
	admin.signIn(rootToken)
	if p := admin.post("/ui/vault/mounts", url.Values{"path": {"forged"}, "csrf": {"nope"}}); p.status != http.StatusForbidden {
		t.Errorf("forged CSRF: %d", p.status)
	}
	if st, out := e.api("GET", "/v1/sys/auth", rootToken, nil); st != 200 || out["data"].(map[string]any)["forged/"] != nil || out["data"].(map[string]any)["x/"] != nil {
		t.Errorf("a refused post enabled a mount: %v", out["data"])
	}
}
