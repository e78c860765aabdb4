package server_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// TestKubernetesJWTToVerifiedJWT is a workload federating into a cloud:
// its projected service-account token goes to /oauth2/token in one round
// trip (the normal Kubernetes login runs inside), and what comes back is a
// JWT for sts.amazonaws.com that a go-oidc verifier accepts, naming the
// cluster's namespace, service account and pod.
func TestKubernetesJWTToVerifiedJWT(t *testing.T) {
	ts := newIssuerServer(t, server.Config{})
	c := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	id := ts.newKube(kubeConfig(c, reviewer, map[string]any{"allowedAudience": "gatehouse"}))
	ts.setAudiences(id, "sts.amazonaws.com")
	pod := c.CreatePod("apps", "web-0", "web")
	saJWT := c.Token("apps", "web", kubetest.Audiences("gatehouse"), kubetest.BoundToPod(pod))

	form := url.Values{"grant_type": {grantExchange}, "subject_token": {saJWT}, "subject_token_type": {oidc.TokenTypeJWT},
		"gatehouse_identity_id": {id}, "audience": {"sts.amazonaws.com"}}
	r, _ := ts.postForm("/oauth2/token", "", form)
	if r.status != 200 {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	ctx := gooidc.ClientContext(context.Background(), ts.http.Client())
	provider, err := gooidc.NewProvider(ctx, ts.srv.OIDC().Issuer())
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.VerifierContext(ctx, &gooidc.Config{ClientID: "sts.amazonaws.com"}).Verify(ctx, r.body["access_token"].(string))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	claims := claimsOf(t, idt)
	k8s, _ := claims["gatehouse.dev/kubernetes"].(map[string]any)
	if claims["sub"] != id || claims["gatehouse.dev/auth_method"] != "kubernetes-auth" || claims["gatehouse.dev/identity_name"] != "kube-app" ||
		k8s["namespace"] != "apps" || k8s["serviceAccount"] != "web" || k8s["pod"] != "web-0" {
		t.Errorf("claims: %v", claims)
	}
	// The access token the login issued inside is revoked; the login and
	// the exchange are both audited.
	if n := ts.liveTokens(id); n != 0 {
		t.Errorf("%d access tokens of the inner login left live", n)
	}
	var sawLogin, sawExchange bool
	for _, e := range ts.auditEvents(ts.root) {
		sawLogin = sawLogin || (e["type"] == "login" && e["success"] == true && e["identityId"] == id)
		sawExchange = sawExchange || (e["type"] == oidc.TypeTokenExchange && e["success"] == true && e["identityId"] == id)
	}
	if !sawLogin || !sawExchange {
		t.Errorf("audited: login %v, exchange %v", sawLogin, sawExchange)
	}

	// A token the cluster does not vouch for, or one for another
	// namespace: invalid_grant, nothing issued.
	for name, bad := range map[string]string{
		"wrong audience": c.Token("apps", "web", kubetest.Audiences("other")),
		"not allowed":    c.Token("kube-system", "web", kubetest.Audiences("gatehouse")),
		"another issuer": rogueJWT(t, "https://elsewhere.example", id, c.Now()),
	} {
		form.Set("subject_token", bad)
		r, _ := ts.postForm("/oauth2/token", "", form)
		if r.status != 400 || r.body["error"] != "invalid_grant" || r.body["access_token"] != nil {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
}

// TestExchangeKubernetesJWTRateLimited: a Kubernetes JWT exchanged
// directly is a login, limited per address like the login endpoints.
func TestExchangeKubernetesJWTRateLimited(t *testing.T) {
	clock := &testClock{t: time.Now().UTC()}
	ts := newIssuerServer(t, server.Config{Now: clock.Now, LoginRateLimit: 0.5, LoginRateBurst: 3})
	_, tok := ts.uaLoginWith("app", map[string]any{}) // 1 of the 3, shared with every login
	form := url.Values{"grant_type": {grantExchange}, "subject_token": {"x.y.z"}, "subject_token_type": {oidc.TokenTypeJWT},
		"gatehouse_identity_id": {"00000000-0000-0000-0000-000000000000"}, "audience": {"sts.amazonaws.com"}}
	for i := range 2 {
		if r, _ := ts.postForm("/oauth2/token", "", form); r.status != 400 {
			t.Fatalf("exchange %d: %d %s", i+1, r.status, r.raw)
		}
	}
	r, h := ts.postForm("/oauth2/token", "", form)
	if r.status != 429 || h.Get("Retry-After") != "2" || r.body["error"] != "slow_down" {
		t.Fatalf("3rd exchange: %d %v %s", r.status, h, r.raw)
	}
	// An access-token subject is no login: not limited.
	if r, _ := ts.postForm("/oauth2/token", "", exchangeForm(tok, "sts.amazonaws.com")); r.status != 400 || r.body["error"] != "invalid_target" {
		t.Errorf("access-token exchange after the limit: %d %s", r.status, r.raw)
	}
}

// TestKubernetesExchangeRefusedRevokesItsLogin: when the exchange after the
// inner login is refused (here: the client is outside the method's
// trusted IPs), the access token the login issued is revoked all the same.
func TestKubernetesExchangeRefusedRevokesItsLogin(t *testing.T) {
	ts := newIssuerServer(t, server.Config{})
	c := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	id := ts.newKube(kubeConfig(c, reviewer, map[string]any{"allowedAudience": "gatehouse",
		"accessTokenTrustedIps": []map[string]string{{"ipAddress": "10.0.0.0/8"}}}))
	ts.setAudiences(id, "sts.amazonaws.com")
	form := url.Values{"grant_type": {grantExchange}, "subject_token": {c.Token("apps", "web", kubetest.Audiences("gatehouse"))},
		"subject_token_type": {oidc.TokenTypeJWT}, "gatehouse_identity_id": {id}, "audience": {"sts.amazonaws.com"}}
	r, _ := ts.postForm("/oauth2/token", "", form)
	if r.status != 400 || r.body["error"] != "invalid_grant" {
		t.Fatalf("exchange from outside the trusted IPs: %d %s", r.status, r.raw)
	}
	if n := ts.liveTokens(id); n != 0 {
		t.Errorf("%d access tokens of the inner login left live", n)
	}
}
