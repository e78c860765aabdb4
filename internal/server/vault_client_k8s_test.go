package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	vaultk8s "github.com/hashicorp/vault/api/auth/kubernetes"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// Wire fidelity of the Kubernetes auth method (issue 12), through Vault's
// own Go client.

// vaultAdmin is a Vault client with the root token of a live server.
func vaultAdmin(t *testing.T, ls *liveServer) *vaultapi.Client {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = ls.base
	cfg.MaxRetries = 0
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(ls.root)
	return c
}

// vaultLoginAs logs in with the kubernetes helper on a fresh client.
func vaultLoginAs(t *testing.T, ls *liveServer, mount, role, jwt string) (*vaultapi.Secret, error) {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = ls.base
	cfg.MaxRetries = 0
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	auth, err := vaultk8s.NewKubernetesAuth(role, vaultk8s.WithMountPath(mount), vaultk8s.WithServiceAccountToken(jwt))
	if err != nil {
		t.Fatal(err)
	}
	return c.Auth().Login(context.Background(), auth)
}

// responseError is the Vault error of err, or fails the test.
func responseError(t *testing.T, err error, status int) *vaultapi.ResponseError {
	t.Helper()
	var re *vaultapi.ResponseError
	if !errors.As(err, &re) || re.StatusCode != status {
		t.Fatalf("err = %v, want a %d from the server", err, status)
	}
	return re
}

// mustWrite writes with the admin client.
func mustWrite(t *testing.T, admin *vaultapi.Client, path string, data map[string]any) *vaultapi.Secret {
	t.Helper()
	s, err := admin.Logical().WriteWithContext(context.Background(), path, data)
	if err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return s
}

// TestVaultGoClientIssuer: with disable_iss_validation=false and an
// issuer, a JWT whose iss differs is refused in TokenReview mode too (no
// pem_keys), as Vault refuses it, with Vault's words.
func TestVaultGoClientIssuer(t *testing.T) {
	ls := startLiveServer(t)
	admin := vaultAdmin(t, ls)
	c := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse")
	mounts := map[string]map[string]any{
		"iss-right":   {"issuer": c.Issuer(), "disable_iss_validation": false},
		"iss-wrong":   {"issuer": "https://elsewhere.example", "disable_iss_validation": false},
		"iss-off":     {"issuer": "https://elsewhere.example", "disable_iss_validation": true},
		"iss-default": {"issuer": "https://elsewhere.example"}, // disable_iss_validation defaults to true
	}
	for path, extra := range mounts {
		if err := admin.Sys().EnableAuthWithOptions(path, &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, admin, "auth/"+path+"/config", withFields(map[string]any{
			"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": reviewer}, extra))
		mustWrite(t, admin, "auth/"+path+"/role/app", map[string]any{
			"bound_service_account_names": "app", "bound_service_account_namespaces": "apps", "audience": c.Issuer()})
	}
	jwt := c.Token("apps", "app")
	for _, path := range []string{"iss-right", "iss-off", "iss-default"} {
		if s, err := vaultLoginAs(t, ls, path, "app", jwt); err != nil || s.Auth == nil {
			t.Errorf("%s: login = %v", path, err)
		}
	}
	reviews := c.TokenReviewCount()
	_, err := vaultLoginAs(t, ls, "iss-wrong", "app", jwt)
	re := responseError(t, err, http.StatusForbidden)
	if len(re.Errors) != 1 || !strings.HasPrefix(re.Errors[0], "permission denied: invalid issuer (iss) claim") ||
		!strings.Contains(re.Errors[0], `"https://elsewhere.example"`) {
		t.Errorf("errors = %q", re.Errors)
	}
	if c.TokenReviewCount() == reviews {
		t.Error("the iss check ran before the API server authenticated the token")
	}
}

