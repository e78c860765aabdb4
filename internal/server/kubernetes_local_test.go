package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// Local mode (a Gatehouse extension on both APIs): the login JWT is
// verified with the cluster's signing keys and no TokenReview is made.

// discoveryReads counts the cluster's reads of path.
func discoveryReads(c *kubetest.Cluster, path string) int {
	n := 0
	for _, call := range c.DiscoveryCalls() {
		if call.Path == path {
			n++
		}
	}
	return n
}

// TestKubernetesAuthLocalMode: on the Infisical API, tokenReviewMode
// "local" is attached after a check that reads the cluster's keys, logs
// workloads in without TokenReviews, and refuses as the review path does.
func TestKubernetesAuthLocalMode(t *testing.T) {
	ts := newTestServer(t)
	c := kubetest.New(t)
	unbound := kubetest.New(t, kubetest.WithoutIssuerDiscoveryBinding())
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	local := map[string]any{"tokenReviewMode": "local", "allowedAudience": "gatehouse"}

	// The check on attach reads the key set and the discovery document.
	id := ts.createIdentity("web", "member")
	got := ts.attachKube(id, kubeConfig(c, reviewer, local))
	if got["tokenReviewMode"] != "local" || got["kubernetesHost"] != c.Host() || got["tokenReviewerJwtSet"] != true {
		t.Errorf("attach: %v", got)
	}
	if j, d := discoveryReads(c, "/openid/v1/jwks"), discoveryReads(c, "/.well-known/openid-configuration"); j != 1 || d != 1 {
		t.Errorf("attach check: %d key set reads, %d discovery reads", j, d)
	}
	if r := ts.do("GET", kubePath(id), ts.root, nil); r.body["identityKubernetesAuth"].(map[string]any)["tokenReviewMode"] != "local" {
		t.Errorf("get: %s", r.raw)
	}

	// A check that fails changes nothing and says why.
	other := ts.createIdentity("other", "member")
	r := ts.do("POST", kubePath(other), ts.root, kubeConfig(unbound, unbound.ReviewerToken("kube-system", "r"), local))
	errorBodyOK(t, r, 400, "KubernetesIssuerDiscoveryError")
	if !strings.Contains(r.raw, "nothing was changed") || !strings.Contains(r.raw, "grant system:service-account-issuer-discovery") {
		t.Errorf("attach with a reviewer that may not read the keys: %s", r.raw)
	}

	// Log in: the token records the pod; no TokenReview.
	pod := c.CreatePod("apps", "web-0", "web")
	sa, _ := c.ServiceAccount("apps", "web")
	r = ts.kubeLogin(id, c.Token("apps", "web", kubetest.Audiences("gatehouse"), kubetest.BoundToPod(pod)))
	if r.status != 200 || !strings.HasPrefix(r.body["accessToken"].(string), "gth_") {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	look := ts.do("GET", "/api/v1/auth/token/lookup", r.body["accessToken"].(string), nil)
	md := look.body["token"].(map[string]any)["metadata"].(map[string]any)
	if md["service_account_namespace"] != "apps" || md["service_account_name"] != "web" || md["service_account_uid"] != sa.UID ||
		md["pod_name"] != "web-0" || md["pod_uid"] != pod.UID {
		t.Errorf("token metadata = %v", md)
	}
	if ev := ts.lastAudit(); ev["type"] != "login" || ev["success"] != true || ev["details"].(map[string]any)["pod_uid"] != pod.UID {
		t.Errorf("audit event = %v", ev)
	}
	// Refused logins: the exact error bodies.
	deleted := c.Token("apps", "worker-gone", kubetest.Audiences("gatehouse"))
	c.DeleteServiceAccount("apps", "worker-gone")
	ts.liveTokens(id)
	cases := []struct {
		name, jwt string
		status    int
		errName   string
		message   string
	}{
		{"wrong namespace", c.Token("prod", "web", kubetest.Audiences("gatehouse")), 401, "Unauthorized",
			`Access denied: K8s namespace "prod" is not allowed by allowedNamespaces`},
		{"wrong audience", c.Token("apps", "web"), 401, "Unauthorized",
			fmt.Sprintf(`the jwt is not valid for the audience ["gatehouse"] (its aud is [%q])`, c.Issuer())},
		{"expired", c.Token("apps", "web", kubetest.Audiences("gatehouse"), kubetest.ExpiresIn(-2*time.Minute)), 401, "Unauthorized",
			"the jwt has expired (exp)"},
		{"legacy token", c.LegacyToken("apps", "web"), 401, "Unauthorized",
			"local verification needs an expiring (projected) service-account token; legacy Secret tokens never expire and can only be checked with TokenReview"},
		{"another cluster's key", c.Token("apps", "web", kubetest.Audiences("gatehouse"), kubetest.SignedWith(unbound.SigningKey()), kubetest.KeyID(c.KeyID())), 401, "Unauthorized",
			"the jwt's signature does not verify with any of the cluster's service-account signing keys (GET /openid/v1/jwks)"},
		{"wrong issuer", c.Token("apps", "web", kubetest.Audiences("gatehouse"), kubetest.ClaimIssuer("https://evil.example")), 401, "Unauthorized",
			fmt.Sprintf(`the jwt's issuer (iss) "https://evil.example" is not the issuer %q`, c.Issuer())},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.kubeLogin(id, tc.jwt)
			errorBodyOK(t, r, tc.status, tc.errName)
			if r.body["message"] != tc.message || len(r.body) != 4 {
				t.Errorf("body %s\nwant message %q", r.raw, tc.message)
			}
			if n := ts.liveTokens(id); n != 0 {
				t.Errorf("%d tokens issued", n)
			}
		})
	}
	// The trade-off, as documented: a deleted service account is not
	// noticed until its JWT expires.
	if r := ts.kubeLogin(id, deleted); r.status != 200 {
		t.Errorf("local mode asked the API server about a deleted account: %d %s", r.status, r.raw)
	}
	if n := c.TokenReviewCount(); n != 0 {
		t.Errorf("%d TokenReviews in local mode", n)
	}
	if n := discoveryReads(c, "/openid/v1/jwks"); n != 2 {
		t.Errorf("%d key set reads, want 2 (the attach check, the first login)", n)
	}

	// Back to api mode: reviewed again.
	if r := ts.do("PATCH", kubePath(id), ts.root, map[string]any{"tokenReviewMode": "api"}); r.status != 200 {
		t.Fatalf("patch to api: %d %s", r.status, r.raw)
	}
	errorBodyOK(t, ts.kubeLogin(id, deleted), 401, "KubernetesTokenReviewError")
}

