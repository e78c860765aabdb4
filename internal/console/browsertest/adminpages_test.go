package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// fieldErrorNextTo checks, in the page, that the field with id is marked
// invalid (aria-invalid, aria-describedby) and that the error it points
// at is visible right below it; it returns the error's text.
func fieldErrorNextTo(ctx context.Context, t *testing.T, id string) string {
	t.Helper()
	got := eval[string](ctx, t, fmt.Sprintf(`(function () {
  var f = document.getElementById(%q);
  if (!f) { return "no field"; }
  var eid = (f.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (x) { return /-error$/.test(x); })[0];
  if (f.getAttribute("aria-invalid") !== "true" || !eid) { return "the field is not marked invalid"; }
  var e = document.getElementById(eid);
  if (!e) { return "no element " + eid; }
  var a = f.getBoundingClientRect(), b = e.getBoundingClientRect();
  if (b.height === 0) { return "the error is hidden"; }
  var gap = b.top - a.bottom;
  if (gap < 0 || gap > 48) { return "the error is " + gap + " px away from its field"; }
  return "ok: " + e.textContent.trim();
})()`, id))
	msg, ok := strings.CutPrefix(got, "ok: ")
	if !ok || msg == "" {
		t.Fatalf("the error of field #%s: %s", id, got)
	}
	return msg
}

// submit clicks the submit button of the form that matches sel and waits
// until after (a CSS selector, no list) is visible on the next page: the
// current page is marked first, so a match on it does not count.
func submit(ctx context.Context, t *testing.T, what, form, after string) {
	t.Helper()
	eval[bool](ctx, t, `document.documentElement.setAttribute("data-left", ""), true`)
	step(ctx, t, what,
		clickOn(form+` button[type=submit]`),
		waitVisible(`html:not([data-left]) `+after),
	)
}

// notice is the text of the page's notice (the flash after a change).
func notice(ctx context.Context, t *testing.T) string {
	t.Helper()
	return text(ctx, t, `main > [role="status"]`)
}

