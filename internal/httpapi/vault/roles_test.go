package vault

import (
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// TestRoleHandlers: auth/<mount>/role/<name> writes, reads, lists and
// deletes roles, with Vault's legacy field names and loose types.
func TestRoleHandlers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mount("kubernetes")

	wantError(t, f.do("LIST", "auth/kubernetes/role", f.root, nil), 404, "")
	f.ok("POST", "auth/kubernetes/role/web", map[string]any{
		"bound_service_account_names": "web,api", "bound_service_account_namespaces": []string{"apps"},
		"bound_service_account_namespace_selector": "matchLabels:\n  team: a\n",
		"policies": "Read,write", "ttl": "1h", "max_ttl": 7200, "num_uses": "3", "bound_cidrs": "10.0.0.0/8",
		"token_no_default_policy": "true", "audience": "vault",
	})
	d := data(t, f.ok("GET", "auth/kubernetes/role/web", nil))
	for k, v := range map[string]any{
		"token_ttl": float64(3600), "ttl": float64(3600), "token_max_ttl": float64(7200), "max_ttl": float64(7200),
		"token_num_uses": float64(3), "num_uses": float64(3), "token_no_default_policy": true, "audience": "vault",
		"alias_name_source": "serviceaccount_uid", "token_type": "default",
		"bound_service_account_namespace_selector": "matchLabels:\n  team: a\n",
	} {
		if d[k] != v {
			t.Errorf("%s = %v, want %v", k, d[k], v)
		}
	}
	for k, want := range map[string][]string{
		"bound_service_account_names": {"web", "api"}, "bound_service_account_namespaces": {"apps"},
		"token_policies": {"read", "write"}, "policies": {"read", "write"}, "token_bound_cidrs": {"10.0.0.0/8"},
	} {
		if got := strList(d[k]); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	// The new name wins over the legacy one; omitted fields keep values.
	f.ok("PUT", "auth/kubernetes/role/web", map[string]any{"token_ttl": 60, "ttl": 120})
	if d := data(t, f.ok("GET", "auth/kubernetes/role/web", nil)); d["token_ttl"] != float64(60) || d["token_num_uses"] != float64(3) {
		t.Errorf("after update: token_ttl %v, token_num_uses %v", d["token_ttl"], d["token_num_uses"])
	}

	a := f.ok("PUT", "auth/kubernetes/role/api", map[string]any{"bound_service_account_names": "*", "bound_service_account_namespaces": "*"})
	if w := warnings(a); a.status != 200 || len(w) != 1 || w[0] != vaultauth.WarnNoAudience("api") {
		t.Errorf("role without an audience: %d %s, want Vault's warning", a.status, a.raw)
	}
	d = data(t, f.ok("GET", "auth/kubernetes/role/api", nil))
	for _, k := range []string{"ttl", "max_ttl", "period", "num_uses", "token_ttl", "token_explicit_max_ttl"} {
		if d[k] != float64(0) {
			t.Errorf("%s = %#v, want 0", k, d[k])
		}
	}
	for _, k := range []string{"policies", "bound_cidrs"} {
		if l, ok := d[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s = %#v, want []", k, d[k])
		}
	}
	for _, a := range []answer{f.ok("LIST", "auth/kubernetes/role", nil), f.ok("GET", "auth/kubernetes/role?list=true", nil)} {
		if got := strList(data(t, a)["keys"]); !slices.Equal(got, []string{"api", "web"}) {
			t.Errorf("keys = %q", got)
		}
	}

	for name, tc := range map[string]struct {
		path string
		body any
		want string
	}{
		"bad duration":          {"web", map[string]any{"token_ttl": "soon"}, "token_ttl"},
		"bad number":            {"web", map[string]any{"token_num_uses": -1}, "token_num_uses"},
		"bad bool":              {"web", map[string]any{"token_no_default_policy": "yes please"}, "token_no_default_policy"},
		"bad list":              {"web", map[string]any{"token_policies": 3}, "token_policies"},
		"bad selector":          {"web", map[string]any{"bound_service_account_namespace_selector": "matchLabels: ["}, `invalid "bound_service_account_namespace_selector" configured`},
		"selector not a string": {"web", map[string]any{"bound_service_account_namespace_selector": map[string]any{"matchLabels": map[string]string{"a": "b"}}}, ""},
		"no names":              {"new", map[string]any{"bound_service_account_namespaces": "apps"}, "bound_service_account_names"},
		"bad json":              {"web", `{"token_ttl":`, ""},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, f.do("PUT", "auth/kubernetes/role/"+tc.path, f.root, tc.body), 400, tc.want)
		})
	}
	wantError(t, f.do("PUT", "auth/kubernetes/role/x", "", map[string]any{}), 403, "permission denied")
	wantError(t, f.do("GET", "auth/kubernetes/role/none", f.root, nil), 404, "")
	wantError(t, f.do("PUT", "auth/nowhere/role/x", f.root, map[string]any{"bound_service_account_names": "*", "bound_service_account_namespaces": "*"}), 404, "")

	if a := f.ok("DELETE", "auth/kubernetes/role/web", nil); a.status != 204 {
		t.Errorf("delete = %d", a.status)
	}
	if a := f.ok("DELETE", "auth/kubernetes/role/web", nil); a.status != 204 {
		t.Errorf("deleting an absent role = %d, want 204 as in Vault", a.status)
	}
	wantError(t, f.do("GET", "auth/kubernetes/role/web", f.root, nil), 404, "")
}

func strList(v any) []string {
	list, _ := v.([]any)
	out := []string{}
	for _, e := range list {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}