// TestVaultGoClientPlainHTTPHost: an http:// kubernetes_host (an API
// server behind kubectl proxy) is accepted with a warning, and logins go
// through it; invalid hosts say what is wrong.
func TestVaultGoClientPlainHTTPHost(t *testing.T) {
	ls := startLiveServer(t)
	admin := vaultAdmin(t, ls)
	c := kubetest.New(t)
	// kubectl proxy: plain HTTP in front of the API server's TLS.
	target, err := url.Parse(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = c.Client().Transport
	proxy := httptest.NewServer(rp)
	t.Cleanup(proxy.Close)

	if err := admin.Sys().EnableAuthWithOptions("proxied", &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"ftp://x":                    `kubernetes_host must use https:// or http:// (not "ftp")`,
		"https://user@kube:6443":     "kubernetes_host must not contain user info (user@host); the token reviewer JWT is the credential",
		"https://kube:99999":         "kubernetes_host has an invalid port (want 1 to 65535)",
		"https://kube.example.com x": "kubernetes_host must not contain spaces or control characters",
	} {
		_, err := admin.Logical().Write("auth/proxied/config", map[string]any{"kubernetes_host": host})
		if re := responseError(t, err, http.StatusBadRequest); len(re.Errors) != 1 || re.Errors[0] != want {
			t.Errorf("kubernetes_host %q: errors = %q, want %q", host, re.Errors, want)
		}
	}

	s := mustWrite(t, admin, "auth/proxied/config", map[string]any{
		"kubernetes_host": proxy.URL, "token_reviewer_jwt": c.ReviewerToken("kube-system", "gatehouse"), "disable_local_ca_jwt": true})
	if s == nil || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "clear text") {
		t.Fatalf("config write with an http:// host: %+v, want one warning", s)
	}
	cfg, err := admin.Logical().Read("auth/proxied/config")
	if err != nil || cfg.Data["kubernetes_host"] != proxy.URL {
		t.Fatalf("config read = %v, %v", cfg, err)
	}
	mustWrite(t, admin, "auth/proxied/role/app", map[string]any{
		"bound_service_account_names": "app", "bound_service_account_namespaces": "apps", "audience": c.Issuer()})
	reviews := c.TokenReviewCount()
	if s, err := vaultLoginAs(t, ls, "proxied", "app", c.Token("apps", "app")); err != nil || s.Auth == nil {
		t.Fatalf("login through the proxy: %v", err)
	}
	if c.TokenReviewCount() != reviews+1 {
		t.Error("the login made no TokenReview through the proxy")
	}
}

