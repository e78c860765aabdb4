package server_test

import (
	"context"
	"io"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestVaultIdentityTokens: Vault's identity token endpoint, with roles
// that set the audience and TTL, minting JWTs that a go-oidc verifier
// accepts; its .well-known paths serve the issuer's documents.
func TestVaultIdentityTokens(t *testing.T) {
	ts := newIssuerServer(t, server.Config{})
	id, tok := ts.uaToken("member")
	ts.setAudiences(id, "sts.amazonaws.com")

	if r := ts.vault("POST", "identity/oidc/role/aws", ts.root, map[string]any{"client_id": "sts.amazonaws.com", "ttl": "10m", "key": "default"}); r.status != 204 {
		t.Fatalf("write role: %d %s", r.status, r.raw)
	}
	if r := ts.vault("POST", "identity/oidc/role/other", ts.root, map[string]any{"client_id": "https://other.example"}); r.status != 204 {
		t.Fatalf("write role: %d %s", r.status, r.raw)
	}
	r := ts.vault("GET", "identity/oidc/role/aws", tok, nil)
	if d, _ := r.body["data"].(map[string]any); r.status != 200 || d["client_id"] != "sts.amazonaws.com" || d["ttl"] != 600.0 || d["key"] != "default" {
		t.Errorf("read role: %d %s", r.status, r.raw)
	}
	r = ts.vault("LIST", "identity/oidc/role", tok, nil)
	if d, _ := r.body["data"].(map[string]any); r.status != 200 || len(d["keys"].([]any)) != 2 {
		t.Errorf("list roles: %d %s", r.status, r.raw)
	}

	r = ts.vault("GET", "identity/oidc/token/aws", tok, nil)
	d, _ := r.body["data"].(map[string]any)
	if r.status != 200 || d["client_id"] != "sts.amazonaws.com" || d["ttl"] != 600.0 {
		t.Fatalf("token: %d %s", r.status, r.raw)
	}
	ctx := gooidc.ClientContext(context.Background(), ts.http.Client())
	provider, err := gooidc.NewProvider(ctx, ts.srv.OIDC().Issuer())
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.VerifierContext(ctx, &gooidc.Config{ClientID: "sts.amazonaws.com"}).Verify(ctx, d["token"].(string))
	if err != nil || idt.Subject != id || idt.Expiry.Sub(idt.IssuedAt).Seconds() != 600 {
		t.Fatalf("verify: %v %+v", err, idt)
	}

	// The Vault-shaped .well-known paths serve the same documents.
	for vaultPath, rootPath := range map[string]string{
		"/v1/identity/oidc/.well-known/openid-configuration": "/.well-known/openid-configuration",
		"/v1/identity/oidc/.well-known/keys":                 "/.well-known/jwks.json",
	} {
		if a, b := ts.get(vaultPath), ts.get(rootPath); a != b || a == "" {
			t.Errorf("%s differs from %s", vaultPath, rootPath)
		}
	}

	// Refusals, in Vault's shape.
	for name, c := range map[string]struct {
		method, path, tok string
		body              any
		status            int
		msg               string
	}{
		"audience not allowed": {"GET", "identity/oidc/token/other", tok, nil, 400, "not in this identity's allowed exchange audiences"},
		"unknown role":         {"GET", "identity/oidc/token/nope", tok, nil, 400, "not found"},
		"no token":             {"GET", "identity/oidc/token/aws", "", nil, 403, "permission denied"},
		"bad token":            {"GET", "identity/oidc/token/aws", "gth_nope", nil, 403, "permission denied"},
		"member writes a role": {"POST", "identity/oidc/role/x", tok, map[string]any{"client_id": "a"}, 403, "permission denied"},
		"ttl over the maximum": {"POST", "identity/oidc/role/x", ts.root, map[string]any{"client_id": "a", "ttl": "2h"}, 400, "max-exchange-ttl"},
		"no client_id":         {"POST", "identity/oidc/role/x", ts.root, map[string]any{"ttl": 60}, 400, "client_id"},
		"another key":          {"POST", "identity/oidc/role/x", ts.root, map[string]any{"client_id": "a", "key": "k2"}, 400, "key"},
		"bad role name":        {"POST", "identity/oidc/role/-x-", ts.root, map[string]any{"client_id": "a"}, 400, "not valid"},
	} {
		r := ts.vault(c.method, c.path, c.tok, c.body)
		errsList, _ := r.body["errors"].([]any)
		if r.status != c.status || len(errsList) != 1 || !strings.Contains(errsList[0].(string), c.msg) {
			t.Errorf("%s: %d %s, want %d with %q", name, r.status, r.raw, c.status, c.msg)
		}
	}
	if r := ts.vault("DELETE", "identity/oidc/role/other", ts.root, nil); r.status != 204 {
		t.Errorf("delete: %d %s", r.status, r.raw)
	}
	if r := ts.vault("GET", "identity/oidc/role/other", ts.root, nil); r.status != 404 {
		t.Errorf("read deleted: %d %s", r.status, r.raw)
	}
}

func (ts *testServer) get(path string) string {
	ts.t.Helper()
	resp, err := ts.http.Client().Get(ts.http.URL + path)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return ""
	}
	return string(b)
}

// TestVaultKubernetesIdentityToken: a pod logged in through Vault's
// Kubernetes auth gets an identity token naming its cluster (the mount),
// namespace, service account and pod.
func TestVaultKubernetesIdentityToken(t *testing.T) {
	ts := newIssuerServer(t, server.Config{PodServiceAccountDir: "-"})
	c := kubetest.New(t)
	ts.kubeMount("prod-k8s", c, nil)
	ts.vaultRole("prod-k8s", "web", anyRole)
	m, err := ts.srv.Store().GetAuthMethodByLookupKey(context.Background(), store.AuthMethodVaultKubernetes, "prod-k8s/web")
	if err != nil {
		t.Fatal(err)
	}
	ts.setAudiences(m.IdentityID, "sts.amazonaws.com")
	ts.vaultOK("POST", "identity/oidc/role/aws", ts.root, map[string]any{"client_id": "sts.amazonaws.com"})
	pod := c.CreatePod("apps", "web-0", "web")
	tok := ts.loginToken("prod-k8s", "web", c.Token("apps", "web", kubetest.BoundToPod(pod)))

	r := ts.vault("GET", "identity/oidc/token/aws", tok, nil)
	d, _ := r.body["data"].(map[string]any)
	if r.status != 200 {
		t.Fatalf("token: %d %s", r.status, r.raw)
	}
	ctx := gooidc.ClientContext(context.Background(), ts.http.Client())
	provider, err := gooidc.NewProvider(ctx, ts.srv.OIDC().Issuer())
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.VerifierContext(ctx, &gooidc.Config{ClientID: "sts.amazonaws.com"}).Verify(ctx, d["token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	claims := claimsOf(t, idt)
	k8s, _ := claims["gatehouse.dev/kubernetes"].(map[string]any)
	if claims["sub"] != m.IdentityID || claims["gatehouse.dev/auth_method"] != "vault-kubernetes" ||
		k8s["cluster"] != "prod-k8s" || k8s["namespace"] != "apps" || k8s["serviceAccount"] != "web" || k8s["pod"] != "web-0" {
		t.Errorf("claims: %v", claims)
	}
}