// TestConsoleAdminPagesInBrowser drives the pages TestConsoleInBrowser
// does not reach, against a real `gatehouse server --dev`, the test
// Kubernetes API server (kubetest) and a real `gatehouse gateway`:
// Kubernetes Auth attached through its form (a bad TTL first, shown next
// to its field), its connection test, Kubernetes logins, the tokens list
// and one token's page with a revocation, a Vault mount enabled,
// configured and given a role (a bad TTL first), a gateway pool created
// and joined by a gateway, and the dashboard with those logins. Every
// page passes the accessibility check at 1280 and 375 px, and is
// photographed.
func TestConsoleAdminPagesInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	srv := startDevServer(t)
	kube := kubetest.New(t)
	shots := screenshotDir(t)
	t.Logf("screenshots in %s", shots)
	signInWithKeyboard(ctx, t, srv.URL, srv.Root)

	status, body := apiCall(t, "POST", srv.URL+"/api/v1/identities", srv.Root, map[string]any{"name": "k8s-app", "role": "member"})
	if status != http.StatusOK {
		t.Fatalf("creating an identity: %d %v", status, body)
	}
	id := body["identity"].(map[string]any)["id"].(string)
	kubePath := "/ui/identities/" + id + "/kubernetes-auth"
	reviewer := kube.ReviewerToken("gatehouse", "reviewer")

	// Kubernetes Auth: the attach form, with a TTL the API refuses.
	step(ctx, t, "Kubernetes Auth", chromedp.Navigate(srv.URL+kubePath), waitVisible("#kubernetesHost"))
	inspect(ctx, t, shots, "kubernetes-auth-attach", true)
	fillKube := func(ttl string) {
		t.Helper()
		step(ctx, t, "fill the Kubernetes Auth form",
			setValue("#tokenReviewMode", "api"),
			setValue("#kubernetesHost", kube.URL()),
			setValue("#caCert", kube.CAPEM()),
			setValue("#tokenReviewerJwt", reviewer),
			setValue("#allowedNamespaces", "apps"),
			setValue("#accessTokenTTL", ttl),
		)
	}
	const kubeForm = `form[action$="/kubernetes-auth"]`
	fillKube("400000000")
	submit(ctx, t, "attach with a bad TTL", kubeForm, "#accessTokenTTL-error")
	if msg := fieldErrorNextTo(ctx, t, "accessTokenTTL"); !strings.Contains(msg, "315360000") {
		t.Errorf("the TTL's error says %q", msg)
	}
	if got := eval[string](ctx, t, `document.getElementById("kubernetesHost").value`); got != kube.URL() {
		t.Errorf("the refused form lost the host: %q", got)
	}
	inspect(ctx, t, shots, "kubernetes-auth-error", true)
	fillKube("3600")
	submit(ctx, t, "attach Kubernetes Auth", kubeForm, `form[action$="/kubernetes-auth/test"]`)
	if n := notice(ctx, t); !strings.Contains(n, "attached") {
		t.Errorf("notice after attaching: %q", n)
	}
	inspect(ctx, t, shots, "kubernetes-auth", true)
	submit(ctx, t, "test the connection", `form[action$="/kubernetes-auth/test"]`, "#test-result")
	if res := text(ctx, t, "#test-result"); !strings.Contains(res, "Connection works.") || !strings.Contains(res, "Checked:") {
		t.Errorf("the connection test shows %q", res)
	}
	inspect(ctx, t, shots, "kubernetes-auth-test", true)

	// Two Kubernetes logins and one refused (another namespace), through
	// the API as workloads would.
	login := func(ns string) (int, string) {
		status, body := apiCall(t, "POST", srv.URL+"/api/v1/auth/kubernetes-auth/login", "",
			map[string]any{"identityId": id, "jwt": kube.Token(ns, "web")})
		tok, _ := body["accessToken"].(string)
		return status, tok
	}
	var tokens, tokenIDs [2]string
	for i := range tokens {
		if status, tokens[i] = login("apps"); status != http.StatusOK || tokens[i] == "" {
			t.Fatalf("Kubernetes login: %d", status)
		}
		status, body := apiCall(t, "GET", srv.URL+"/api/v1/auth/token/lookup", tokens[i], nil)
		tok, _ := body["token"].(map[string]any)
		tokenIDs[i], _ = tok["id"].(string)
		if status != http.StatusOK || tokenIDs[i] == "" {
			t.Fatalf("token lookup: %d %v", status, body)
		}
	}
	if status, _ := login("other"); status != http.StatusUnauthorized {
		t.Errorf("login from a namespace not allowed: %d", status)
	}

	// The tokens list, one token's page, its revocation.
	step(ctx, t, "tokens", chromedp.Navigate(srv.URL+"/ui/identities/"+id+"/tokens"), waitVisible("main table"))
	if caption := text(ctx, t, "main table caption"); !strings.HasPrefix(caption, "2 live tokens") {
		t.Errorf("tokens caption %q", caption)
	}
	inspect(ctx, t, shots, "tokens-list", true)
	step(ctx, t, "open a token",
		clickOn(`main td a[href$="/tokens/`+tokenIDs[0]+`"]`),
		waitVisible(`main dl.props`),
	)
	if h := text(ctx, t, "main h1"); !strings.Contains(h, tokenIDs[0]) {
		t.Errorf("token page heading %q", h)
	}
	if props := text(ctx, t, "main dl.props"); !strings.Contains(props, "kubernetes") || !strings.Contains(props, "live") {
		t.Errorf("token page shows %q", props)
	}
	inspect(ctx, t, shots, "token", true)
	eval[bool](ctx, t, `window.confirm = function () { return true; }, true`)
	submit(ctx, t, "revoke the token", `form[action$="/tokens/`+tokenIDs[0]+`/revoke"]`, "main table caption")
	if n := notice(ctx, t); !strings.Contains(n, tokenIDs[0]+" revoked") {
		t.Errorf("notice after revoking: %q", n)
	}
	if caption := text(ctx, t, "main table caption"); !strings.HasPrefix(caption, "1 live token,") {
		t.Errorf("tokens caption after revoking %q", caption)
	}
	inspect(ctx, t, shots, "tokens-after-revoke", true)
	for i, want := range []int{http.StatusUnauthorized, http.StatusOK} {
		if status, _ := apiCall(t, "GET", srv.URL+"/api/v1/auth/token/lookup", tokens[i], nil); status != want {
			t.Errorf("token %d after the revocation of the first: %d, want %d", i, status, want)
		}
	}

	// Vault: enable a mount, configure it, create a role (a bad TTL first).
	step(ctx, t, "Vault", chromedp.Navigate(srv.URL+"/ui/vault"), waitVisible("#path"))
	inspect(ctx, t, shots, "vault-empty", true)
	step(ctx, t, "enable a mount",
		typeInto("#path", "kubernetes-browser"),
		typeInto("#description", "enabled in a browser"),
	)
	submit(ctx, t, "enable a mount", `form[action="/ui/vault/mounts"]`, "#kubernetes_host")
	if n := notice(ctx, t); !strings.Contains(n, "kubernetes-browser enabled") {
		t.Errorf("notice after enabling: %q", n)
	}
	inspect(ctx, t, shots, "vault-mount-new", true)
	step(ctx, t, "configure the mount",
		setValue("#kubernetes_host", kube.URL()),
		setValue("#kubernetes_ca_cert", kube.CAPEM()),
		setValue("#token_reviewer_jwt", reviewer),
	)
	submit(ctx, t, "save the configuration", `form[action$="/config"]`, `main > [role="status"]:not(.empty)`)
	if n := notice(ctx, t); !strings.Contains(n, "Configuration saved") {
		t.Fatalf("notice after configuring: %q", n)
	}
	fillRole := func(ttl string) {
		t.Helper()
		if !eval[bool](ctx, t, `document.querySelector("main details").open`) {
			step(ctx, t, "open the new-role form", clickOn("main details summary"), waitVisible("#name"))
		}
		step(ctx, t, "fill the role",
			setValue("#name", "web"),
			setValue("#role-bound_service_account_names", "web"),
			setValue("#role-bound_service_account_namespaces", "apps"),
			setValue("#role-token_ttl", ttl),
		)
	}
	fillRole("ten minutes")
	submit(ctx, t, "create a role with a bad TTL", `form[action$="/roles"]`, "#role-token_ttl-error")
	if msg := fieldErrorNextTo(ctx, t, "role-token_ttl"); !strings.Contains(msg, "token_ttl") {
		t.Errorf("the token_ttl's error says %q", msg)
	}
	inspect(ctx, t, shots, "vault-role-error", true)
	fillRole("10m")
	submit(ctx, t, "create a role", `form[action$="/roles"]`, `form[action$="/roles/web"]`)
	if n := notice(ctx, t); !strings.Contains(n, "Role web saved") {
		t.Errorf("notice after creating the role: %q", n)
	}
	if ttl := eval[string](ctx, t, `document.getElementById("role-token_ttl").value`); ttl != "600" {
		t.Errorf("the role's token_ttl shows %q", ttl)
	}
	inspect(ctx, t, shots, "vault-role", true)
	status, body = apiCall(t, "POST", srv.URL+"/v1/auth/kubernetes-browser/login", "", map[string]any{"role": "web", "jwt": kube.Token("apps", "web")})
	if status != http.StatusOK {
		t.Errorf("Vault login with the role made in the browser: %d %v", status, body)
	}
	step(ctx, t, "the mount", chromedp.Navigate(srv.URL+"/ui/vault/mounts/kubernetes-browser"), waitVisible(`main a[href$="/roles/web"]`))
	inspect(ctx, t, shots, "vault-mount", true)
	step(ctx, t, "the mounts", chromedp.Navigate(srv.URL+"/ui/vault"), waitVisible(`main a[href="/ui/vault/mounts/kubernetes-browser"]`))
	inspect(ctx, t, shots, "vault", true)

	// Gateways: create a pool in the browser; a real gateway joins it.
	step(ctx, t, "Gateways", chromedp.Navigate(srv.URL+"/ui/gateways"), waitVisible("#pool-name"))
	inspect(ctx, t, shots, "gateways-empty", true)
	step(ctx, t, "name a pool", typeInto("#pool-name", "pool-eu"))
	submit(ctx, t, "create a pool", `form[action="/ui/gateways/pools"]`, `main .card h3`)
	if n := notice(ctx, t); !strings.Contains(n, "pool-eu created") {
		t.Errorf("notice after creating the pool: %q", n)
	}
	runGateway(t, srv, kube, "pool-eu")
	step(ctx, t, "Gateways with a gateway", chromedp.Navigate(srv.URL+"/ui/gateways"), waitVisible("main table tbody tr"))
	if row := text(ctx, t, "main table tbody tr"); !strings.Contains(row, "browser-gw") || !strings.Contains(row, "pool-eu") || !strings.Contains(row, "connected") {
		t.Errorf("gateway row %q", row)
	}
	if h := text(ctx, t, "main .card h3"); !strings.Contains(h, "(1 of 1 connected)") {
		t.Errorf("pool heading %q", h)
	}
	inspect(ctx, t, shots, "gateways", true)

	// The dashboard counts those logins.
	step(ctx, t, "dashboard", chromedp.Navigate(srv.URL+"/ui/"), waitVisible("svg[role=img]"))
	stats := text(ctx, t, "ul.stats")
	for _, want := range []string{"successful logins in the last 24 hours", "1 failed login"} {
		if !strings.Contains(stats, want) {
			t.Errorf("dashboard stats %q lack %q", stats, want)
		}
	}
	if n := eval[int](ctx, t, `document.querySelectorAll('svg[role=img] rect[fill="#a50e0e"]').length`); n == 0 {
		t.Errorf("the chart has no failure bar")
	}
	inspect(ctx, t, shots, "dashboard-data", true)
	step(ctx, t, "the chart as a table", clickOn("main details summary"), waitVisible("main details table"))
	if rows := eval[int](ctx, t, `document.querySelectorAll("main details tbody tr").length`); rows != 24 {
		t.Errorf("the chart's table has %d rows, want 24", rows)
	}
	inspect(ctx, t, shots, "dashboard-table", true)
}

