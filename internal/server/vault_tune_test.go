package server_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	vaultk8s "github.com/hashicorp/vault/api/auth/kubernetes"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// TestVaultAuthTune is `vault auth tune` through Vault's Go client: the
// mount's TTL limits and description are stored, read back, listed, and
// applied to the tokens its logins issue.
func TestVaultAuthTune(t *testing.T) {
	ls := startLiveServer(t)
	c := kubetest.New(t)
	ctx := context.Background()
	admin := vaultClient(t, ls, ls.root)

	if err := admin.Sys().EnableAuthWithOptionsWithContext(ctx, "k8s", &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	// Untuned: the system's 768h, in seconds.
	mc, err := admin.Sys().MountConfigWithContext(ctx, "auth/k8s")
	if err != nil {
		t.Fatalf("tune read: %v", err)
	}
	if mc.DefaultLeaseTTL != 768*3600 || mc.MaxLeaseTTL != 768*3600 || mc.TokenType != "default-service" {
		t.Errorf("untuned = %+v", mc)
	}
	// Tuned before the config is written: the mount stays unconfigured.
	desc := "cluster K"
	if err := admin.Sys().TuneMountWithContext(ctx, "auth/k8s", vaultapi.MountConfigInput{DefaultLeaseTTL: "1h", MaxLeaseTTL: "2h", Description: &desc}); err != nil {
		t.Fatalf("tune: %v", err)
	}
	if s, err := admin.Logical().ReadWithContext(ctx, "auth/k8s/config"); err == nil && s != nil {
		t.Fatalf("config after a tune alone = %+v", s.Data)
	}
	if _, err := admin.Logical().WriteWithContext(ctx, "auth/k8s/config", map[string]any{
		"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": c.ReviewerToken("kube-system", "gatehouse"),
	}); err != nil {
		t.Fatal(err)
	}
	// The config write keeps the tune; both tune routes read it (the
	// path as the vault CLI passes it, "/auth/k8s/").
	mc, err = admin.Sys().MountConfigWithContext(ctx, "/auth/k8s/")
	if err != nil {
		t.Fatal(err)
	}
	if mc.DefaultLeaseTTL != 3600 || mc.MaxLeaseTTL != 7200 {
		t.Errorf("tuned = %+v", mc)
	}
	alias, err := admin.Logical().ReadWithContext(ctx, "sys/auth/k8s/tune")
	if err != nil || alias == nil || alias.Data["description"] != "cluster K" {
		t.Fatalf("sys/auth/k8s/tune = %+v, %v", alias, err)
	}
	mounts, err := admin.Sys().ListAuthWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m := mounts["k8s/"]; m == nil || m.Description != "cluster K" || m.Config.DefaultLeaseTTL != 3600 || m.Config.MaxLeaseTTL != 7200 {
		t.Errorf("sys/auth k8s/ = %+v", m)
	}

	// Logins: no role TTL → the mount's default; a role TTL above the
	// mount's max → capped by it; a role max below it → the role's.
	for role, body := range map[string]map[string]any{
		"plain":  {},
		"long":   {"token_ttl": "3h", "token_max_ttl": "5h"},
		"short":  {"token_max_ttl": "30m"},
		"period": {"token_period": "4h"},
	} {
		body["bound_service_account_names"], body["bound_service_account_namespaces"] = "web", "apps"
		if _, err := admin.Logical().WriteWithContext(ctx, "auth/k8s/role/"+role, body); err != nil {
			t.Fatal(err)
		}
	}
	jwtFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(jwtFile, []byte(c.Token("apps", "web")), 0o600); err != nil {
		t.Fatal(err)
	}
	login := func(role string) *vaultapi.Secret {
		t.Helper()
		k, err := vaultk8s.NewKubernetesAuth(role, vaultk8s.WithMountPath("k8s"), vaultk8s.WithServiceAccountTokenPath(jwtFile))
		if err != nil {
			t.Fatal(err)
		}
		s, err := vaultClient(t, ls, "").Auth().Login(ctx, k)
		if err != nil {
			t.Fatalf("login %s: %v", role, err)
		}
		return s
	}
	for role, want := range map[string]int{"plain": 3600, "long": 7200, "short": 1800, "period": 7200} {
		if got := login(role).Auth.LeaseDuration; got != want {
			t.Errorf("role %s: lease %d, want %d", role, got, want)
		}
	}

	// "system" returns to the system's limits; unknown fields are ignored
	// with Vault's warning.
	s, err := admin.Logical().WriteWithContext(ctx, "sys/mounts/auth/k8s/tune", map[string]any{
		"default_lease_ttl": "system", "max_lease_ttl": "system", "listing_visibility": "unauth", "colour": "blue",
	})
	if err != nil {
		t.Fatal(err)
	}
	if s == nil || len(s.Warnings) != 1 || s.Warnings[0] != "Endpoint ignored these unrecognized parameters: [colour listing_visibility]" {
		t.Errorf("tune warnings = %+v", s)
	}
	if got := login("plain").Auth.LeaseDuration; got != 768*3600 {
		t.Errorf("lease after system = %d", got)
	}
	// A default above the max is refused, and changes nothing.
	err = admin.Sys().TuneMountWithContext(ctx, "auth/k8s", vaultapi.MountConfigInput{DefaultLeaseTTL: "3h", MaxLeaseTTL: "1h"})
	var re *vaultapi.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest || len(re.Errors) != 1 ||
		re.Errors[0] != "new backend default lease TTL of 10800 greater than backend max lease TTL of 3600" {
		t.Fatalf("default above max: %v", err)
	}
	if mc, err = admin.Sys().MountConfigWithContext(ctx, "auth/k8s"); err != nil || mc.DefaultLeaseTTL != 768*3600 || mc.MaxLeaseTTL != 768*3600 {
		t.Errorf("after refused tune = %+v, %v", mc, err)
	}
	// Absent mounts are 404s; the workload's token may not tune.
	_, err = admin.Sys().MountConfigWithContext(ctx, "auth/nope")
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		t.Errorf("tune of an absent mount: %v", err)
	}
	err = vaultClient(t, ls, login("plain").Auth.ClientToken).Sys().TuneMountWithContext(ctx, "auth/k8s", vaultapi.MountConfigInput{DefaultLeaseTTL: "1h"})
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Errorf("tune by a workload: %v", err)
	}
}