// TestVaultGoClientRoleFields: role names as Vault's GenericNameRegex
// takes them ('@' too), Vault's warning for a role without an audience,
// and a read that shows every token field, 0 when zero.
func TestVaultGoClientRoleFields(t *testing.T) {
	ls := startLiveServer(t)
	admin := vaultAdmin(t, ls)
	if err := admin.Sys().EnableAuthWithOptions("kubernetes", &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	s := mustWrite(t, admin, "auth/kubernetes/role/ci@team.example", map[string]any{
		"bound_service_account_names": "ci", "bound_service_account_namespaces": "build"})
	want := "Role ci@team.example does not have an audience configured. While audiences are not required, " +
		"consider specifying one if your use case would benefit from additional JWT claim verification."
	if s == nil || len(s.Warnings) != 1 || s.Warnings[0] != want {
		t.Errorf("write without an audience: %+v, want Vault's warning", s)
	}
	if s := mustWrite(t, admin, "auth/kubernetes/role/ci@team.example", map[string]any{"audience": "vault"}); s != nil && len(s.Warnings) > 0 {
		t.Errorf("write with an audience: warnings %q", s.Warnings)
	}
	role, err := admin.Logical().Read("auth/kubernetes/role/CI@team.example")
	if err != nil || role == nil {
		t.Fatalf("read: %v, %v", role, err)
	}
	for _, k := range []string{"ttl", "max_ttl", "period", "num_uses", "token_ttl", "token_max_ttl", "token_period",
		"token_num_uses", "token_explicit_max_ttl"} {
		if n, ok := role.Data[k].(interface{ String() string }); !ok || n.String() != "0" {
			t.Errorf("%s = %#v, want 0", k, role.Data[k])
		}
	}
	for _, k := range []string{"policies", "bound_cidrs", "token_policies", "token_bound_cidrs"} {
		if l, ok := role.Data[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s = %#v, want []", k, role.Data[k])
		}
	}
	list, err := admin.Logical().List("auth/kubernetes/role")
	if err != nil || list == nil {
		t.Fatalf("list: %v", err)
	}
	if keys, _ := list.Data["keys"].([]any); len(keys) != 1 || keys[0] != "ci@team.example" {
		t.Errorf("keys = %v", list.Data["keys"])
	}
	// Still refused: what GenericNameRegex refuses.
	for _, name := range []string{"@ci", "ci@", "c+i"} {
		_, err := admin.Logical().Write("auth/kubernetes/role/"+url.PathEscape(name), map[string]any{
			"bound_service_account_names": "ci", "bound_service_account_namespaces": "build"})
		responseError(t, err, http.StatusBadRequest)
	}
}

// TestVaultGoClientNamespaceSelector: bound_service_account_namespace_selector
// (JSON or YAML) allows the namespaces whose labels it selects, read from
// the API server with the reviewer JWT, which needs get on namespaces.
func TestVaultGoClientNamespaceSelector(t *testing.T) {
	ls := startLiveServer(t)
	admin := vaultAdmin(t, ls)
	c := kubetest.New(t)
	c.CreateNamespace("apps", map[string]string{"team": "a"})
	c.CreateNamespace("build", map[string]string{"team": "b"})
	if err := admin.Sys().EnableAuthWithOptions("kubernetes", &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, admin, "auth/kubernetes/config", map[string]any{
		"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": c.ReviewerToken("kube-system", "gatehouse")})

	// A role needs namespaces or a selector; a bad selector is refused.
	_, err := admin.Logical().Write("auth/kubernetes/role/none", map[string]any{"bound_service_account_names": "web"})
	if re := responseError(t, err, http.StatusBadRequest); re.Errors[0] != `"bound_service_account_namespaces" can not be empty if "bound_service_account_namespace_selector" is not set` {
		t.Errorf("no namespaces: %q", re.Errors)
	}
	for _, sel := range []string{`{"matchExpressions":[{"key":"team","operator":"Exists"}]}`, "matchLabels: [", `{"matchLabel":{"team":"a"}}`} {
		_, err := admin.Logical().Write("auth/kubernetes/role/bad", map[string]any{"bound_service_account_names": "web", "bound_service_account_namespace_selector": sel})
		if re := responseError(t, err, http.StatusBadRequest); !strings.HasPrefix(re.Errors[0], `invalid "bound_service_account_namespace_selector" configured`) {
			t.Errorf("selector %q: %q", sel, re.Errors)
		}
	}

	yamlSel := "matchLabels:\n  team: a\n"
	mustWrite(t, admin, "auth/kubernetes/role/team-a", map[string]any{
		"bound_service_account_names": "web", "bound_service_account_namespace_selector": yamlSel, "audience": c.Issuer()})
	mustWrite(t, admin, "auth/kubernetes/role/team-a-json", map[string]any{
		"bound_service_account_names": "web", "bound_service_account_namespaces": "build",
		"bound_service_account_namespace_selector": `{"matchLabels":{"team":"a"}}`, "audience": c.Issuer()})
	role, err := admin.Logical().Read("auth/kubernetes/role/team-a")
	if err != nil || role.Data["bound_service_account_namespace_selector"] != yamlSel {
		t.Fatalf("read: %v, %v", role, err)
	}
	if l, ok := role.Data["bound_service_account_namespaces"].([]any); !ok || len(l) != 0 {
		t.Errorf("namespaces = %#v, want []", role.Data["bound_service_account_namespaces"])
	}

	// Without get on namespaces the reviewer cannot read the labels.
	_, err = vaultLoginAs(t, ls, "kubernetes", "team-a", c.Token("apps", "web"))
	if re := responseError(t, err, http.StatusForbidden); !strings.Contains(re.Errors[0], `may not read namespace "apps"`) ||
		!strings.Contains(re.Errors[0], "grant it get on namespaces") {
		t.Errorf("no RBAC: %q", re.Errors)
	}
	c.GrantRead("kube-system", "gatehouse", kubetest.ResourceNamespaces)
	for _, role := range []string{"team-a", "team-a-json"} {
		if _, err := vaultLoginAs(t, ls, "kubernetes", role, c.Token("apps", "web")); err != nil {
			t.Errorf("%s: selected namespace: %v", role, err)
		}
	}
	// The list still counts; a namespace neither lists nor selects is refused.
	if _, err := vaultLoginAs(t, ls, "kubernetes", "team-a-json", c.Token("build", "web")); err != nil {
		t.Errorf("listed namespace: %v", err)
	}
	_, err = vaultLoginAs(t, ls, "kubernetes", "team-a", c.Token("build", "web"))
	want := `permission denied: namespace not authorized: the service account's namespace "build" is not in the role's bound_service_account_namespaces and its labels do not match the role's bound_service_account_namespace_selector`
	if re := responseError(t, err, http.StatusForbidden); len(re.Errors) != 1 || re.Errors[0] != want {
		t.Errorf("unselected namespace: %q", re.Errors)
	}
	// An update that leaves the selector out keeps it.
	mustWrite(t, admin, "auth/kubernetes/role/team-a", map[string]any{"token_ttl": "1h"})
	if role, _ := admin.Logical().Read("auth/kubernetes/role/team-a"); role.Data["bound_service_account_namespace_selector"] != yamlSel {
		t.Errorf("selector after an update = %v", role.Data["bound_service_account_namespace_selector"])
	}
	// Clearing it with no namespaces listed is refused.
	_, err = admin.Logical().Write("auth/kubernetes/role/team-a", map[string]any{"bound_service_account_namespace_selector": ""})
	responseError(t, err, http.StatusBadRequest)
}

// TestVaultGoClientAnnotationsAsMetadata: with use_annotations_as_alias_metadata
// the service account's vault.hashicorp.com/alias-metadata-* annotations
// become token metadata (the reviewer needs get on serviceaccounts);
// Vault's reserved keys are refused with its message.
func TestVaultGoClientAnnotationsAsMetadata(t *testing.T) {
	ls := startLiveServer(t)
	admin := vaultAdmin(t, ls)
	c := kubetest.New(t)
	if err := admin.Sys().EnableAuthWithOptions("kubernetes", &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, admin, "auth/kubernetes/config", map[string]any{
		"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": c.ReviewerToken("kube-system", "gatehouse"),
		"use_annotations_as_alias_metadata": true})
	if cfg, err := admin.Logical().Read("auth/kubernetes/config"); err != nil || cfg.Data["use_annotations_as_alias_metadata"] != true {
		t.Fatalf("config read: %v, %v", cfg, err)
	}
	mustWrite(t, admin, "auth/kubernetes/role/web", map[string]any{
		"bound_service_account_names": "web,bad", "bound_service_account_namespaces": "apps", "audience": c.Issuer()})
	c.AnnotateServiceAccount("apps", "web", map[string]string{
		annotationEnv: "prod", "vault.hashicorp.com/alias-metadata-team": "a", "unrelated.example/key": "x"})

	_, err := vaultLoginAs(t, ls, "kubernetes", "web", c.Token("apps", "web"))
	if re := responseError(t, err, http.StatusForbidden); !strings.Contains(re.Errors[0], `the token reviewer may not read service account "apps/web"`) ||
		!strings.Contains(re.Errors[0], "grant it get on serviceaccounts") {
		t.Errorf("no RBAC: %q", re.Errors)
	}
	c.GrantRead("kube-system", "gatehouse", kubetest.ResourceServiceAccounts)
	s, err := vaultLoginAs(t, ls, "kubernetes", "web", c.Token("apps", "web"))
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if len(s.Auth.Metadata) != 5 || s.Auth.Metadata["env"] != "" {
		t.Errorf("auth.metadata = %v, want Vault's five keys only", s.Auth.Metadata)
	}
	cfg := vaultapi.DefaultConfig()
	cfg.Address = ls.base
	workload, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	workload.SetToken(s.Auth.ClientToken)
	self, err := workload.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := self.Data["meta"].(map[string]any)
	if meta["env"] != "prod" || meta["team"] != "a" || meta["service_account_name"] != "web" || meta["role"] != "web" {
		t.Errorf("meta = %v", meta)
	}
	for k := range meta {
		if strings.Contains(k, "/") || strings.Contains(k, "unrelated") {
			t.Errorf("meta has %q", k)
		}
	}

	c.AnnotateServiceAccount("apps", "bad", map[string]string{
		"vault.hashicorp.com/alias-metadata-service_account_uid": "forged", "vault.hashicorp.com/alias-metadata-role": "admin"})
	_, err = vaultLoginAs(t, ls, "kubernetes", "web", c.Token("apps", "bad"))
	want := `entity alias metadata keys for only internal use found from the client token's associated service account annotations: keys=["role" "service_account_uid"]`
	if re := responseError(t, err, http.StatusBadRequest); len(re.Errors) != 1 || re.Errors[0] != want {
		t.Errorf("reserved keys: %q", re.Errors)
	}
}

// annotationEnv is one alias-metadata annotation.
const annotationEnv = "vault.hashicorp.com/alias-metadata-env"
