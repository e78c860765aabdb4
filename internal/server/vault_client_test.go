package server_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	vaultk8s "github.com/hashicorp/vault/api/auth/kubernetes"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// TestVaultGoClientKubernetesLogin drives a running server with Vault's
// own Go client: mount, config and role with Logical().Write, roles with
// Logical().List, login with the kubernetes auth helper (auth.Login), then
// LookupSelf, RenewSelf and RevokeSelf; the revoked token then gets 403.
func TestVaultGoClientKubernetesLogin(t *testing.T) {
	ls := startLiveServer(t)
	c := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse")
	ctx := context.Background()

	cfg := vaultapi.DefaultConfig()
	cfg.Address = ls.base
	admin, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	admin.SetToken(ls.root)

	if err := admin.Sys().EnableAuthWithOptionsWithContext(ctx, "k8s-a", &vaultapi.EnableAuthOptions{Type: "kubernetes", Description: "cluster A"}); err != nil {
		t.Fatalf("enable auth: %v", err)
	}
	mounts, err := admin.Sys().ListAuthWithContext(ctx)
	if err != nil {
		t.Fatalf("list auth: %v", err)
	}
	if m := mounts["k8s-a/"]; m == nil || m.Type != "kubernetes" || m.Description != "cluster A" || m.Accessor == "" {
		t.Fatalf("sys/auth k8s-a/ = %+v", m)
	}
	if _, err := admin.Logical().WriteWithContext(ctx, "auth/k8s-a/config", map[string]any{
		"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": reviewer,
	}); err != nil {
		t.Fatalf("write config: %v", err)
	}
	if _, err := admin.Logical().WriteWithContext(ctx, "auth/k8s-a/role/web", map[string]any{
		"bound_service_account_names": "web", "bound_service_account_namespaces": []string{"apps"},
		"token_policies": "read-secrets,Deploy", "token_ttl": "1h", "token_max_ttl": "2h",
	}); err != nil {
		t.Fatalf("write role: %v", err)
	}
	list, err := admin.Logical().ListWithContext(ctx, "auth/k8s-a/role")
	if err != nil || list == nil {
		t.Fatalf("list roles: %v %v", list, err)
	}
	if keys, _ := list.Data["keys"].([]any); len(keys) != 1 || keys[0] != "web" {
		t.Fatalf("role keys = %v", list.Data["keys"])
	}
	role, err := admin.Logical().ReadWithContext(ctx, "auth/k8s-a/role/web")
	if err != nil || role == nil {
		t.Fatalf("read role: %v", err)
	}
	if ttl := role.Data["token_ttl"]; ttl == nil || ttl.(interface{ String() string }).String() != "3600" {
		t.Errorf("token_ttl = %v", ttl)
	}

	// The workload: a fresh client with its service-account token in a file.
	jwtFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(jwtFile, []byte(c.Token("apps", "web")), 0o600); err != nil {
		t.Fatal(err)
	}
	wcfg := vaultapi.DefaultConfig()
	wcfg.Address = ls.base
	workload, err := vaultapi.NewClient(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	workload.ClearToken()
	k8sAuth, err := vaultk8s.NewKubernetesAuth("web", vaultk8s.WithMountPath("k8s-a"), vaultk8s.WithServiceAccountTokenPath(jwtFile))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := workload.Auth().Login(ctx, k8sAuth)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if secret.Auth == nil || secret.Auth.ClientToken == "" || !secret.Auth.Renewable || secret.Auth.LeaseDuration != 3600 {
		t.Fatalf("login auth = %+v", secret.Auth)
	}
	if want := []string{"default", "deploy", "read-secrets"}; !slices.Equal(secret.Auth.Policies, want) {
		t.Errorf("policies = %v, want %v", secret.Auth.Policies, want)
	}
	if md := secret.Auth.Metadata; md["role"] != "web" || md["service_account_name"] != "web" || md["service_account_namespace"] != "apps" || md["service_account_uid"] == "" {
		t.Errorf("metadata = %v", md)
	}

	self, err := workload.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		t.Fatalf("lookup-self: %v", err)
	}
	if ttl, err := self.TokenTTL(); err != nil || ttl <= 0 {
		t.Errorf("lookup-self ttl = %v %v", ttl, err)
	}
	if renewable, err := self.TokenIsRenewable(); err != nil || !renewable {
		t.Errorf("renewable = %v %v", renewable, err)
	}
	if p, _ := self.Data["path"].(string); p != "auth/k8s-a/login" {
		t.Errorf("path = %q", p)
	}
	renewed, err := workload.Auth().Token().RenewSelfWithContext(ctx, 7200)
	if err != nil {
		t.Fatalf("renew-self: %v", err)
	}
	if renewed.Auth == nil || renewed.Auth.LeaseDuration <= 3600 || renewed.Auth.LeaseDuration > 7200 {
		t.Errorf("renewed lease = %+v", renewed.Auth)
	}
	if err := workload.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
		t.Fatalf("revoke-self: %v", err)
	}
	_, err = workload.Auth().Token().LookupSelfWithContext(ctx)
	var re *vaultapi.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Fatalf("lookup after revoke: %v", err)
	}

	// A login the role does not allow is refused with the reason.
	other, err := vaultk8s.NewKubernetesAuth("web", vaultk8s.WithMountPath("k8s-a"), vaultk8s.WithServiceAccountToken(c.Token("other", "web")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = workload.Auth().Login(ctx, other)
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden || len(re.Errors) != 1 ||
		re.Errors[0] != `permission denied: namespace not authorized: the service account's namespace "other" is not in the role's bound_service_account_namespaces` {
		t.Fatalf("login from another namespace: %v", err)
	}
}

// TestVaultGoClientLifetimeWatcher runs the renewal loop Vault Agent and
// the Go client's users run on a login token: renew-self until the max TTL
// stops it, then done without an error (time to log in again).
func TestVaultGoClientLifetimeWatcher(t *testing.T) {
	ls := startLiveServer(t)
	c := kubetest.New(t)
	ctx := context.Background()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = ls.base
	client, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken(ls.root)
	if err := client.Sys().EnableAuthWithOptionsWithContext(ctx, "kubernetes", &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Logical().WriteWithContext(ctx, "auth/kubernetes/config", map[string]any{
		"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": c.ReviewerToken("kube-system", "gatehouse"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Logical().WriteWithContext(ctx, "auth/kubernetes/role/web", map[string]any{
		"bound_service_account_names": "web", "bound_service_account_namespaces": "apps", "token_ttl": 2, "token_max_ttl": 4,
	}); err != nil {
		t.Fatal(err)
	}
	client.ClearToken()
	login, err := vaultk8s.NewKubernetesAuth("web", vaultk8s.WithServiceAccountToken(c.Token("apps", "web")))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := client.Auth().Login(ctx, login)
	if err != nil {
		t.Fatal(err)
	}
	watcher, err := client.NewLifetimeWatcher(&vaultapi.LifetimeWatcherInput{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	go watcher.Start()
	defer watcher.Stop()
	renewals := 0
	for {
		select {
		case err := <-watcher.DoneCh():
			if err != nil {
				t.Fatalf("watcher stopped with an error: %v", err)
			}
			if renewals == 0 {
				t.Error("the watcher never renewed the token")
			}
			return
		case r := <-watcher.RenewCh():
			renewals++
			if r.Secret.Auth == nil || r.Secret.Auth.LeaseDuration > 4 {
				t.Errorf("renewal %d: %+v", renewals, r.Secret.Auth)
			}
		}
	}
}