// runGateway creates a gateway identity with a client secret through the
// API and runs `gatehouse gateway` in pool against kube.
func runGateway(t *testing.T, srv devServer, kube *kubetest.Cluster, pool string) {
	t.Helper()
	status, body := apiCall(t, "POST", srv.URL+"/api/v1/identities", srv.Root, map[string]any{"name": "gateway-eu", "role": "no-access",
		"metadata": []map[string]string{{"key": gateway.MetadataKey, "value": "true"}}})
	if status != http.StatusOK {
		t.Fatalf("gateway identity: %d %v", status, body)
	}
	gwID := body["identity"].(map[string]any)["id"].(string)
	if status, body = apiCall(t, "POST", srv.URL+"/api/v1/auth/universal-auth/identities/"+gwID, srv.Root, map[string]any{}); status != http.StatusOK {
		t.Fatalf("gateway Universal Auth: %d %v", status, body)
	}
	clientID := body["identityUniversalAuth"].(map[string]any)["clientId"].(string)
	if status, body = apiCall(t, "POST", srv.URL+"/api/v1/auth/universal-auth/identities/"+gwID+"/client-secrets", srv.Root, map[string]any{}); status != http.StatusOK {
		t.Fatalf("gateway client secret: %d %v", status, body)
	}
	dir := t.TempDir()
	secretFile, tokenFile := filepath.Join(dir, "client-secret"), filepath.Join(dir, "token")
	if err := os.WriteFile(secretFile, []byte(body["clientSecret"].(string)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(kube.ReviewerToken("gatehouse", "gateway")), 0o600); err != nil {
		t.Fatal(err)
	}
	startGateway(t, "--server", srv.URL, "--client-id", clientID, "--client-secret-file", secretFile,
		"--name", "browser-gw", "--pool", pool, "--kube-host", kube.URL(), "--kube-ca-file", kube.CAFile(),
		"--kube-token-file", tokenFile, "--backoff-min", "10ms", "--backoff-max", "100ms")
}
