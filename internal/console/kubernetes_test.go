package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

func kubeUI(id string) string { return "/ui/identities/" + id + "/kubernetes-auth" }

// kubeForm is an attach form for cluster c.
func kubeForm(c *kubetest.Cluster, reviewer string) url.Values {
	return url.Values{
		"tokenReviewMode": {"api"}, "kubernetesHost": {c.Host()}, "caCert": {strings.ReplaceAll(c.CAPEM(), "\n", "\r\n")},
		"verifyTlsCertificate": {"on"}, "tokenReviewerJwt": {reviewer}, "allowedNamespaces": {"apps"},
		"allowedNames": {"web"}, "accessTokenTTL": {"600"}, "accessTokenMaxTTL": {"3600"}, "accessTokenNumUsesLimit": {"0"},
		"accessTokenTrustedIps": {"0.0.0.0/0, ::/0"},
	}
}

// TestKubernetesAuthPage: an admin attaches Kubernetes Auth from the
// page, tests the connection (working, then a reviewer that lost
// system:auth-delegator), changes a setting and revokes it.
func TestKubernetesAuthPage(t *testing.T) {
	e := newEnv(t)
	c := kubetest.New(t)
	id := e.identity("web-app", "member")
	b := e.browser()
	b.signIn(rootToken)

	p := b.get(kubeUI(id))
	if p.status != 200 {
		t.Fatalf("page: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, "has no Kubernetes Auth", "Attach Kubernetes Auth", `<label for="caCert">`, "system roots are never used",
		`<label for="tokenReviewerJwt">`, `type="password"`)
	p = b.post(kubeUI(id), kubeForm(c, c.ReviewerToken("kube-system", "reviewer")))
	if p.status != http.StatusSeeOther || p.location != kubeUI(id) {
		t.Fatalf("attach: %d %q %s", p.status, p.location, p.body)
	}
	st, out := e.api("GET", "/api/v1/auth/kubernetes-auth/identities/"+id, rootToken, nil)
	got, _ := out["identityKubernetesAuth"].(map[string]any)
	if st != 200 || got["caCert"] != strings.TrimSpace(c.CAPEM()) || got["tokenReviewerJwtSet"] != true || got["allowedNamespaces"] != "apps" ||
		got["accessTokenTTL"] != 600.0 || got["verifyTlsCertificate"] != true {
		t.Fatalf("stored: %d %v", st, out)
	}
	p = b.get(kubeUI(id))
	mustContain(t, p.body, "Kubernetes Auth attached.", "Current settings", "set (never shown)", "Test connection", "Change settings", "Revoke Kubernetes Auth")

	// Test connection: works.
	p = b.post(kubeUI(id)+"/test", nil)
	if p.status != 200 {
		t.Fatalf("test: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, "Connection works.", "may create TokenReviews")
	// The reviewer loses system:auth-delegator: the test says so.
	c.RevokeAuthDelegator("kube-system", "reviewer")
	p = b.post(kubeUI(id)+"/test", nil)
	mustContain(t, p.body, "Connection failed (reviewer-forbidden).", "bind that service account to system:auth-delegator", `role="alert"`)
	mustNotContain(t, p.body, "Connection works.")

	// An update that changes one field sends only it (the CA is left as
	// it is, the reviewer JWT kept).
	f := kubeForm(c, "")
	f.Set("allowedNames", "web,worker-*")
	p = b.post(kubeUI(id), f)
	if p.status != http.StatusSeeOther {
		t.Fatalf("update: %d %s", p.status, p.body)
	}
	_, out = e.api("GET", "/api/v1/auth/kubernetes-auth/identities/"+id, rootToken, nil)
	if got := out["identityKubernetesAuth"].(map[string]any); got["allowedNames"] != "web,worker-*" || got["tokenReviewerJwtSet"] != true {
		t.Errorf("after update: %v", got)
	}

	p = b.post(kubeUI(id)+"/revoke", nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", p.status, p.body)
	}
	if st, _ := e.api("GET", "/api/v1/auth/kubernetes-auth/identities/"+id, rootToken, nil); st != 404 {
		t.Errorf("after revoke: %d", st)
	}
	mustContain(t, b.get(kubeUI(id)).body, "Kubernetes Auth revoked", "has no Kubernetes Auth")
}

// TestKubernetesAuthPageFieldErrors: the API's validation errors and its
// TLS rule are shown next to the fields; a number that does not parse is
// refused before the API.
func TestKubernetesAuthPageFieldErrors(t *testing.T) {
	e := newEnv(t)
	c := kubetest.New(t)
	id := e.identity("web-app", "member")
	b := e.browser()
	b.signIn(rootToken)
	b.get(kubeUI(id))

	f := kubeForm(c, "")
	f.Set("allowedNamespaces", "apps,")
	p := b.post(kubeUI(id), f)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad namespaces: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, `id="allowedNamespaces" name="allowedNamespaces" value="apps," aria-invalid="true" aria-describedby="allowedNamespaces-error"`,
		`<p class="field-error" id="allowedNamespaces-error">`, `role="alert"`)

	f = kubeForm(c, "")
	f.Set("caCert", "")
	p = b.post(kubeUI(id), f)
	if p.status != http.StatusBadRequest {
		t.Fatalf("verification without CA: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, `id="caCert-error"`)

	f = kubeForm(c, "")
	f.Set("accessTokenTTL", "ten minutes")
	p = b.post(kubeUI(id), f)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad TTL: %d", p.status)
	}
	mustContain(t, p.body, `id="accessTokenTTL-error">Enter a whole number of seconds.`)
	if st, _ := e.api("GET", "/api/v1/auth/kubernetes-auth/identities/"+id, rootToken, nil); st != 404 {
		t.Errorf("a refused form attached something: %d", st)
	}
}

// TestKubernetesAuthPageMember: a member sees no admin form and is
// refused by the API anyway; a post without the CSRF value is refused
// before it.
func TestKubernetesAuthPageMember(t *testing.T) {
	e := newEnv(t)
	c := kubetest.New(t)
	id := e.identity("web-app", "member")
	member := e.browser()
	member.signIn(e.tokenFor(e.identity("viewer", "member")))
	p := member.get(kubeUI(id))
	if p.status != 200 {
		t.Fatalf("member page: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, "Only administrators")
	mustNotContain(t, p.body, "Attach Kubernetes Auth", "Test connection", `name="tokenReviewerJwt"`, "Revoke")
	for _, path := range []string{kubeUI(id), kubeUI(id) + "/test", kubeUI(id) + "/revoke"} {
		if p := member.post(path, kubeForm(c, "")); p.status != http.StatusForbidden {
			t.Errorf("member POST %s: %d", path, p.status)
		}
	}
	admin := e.browser()
	admin.signIn(rootToken)
	admin.get(kubeUI(id))
	f := kubeForm(c, "")
	f.Set("csrf", "forged")
	if p := admin.post(kubeUI(id), f); p.status != http.StatusForbidden || !strings.Contains(p.body, "CSRF") {
		t.Errorf("forged CSRF: %d", p.status)
	}
	f.Del("csrf")
	if p := admin.postHeaders(kubeUI(id), f, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); p.status != http.StatusForbidden {
		t.Errorf("cross-site post: %d", p.status)
	}
	if st, _ := e.api("GET", "/api/v1/auth/kubernetes-auth/identities/"+id, rootToken, nil); st != 404 {
		t.Errorf("a refused post attached something: %d", st)
	}
	if p := admin.get(kubeUI("0f5d3b0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f")); p.status != http.StatusNotFound {
		t.Errorf("unknown identity: %d", p.status)
	}
}

// TestKubernetesAuthPageEscaping: names and values are text, never markup.
func TestKubernetesAuthPageEscaping(t *testing.T) {
	e := newEnv(t)
	c := kubetest.New(t)
	id := e.identity("<script>alert(1)</script>", "member")
	b := e.browser()
	b.signIn(rootToken)
	f := kubeForm(c, "")
	f.Set("allowedAudience", `"><script>alert(2)</script>`)
	b.get(kubeUI(id))
	if p := b.post(kubeUI(id), f); p.status != http.StatusSeeOther {
		t.Fatalf("attach: %d %s", p.status, p.body)
	}
	p := b.get(kubeUI(id))
	mustContain(t, p.body, "&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;")
	mustNotContain(t, p.body, "<script>alert")
}

// TestReviewerJWTNeverInAPage: the reviewer JWT is sent by forms but
// never shown by any page: not after attach, not in the test's result,
// not when a form with it is refused and shown again, not on the Vault
// mount page.
func TestReviewerJWTNeverInAPage(t *testing.T) {
	e := newEnv(t)
	c := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "reviewer")
	id := e.identity("web-app", "member")
	b := e.browser()
	b.signIn(rootToken)
	b.get(kubeUI(id))
	var pages []page
	bad := kubeForm(c, reviewer)
	bad.Set("allowedNames", "web,")
	pages = append(pages, b.post(kubeUI(id), bad))
	pages = append(pages, b.post(kubeUI(id), kubeForm(c, reviewer)))
	pages = append(pages, b.get(kubeUI(id)), b.post(kubeUI(id)+"/test", nil))
	pages = append(pages, b.post(kubeUI(id), bad))
	b.get("/ui/vault/mounts/kubernetes")
	pages = append(pages, b.post("/ui/vault/mounts/kubernetes/config", url.Values{"kubernetes_host": {c.Host()},
		"kubernetes_ca_cert": {c.CAPEM()}, "token_reviewer_jwt": {reviewer}, "token_review_mode": {"api"}}))
	pages = append(pages, b.get("/ui/vault/mounts/kubernetes"))
	pages = append(pages, b.post("/ui/vault/mounts/kubernetes/config", url.Values{"kubernetes_host": {"https://bad host"},
		"token_reviewer_jwt": {reviewer}, "token_review_mode": {"api"}}))
	for i, p := range pages {
		if p.status >= 500 {
			t.Errorf("page %d: %d", i, p.status)
		}
		if strings.Contains(p.body, reviewer) || strings.Contains(p.location, reviewer) {
			t.Errorf("page %d (%d) shows the reviewer JWT", i, p.status)
		}
	}
	if pages[0].status != http.StatusUnprocessableEntity || pages[1].status != http.StatusSeeOther || pages[5].status != http.StatusSeeOther ||
		pages[7].status != http.StatusBadRequest {
		t.Errorf("statuses: %d %d %d %d", pages[0].status, pages[1].status, pages[5].status, pages[7].status)
	}
	mustContain(t, pages[6].body, "(one is stored)")
	// A refused form asks for the JWT again, since it never comes back.
	mustContain(t, pages[0].body, "Enter the reviewer JWT again")
	mustContain(t, pages[7].body, "Enter token_reviewer_jwt again")
	if strings.Contains(pages[2].body, "Enter the reviewer JWT again") || strings.Contains(pages[6].body, "again:") {
		t.Error("a page that refused nothing asks for the reviewer JWT again")
	}
}