// TestKubernetesLoginLocalKeysUnreadable: with no keys kept, a cluster
// whose keys cannot be read fails the login with the review path's
// classes: 401 for a refused bearer, 502 for the API server.
func TestKubernetesLoginLocalKeysUnreadable(t *testing.T) {
	ts := newTestServer(t)
	c := kubetest.New(t)
	down := ts.newKube(kubeConfig(c, "", map[string]any{"tokenReviewMode": "local", "kubernetesHost": refusedAddr(t), "tokenReviewerJwt": nil}))
	failing := ts.newKube(kubeConfig(c, "", map[string]any{"tokenReviewMode": "local", "tokenReviewerJwt": nil}))
	jwt := c.Token("apps", "web")

	r := ts.kubeLogin(down, jwt)
	errorBodyOK(t, r, 502, "KubernetesConnectionRefused")
	c.FailAllDiscovery(kubetest.FaultGarbage)
	r = ts.kubeLogin(failing, jwt)
	errorBodyOK(t, r, 502, "KubernetesApiError")
	if !strings.Contains(r.raw, "GET /openid/v1/jwks (HTTP 200) with something that is not a usable JSON Web Key Set") {
		t.Errorf("garbage: %s", r.raw)
	}
	c.ClearFaults()
	// Without a reviewer JWT the login JWT reads the keys: one for another
	// audience is refused by the API server.
	r = ts.kubeLogin(failing, c.Token("apps", "web", kubetest.Audiences("vault")))
	errorBodyOK(t, r, 401, "KubernetesIssuerDiscoveryError")
	if !strings.Contains(r.raw, "rejected the login JWT") {
		t.Errorf("login JWT refused as bearer: %s", r.raw)
	}
	if r := ts.kubeLogin(failing, jwt); r.status != 200 {
		t.Errorf("login JWT as the bearer: %d %s", r.status, r.raw)
	}
	if c.TokenReviewCount() != 0 {
		t.Error("a TokenReview was made in local mode")
	}
}

