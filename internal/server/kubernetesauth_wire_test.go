package server_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// TestKubernetesAuthReturnsWhatWasSent: the Infisical API returns the
// host, lists and CA as they were sent (a client comparing state after
// each write sees no drift), while logins use their parsed forms.
func TestKubernetesAuthReturnsWhatWasSent(t *testing.T) {
	ts := newTestServer(t)
	c := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	ca := strings.TrimSpace(c.CAPEM()) // no trailing newline
	sent := map[string]any{
		"kubernetesHost": c.Host(), "caCert": ca, "tokenReviewerJwt": reviewer,
		"allowedNamespaces": "apps,team-*", "allowedNames": "web , worker-*", "allowedAudience": "gatehouse",
	}
	id := ts.createIdentity("web", "member")
	check := func(what string, got map[string]any, want map[string]any) {
		t.Helper()
		for _, k := range []string{"kubernetesHost", "caCert", "allowedNamespaces", "allowedNames"} {
			if got[k] != want[k] {
				t.Errorf("%s: %s = %q, want %q as sent", what, k, got[k], want[k])
			}
		}
	}
	check("attach", ts.attachKube(id, sent), sent)
	check("get", ts.do("GET", kubePath(id), ts.root, nil).body["identityKubernetesAuth"].(map[string]any), sent)
	jwt := c.Token("apps", "web", kubetest.Audiences("gatehouse"))
	if r := ts.kubeLogin(id, jwt); r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}

	patch := map[string]any{"kubernetesHost": c.URL() + "/", "allowedNamespaces": " team-*,apps", "caCert": "\n" + ca + "\n\n"}
	r := ts.do("PATCH", kubePath(id), ts.root, patch)
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	want := map[string]any{"kubernetesHost": c.URL() + "/", "allowedNamespaces": " team-*,apps", "caCert": "\n" + ca + "\n\n", "allowedNames": "web , worker-*"}
	check("patch", r.body["identityKubernetesAuth"].(map[string]any), want)
	if r := ts.kubeLogin(id, jwt); r.status != 200 {
		t.Fatalf("login after patch: %d %s", r.status, r.raw)
	}
	if r := ts.kubeLogin(id, c.Token("other", "web", kubetest.Audiences("gatehouse"))); r.status != 403 && r.status != 401 {
		t.Errorf("login from a namespace not allowed: %d %s", r.status, r.raw)
	}
}

// TestInfisicalPatchBodies: on every PATCH of the Infisical API the body
// is required, null is refused on fields that are not nullable, and
// kubernetesHost "" is too short in every mode; each refusal is a 422
// that changes nothing. Nullable fields still take null.
func TestInfisicalPatchBodies(t *testing.T) {
	ts := newTestServer(t)
	c := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	kube := ts.newKube(kubeConfig(c, reviewer, nil))
	gw := "0f5d3b0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
	gateway := ts.newKube(map[string]any{"tokenReviewMode": "gateway", "gatewayId": gw})
	ua, _ := ts.newUA(map[string]any{})
	ident := ts.createIdentity("plain", "member")

	for _, tc := range []struct {
		name, path, body, want string
	}{
		{"identity: empty body", "/api/v1/identities/" + ident, "", "Required"},
		{"identity: null name", "/api/v1/identities/" + ident, `{"name":null}`, "name"},
		{"identity: null role", "/api/v1/identities/" + ident, `{"role":null}`, "role"},
		{"universal auth: empty body", uaBase + "/identities/" + ua, " ", "Required"},
		{"universal auth: null TTL", uaBase + "/identities/" + ua, `{"accessTokenTTL":null}`, "accessTokenTTL"},
		{"universal auth: null lockout", uaBase + "/identities/" + ua, `{"lockoutEnabled":null}`, "lockoutEnabled"},
		{"kubernetes auth: empty body", kubePath(kube), "", "Required"},
		{"kubernetes auth: null namespaces", kubePath(kube), `{"allowedNamespaces":null}`, "allowedNamespaces"},
		{"kubernetes auth: null CA", kubePath(kube), `{"caCert":null}`, "caCert"},
		{"kubernetes auth: null TTL", kubePath(kube), `{"accessTokenTTL":null}`, "accessTokenTTL"},
		{"kubernetes auth: null mode", kubePath(kube), `{"tokenReviewMode":null}`, "tokenReviewMode"},
		{"kubernetes auth: empty host (api)", kubePath(kube), `{"kubernetesHost":""}`, "at least 1 character"},
		{"kubernetes auth: blank host (api)", kubePath(kube), `{"kubernetesHost":"  "}`, "at least 1 character"},
		{"kubernetes auth: empty host (gateway)", kubePath(gateway), `{"kubernetesHost":""}`, "at least 1 character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.snapshot()
			r := ts.do("PATCH", tc.path, ts.root, tc.body)
			errorBodyOK(t, r, 422, "ValidationFailure")
			if !strings.Contains(r.raw, tc.want) {
				t.Errorf("body %s does not mention %q", r.raw, tc.want)
			}
			if after := ts.snapshot(); after != before {
				t.Errorf("a refused PATCH changed the store")
			}
		})
	}
	// Attach refuses an empty host in gateway mode too.
	errorBodyOK(t, ts.do("POST", kubePath(ts.createIdentity("gw2", "member")), ts.root,
		map[string]any{"tokenReviewMode": "gateway", "gatewayId": gw, "kubernetesHost": ""}), 422, "ValidationFailure")

	// The nullable fields take null: the gateway detaches, the host clears
	// (gateway mode), the reviewer JWT goes.
	for _, body := range []string{`{"tokenReviewerJwt":null}`, `{"kubernetesHost":null}`} {
		if r := ts.do("PATCH", kubePath(gateway), ts.root, body); r.status != 200 {
			t.Errorf("PATCH %s: %d %s", body, r.status, r.raw)
		}
	}
	r := ts.do("PATCH", kubePath(gateway), ts.root, map[string]any{"tokenReviewMode": "api", "gatewayId": nil, "kubernetesHost": c.Host(), "caCert": c.CAPEM()})
	if r.status != 200 || r.body["identityKubernetesAuth"].(map[string]any)["gatewayId"] != nil {
		t.Errorf("gatewayId null: %d %s", r.status, r.raw)
	}
}
