package server_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestVaultTokenCapabilities is `vault token capabilities` through Vault's
// Go client (sys/capabilities-self) for a table of paths × kinds of token,
// each answer cross-checked against the server: every capability claimed
// is exercised and must not be refused, and a "deny" must be refused.
func TestVaultTokenCapabilities(t *testing.T) {
	ts, _ := newVaultServer(t)
	c := kubetest.New(t)
	ts.kubeMount("kubernetes", c, nil)
	jwt := c.Token("apps", "web")
	adminID, memberID, noneID := ts.createIdentity("ops", "admin"), ts.createIdentity("reader", "member"), ts.createIdentity("none", "no-access")

	// Each check gets a fresh token, so that revoke-self may run.
	kinds := []struct {
		name  string
		fresh func() string
	}{
		{"root", func() string { return ts.root }},
		{"admin", func() string { return ts.tokenFor(adminID, store.TokenPolicy{}) }},
		{"member", func() string { return ts.tokenFor(memberID, store.TokenPolicy{}) }},
		{"no-access", func() string { return ts.tokenFor(noneID, store.TokenPolicy{}) }},
		{"vault-login", func() string { return ts.loginToken("kubernetes", "web", jwt) }},
	}
	type want struct{ admin, member, none string } // space-separated; root always "root"
	rw, u := "read update", "update"
	paths := []struct {
		path string
		want want
		body map[string]any
	}{
		{"sys/health", want{"read", "read", "read"}, nil},
		{"sys/seal-status", want{"read", "read", "read"}, nil},
		{"sys/leader", want{"read", "read", "read"}, nil},
		{"sys/capabilities-self", want{u, u, u}, map[string]any{"paths": []string{"x"}}},
		{"sys/capabilities", want{u, "deny", "deny"}, nil},
		{"sys/capabilities-accessor", want{u, "deny", "deny"}, nil},
		{"sys/auth", want{"read", "deny", "deny"}, nil},
		{"sys/auth/probe", want{"create delete update", "deny", "deny"}, map[string]any{"type": "kubernetes"}},
		{"sys/auth/kubernetes/tune", want{rw, "deny", "deny"}, nil},
		{"sys/mounts/auth/kubernetes/tune", want{rw, "deny", "deny"}, nil},
		{"auth/token/lookup-self", want{rw, rw, rw}, nil},
		{"auth/token/renew-self", want{u, u, u}, nil},
		{"auth/token/lookup", want{u, "deny", "deny"}, nil},
		{"auth/token/revoke", want{u, "deny", "deny"}, nil},
		{"auth/token/lookup-accessor", want{u, "deny", "deny"}, nil},
		{"auth/token/revoke-accessor", want{u, "deny", "deny"}, nil},
		{"auth/token/create", want{"deny", "deny", "deny"}, nil},
		{"auth/kubernetes/config", want{"create read update", "read", "deny"}, nil},
		{"auth/kubernetes/role", want{"list", "list", "deny"}, nil},
		{"auth/kubernetes/login", want{"create update", "create update", "create update"}, map[string]any{"role": "web", "jwt": jwt}},
		{"auth/kubernetes/role/web", want{"create delete read update", "read", "deny"}, anyRole},
		{"auth/token/revoke-self", want{u, u, u}, nil},
		{"secret/data/app", want{"deny", "deny", "deny"}, nil},
	}
	methods := map[string][]string{"read": {"GET"}, "list": {"LIST"}, "create": {"POST"}, "update": {"POST", "PUT"}, "delete": {"DELETE"}}
	ctx := context.Background()
	for _, k := range kinds {
		ts.vaultRole("kubernetes", "web", anyRole) // back, if an earlier check deleted it
		for _, p := range paths {
			got, err := vaultClientAt(t, ts.http.URL, k.fresh()).Sys().CapabilitiesSelfWithContext(ctx, p.path)
			if err != nil {
				t.Fatalf("%s %s: %v", k.name, p.path, err)
			}
			var w string
			switch k.name {
			case "root":
				w = "root"
			case "admin":
				w = p.want.admin
			case "member":
				w = p.want.member
			default:
				w = p.want.none
			}
			if strings.Join(got, " ") != w {
				t.Errorf("%s on %s: %v, want %s", k.name, p.path, got, w)
				continue
			}
			exercised := got
			if k.name == "root" {
				if p.path == "auth/token/revoke-self" {
					continue // the shared root token
				}
				exercised = strings.Fields(p.want.admin)
			}
			for _, cp := range exercised {
				for _, m := range methods[cp] {
					r := ts.vault(m, p.path, k.fresh(), p.body)
					if r.status == http.StatusForbidden || r.status == http.StatusMethodNotAllowed {
						t.Errorf("%s has %s on %s, but %s answered %d %s", k.name, cp, p.path, m, r.status, r.raw)
					}
				}
			}
			if w == "deny" {
				// What the admin may do there is refused to this token.
				for _, cp := range strings.Fields(p.want.admin) {
					if cp == "deny" {
						continue
					}
					for _, m := range methods[cp] {
						if r := ts.vault(m, p.path, k.fresh(), p.body); r.status != http.StatusForbidden {
							t.Errorf("%s is denied %s, but %s answered %d %s", k.name, p.path, m, r.status, r.raw)
						}
					}
				}
			}
		}
	}

	// Several paths at once, in Vault's shape: each path's list, no
	// "capabilities" key; the data is repeated at the top level.
	member := ts.tokenFor(memberID, store.TokenPolicy{})
	r := ts.vault("POST", "sys/capabilities-self", member, map[string]any{"paths": []string{"sys/auth", "auth/kubernetes/config"}})
	data := dataOf(t, r)
	if !slices.Equal(strs(data["sys/auth"]), []string{"deny"}) || !slices.Equal(strs(data["auth/kubernetes/config"]), []string{"read"}) ||
		data["capabilities"] != nil || !slices.Equal(strs(r.body["sys/auth"]), []string{"deny"}) {
		t.Errorf("two paths: %s", r.raw)
	}
	vaultErrorOK(t, ts.vault("POST", "sys/capabilities-self", member, map[string]any{}), 400, "paths must be supplied")

	// Another token's, by value and by accessor (admin only; no use spent).
	admin := vaultClientAt(t, ts.http.URL, ts.tokenFor(adminID, store.TokenPolicy{}))
	limited := ts.tokenFor(noneID, store.TokenPolicy{NumUsesLimit: 1})
	got, err := admin.Sys().CapabilitiesWithContext(ctx, limited, "auth/token/lookup-self")
	if err != nil || !slices.Equal(got, []string{"read", "update"}) {
		t.Errorf("capabilities of another token = %v, %v", got, err)
	}
	acc := dataOf(t, ts.vaultOK("POST", "auth/token/lookup", ts.root, map[string]any{"token": limited}))["accessor"].(string)
	got, err = admin.Sys().CapabilitiesAccessorWithContext(ctx, acc, "auth/kubernetes/config")
	if err != nil || !slices.Equal(got, []string{"deny"}) {
		t.Errorf("capabilities by accessor = %v, %v", got, err)
	}
	ts.vaultOK("GET", "auth/token/lookup-self", limited, nil) // its one use is still there
	got, err = admin.Sys().CapabilitiesWithContext(ctx, ts.root, "auth/kubernetes/config")
	if err != nil || !slices.Equal(got, []string{"root"}) {
		t.Errorf("capabilities of the root token = %v, %v", got, err)
	}
	var re *vaultapi.ResponseError
	_, err = admin.Sys().CapabilitiesWithContext(ctx, "gth_not-a-token", "sys/auth")
	if !errors.As(err, &re) || re.StatusCode != 400 || re.Errors[0] != "invalid token" {
		t.Errorf("capabilities of a bad token: %v", err)
	}
	_, err = vaultClientAt(t, ts.http.URL, member).Sys().CapabilitiesWithContext(ctx, limited, "sys/auth")
	if !errors.As(err, &re) || re.StatusCode != 403 {
		t.Errorf("capabilities of another token by a member: %v", err)
	}
}