// TestVaultLocalMode: on the Vault API, token_review_mode "local" makes
// logins verify the JWT with the cluster's key set (or pem_keys with an
// issuer), always checking iss, and refuse with Vault's 403.
func TestVaultLocalMode(t *testing.T) {
	ts, _ := newVaultServer(t)
	c := kubetest.New(t)
	ts.kubeMount("local", c, map[string]any{"token_review_mode": "local"})
	ts.kubeMount("pem", c, map[string]any{"token_review_mode": "local", "kubernetes_host": refusedAddr(t),
		"pem_keys": c.SigningKeyPEM(), "issuer": c.Issuer()})
	ts.kubeMount("reviewed", c, nil)
	for _, m := range []string{"local", "pem", "reviewed"} {
		ts.vaultRole(m, "web", map[string]any{"bound_service_account_names": "web", "bound_service_account_namespaces": "apps", "audience": "vault"})
		ts.vaultRole(m, "any-aud", map[string]any{"bound_service_account_names": "web", "bound_service_account_namespaces": "apps"})
	}
	if got := dataOf(t, ts.vault("GET", "auth/local/config", ts.root, nil)); got["token_review_mode"] != "local" || got["disable_iss_validation"] != true {
		t.Errorf("config read = %v", got)
	}
	if got := dataOf(t, ts.vault("GET", "auth/reviewed/config", ts.root, nil)); got["token_review_mode"] != "api" {
		t.Errorf("default mode read back as %v", got["token_review_mode"])
	}

	pod := c.CreatePod("apps", "web-0", "web")
	jwt := c.Token("apps", "web", kubetest.Audiences("vault"), kubetest.BoundToPod(pod))
	sa, _ := c.ServiceAccount("apps", "web")
	for _, m := range []string{"local", "pem"} {
		a := authOf(t, ts.vaultLogin(m, "web", jwt))
		md := a["metadata"].(map[string]any)
		if md["service_account_name"] != "web" || md["service_account_namespace"] != "apps" || md["service_account_uid"] != sa.UID || md["role"] != "web" {
			t.Errorf("%s: auth.metadata = %v", m, md)
		}
		look := dataOf(t, ts.vault("GET", "auth/token/lookup-self", a["client_token"].(string), nil))
		if meta := look["meta"].(map[string]any); meta["pod_name"] != "web-0" || meta["pod_uid"] != pod.UID {
			t.Errorf("%s: token meta = %v", m, meta)
		}
	}
	// A role without an audience takes any aud, as Vault does.
	authOf(t, ts.vaultLogin("local", "any-aud", c.Token("apps", "web", kubetest.Audiences("whatever"))))

	cases := []struct {
		name, mount, role, jwt, msg string
	}{
		{"namespace", "local", "web", c.Token("prod", "web", kubetest.Audiences("vault")),
			`permission denied: namespace not authorized: the service account's namespace "prod" is not in the role's bound_service_account_namespaces`},
		{"name", "local", "web", c.Token("apps", "db", kubetest.Audiences("vault")),
			`permission denied: service account name not authorized: "db" is not in the role's bound_service_account_names`},
		{"audience", "local", "web", c.Token("apps", "web"),
			`permission denied: invalid audience (aud) claim: the token is not valid for the role's audience "vault"`},
		// disable_iss_validation (true by default) does not apply in local mode.
		{"issuer", "local", "web", c.Token("apps", "web", kubetest.Audiences("vault"), kubetest.ClaimIssuer("https://evil.example")),
			fmt.Sprintf(`permission denied: the jwt's issuer (iss) "https://evil.example" is not the issuer %q`, c.Issuer())},
		{"expired", "pem", "web", c.Token("apps", "web", kubetest.Audiences("vault"), kubetest.ExpiresIn(-2*time.Minute)),
			"permission denied: the jwt has expired (exp)"},
		{"legacy token", "local", "any-aud", c.LegacyToken("apps", "web"),
			"permission denied: local verification needs an expiring (projected) service-account token; legacy Secret tokens never expire and can only be checked with TokenReview"},
		{"signed by another key", "pem", "web", c.Token("apps", "web", kubetest.Audiences("vault"), kubetest.SignedWith(kubetest.New(t).SigningKey())),
			"permission denied: the jwt's signature does not verify with any of the configured public keys (pem_keys)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.vaultLogin(tc.mount, tc.role, tc.jwt)
			vaultErrorOK(t, r, 403, tc.msg)
			if msg := r.body["errors"].([]any)[0]; msg != tc.msg {
				t.Errorf("message %q, want exactly %q", msg, tc.msg)
			}
		})
	}
	if n := c.TokenReviewCount(); n != 0 {
		t.Errorf("%d TokenReviews in local mode", n)
	}
	// The reviewed mount still reviews.
	authOf(t, ts.vaultLogin("reviewed", "web", jwt))
	if c.TokenReviewCount() != 1 {
		t.Errorf("the api-mode mount made %d TokenReviews, want 1", c.TokenReviewCount())
	}
}
