package vault

import (
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// TestLoginHandler: auth/<mount>/login answers Vault's auth block, and
// refusals in Vault's words.
func TestLoginHandler(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := kubetest.New(t)
	c.GrantAuthDelegator("kube-system", "gatehouse")
	f.configure("kubernetes", c)
	f.ok("PUT", "auth/kubernetes/role/web", map[string]any{
		"bound_service_account_names": "web", "bound_service_account_namespaces": "apps", "token_policies": "read",
	})
	c.CreateServiceAccount("apps", "web")
	jwt := c.Token("apps", "web")

	a := f.do("POST", "auth/kubernetes/login", "", map[string]any{"role": "web", "jwt": jwt, "extra": 1})
	if a.status != 200 {
		t.Fatalf("login = %d %s", a.status, a.raw)
	}
	auth, _ := a.body["auth"].(map[string]any)
	if tok, _ := auth["client_token"].(string); tok == "" {
		t.Fatalf("no client_token: %s", a.raw)
	}
	if got := strList(auth["policies"]); !slices.Equal(got, []string{"default", "read"}) {
		t.Errorf("policies = %q", got)
	}
	md, _ := auth["metadata"].(map[string]any)
	if md["role"] != "web" || md["service_account_name"] != "web" || md["service_account_namespace"] != "apps" {
		t.Errorf("metadata = %v", md)
	}
	if len(warnings(a)) != 1 {
		t.Errorf("unknown field: warnings = %q", warnings(a))
	}
	// The token works on the token endpoints.
	if a := f.do("GET", "auth/token/lookup-self", auth["client_token"].(string), nil); a.status != 200 {
		t.Errorf("lookup-self with the new token = %d %s", a.status, a.raw)
	}

	c.CreateServiceAccount("apps", "other")
	for name, tc := range map[string]struct {
		body   any
		status int
		want   string
	}{
		"no role":      {map[string]any{"jwt": jwt}, 400, "missing role"},
		"no jwt":       {map[string]any{"role": "web"}, 400, "missing jwt"},
		"unknown role": {map[string]any{"role": "nope", "jwt": jwt}, 400, `invalid role name "nope"`},
		"not a JWT":    {map[string]any{"role": "web", "jwt": "abc"}, 403, "not a well-formed JWT"},
		"name refused": {map[string]any{"role": "web", "jwt": c.Token("apps", "other")}, 403, "service account name not authorized"},
		"bad json":     {`{"role":`, 400, ""},
		"wrong mount":  {map[string]any{"role": "web", "jwt": jwt}, 404, ""},
	} {
		t.Run(name, func(t *testing.T) {
			path := "auth/kubernetes/login"
			if name == "wrong mount" {
				path = "auth/nowhere/login"
			}
			wantError(t, f.do("POST", path, "", tc.body), tc.status, tc.want)
		})
	}
}
