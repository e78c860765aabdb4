package server_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// TestVaultMountPathsNestedAndReserved: a mount inside or around another
// is refused as Vault refuses it, and so are paths that would shadow the
// token store or the method's own routes; roles named like those routes
// work.
func TestVaultMountPathsNestedAndReserved(t *testing.T) {
	ts, _ := newVaultServer(t)
	c := kubetest.New(t)
	ts.kubeMount("kubernetes", c, nil)
	noContent(t, ts.vault("POST", "sys/auth/team/a", ts.root, map[string]any{"type": "kubernetes"}))

	for _, tc := range []struct{ path, want string }{
		{"kubernetes/role", "path is already in use at kubernetes/"},
		{"kubernetes/x/y", "path is already in use at kubernetes/"},
		{"kubernetes", "path is already in use at kubernetes/"},
		{"team", "path is already in use at team/a/"},
		{"team/a/b", "path is already in use at team/a/"},
		{"Token", `"token" is reserved`},
		{"TOKEN/x", `"token" is reserved`},
		{"x/config", `the segment "config" is reserved`},
		{"x/role/y", `the segment "role" is reserved`},
		{"login", `the segment "login" is reserved`},
	} {
		vaultErrorOK(t, ts.vault("POST", "sys/auth/"+tc.path, ts.root, map[string]any{"type": "kubernetes"}), 400, tc.want)
	}
	// Prefixes of characters, not segments, are separate paths.
	noContent(t, ts.vault("POST", "sys/auth/kube", ts.root, map[string]any{"type": "kubernetes"}))
	noContent(t, ts.vault("POST", "sys/auth/team/ab", ts.root, map[string]any{"type": "kubernetes"}))
	noContent(t, ts.vault("POST", "sys/auth/tokens", ts.root, map[string]any{"type": "kubernetes"}))

	// Roles named login, config and role are reachable: write, read, list,
	// log in, delete.
	names := []string{"config", "login", "role"}
	for _, name := range names {
		ts.vaultRole("kubernetes", name, anyRole)
		if r := ts.vault("GET", "auth/kubernetes/role/"+name, ts.root, nil); r.status != 200 {
			t.Fatalf("read role %s: %d %s", name, r.status, r.raw)
		}
		ts.loginToken("kubernetes", name, c.Token("apps", "web"))
	}
	list := ts.vault("LIST", "auth/kubernetes/role", ts.root, nil)
	if got := strs(dataOf(t, list)["keys"]); len(got) != 3 || got[0] != "config" || got[1] != "login" || got[2] != "role" {
		t.Errorf("role keys = %v", got)
	}
	for _, name := range names {
		noContent(t, ts.vault("DELETE", "auth/kubernetes/role/"+name, ts.root, nil))
		vaultErrorOK(t, ts.vault("GET", "auth/kubernetes/role/"+name, ts.root, nil), 404, "")
	}
	// The mount's own routes still answer.
	if r := ts.vault("GET", "auth/kubernetes/config", ts.root, nil); r.status != 200 {
		t.Fatalf("read config: %d %s", r.status, r.raw)
	}
	// Disabling the token store stays refused.
	vaultErrorOK(t, ts.vault("DELETE", "sys/auth/token", ts.root, nil), 400, `"token" is reserved`)
}
