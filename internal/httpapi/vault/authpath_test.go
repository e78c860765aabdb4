package vault

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// TestParseAuthPathRouteNames: roles named like the routes are reachable,
// and the mount ends at the first route segment.
func TestParseAuthPathRouteNames(t *testing.T) {
	cases := []struct {
		in   string
		want authRoute
		ok   bool
	}{
		{"kubernetes/role/login", authRoute{mount: "kubernetes", endpoint: "role/", role: "login"}, true},
		{"kubernetes/role/config", authRoute{mount: "kubernetes", endpoint: "role/", role: "config"}, true},
		{"kubernetes/role/role", authRoute{mount: "kubernetes", endpoint: "role/", role: "role"}, true},
		{"kubernetes/role/role/", authRoute{mount: "kubernetes", endpoint: "role/", role: "role"}, true},
		{"a/b/role/login", authRoute{mount: "a/b", endpoint: "role/", role: "login"}, true},
		{"a/b/login", authRoute{mount: "a/b", endpoint: "login"}, true},
		{"kubernetes/config/login", authRoute{}, false},
		{"kubernetes/login/role", authRoute{}, false},
		{"kubernetes/role//", authRoute{}, false},
		{"/config", authRoute{}, false},
	}
	for _, tc := range cases {
		got, ok := parseAuthPath(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseAuthPath(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzAuthPathRoundTrip: every mount path vaultauth accepts, with any role
// name it accepts, routes back to that mount and role, whatever the
// names (a role may be called "login", "config" or "role").
func FuzzAuthPathRoundTrip(f *testing.F) {
	for _, s := range [][2]string{{"kubernetes", "web"}, {"team-a/k8s", "login"}, {"a.b/c_d", "role"}, {"x", "config"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, mount, role string) {
		m, err := vaultauth.CleanMountPath(mount)
		if err != nil {
			return
		}
		if _, err := vaultauth.RoleName(role); err != nil {
			return
		}
		for _, tc := range []struct {
			path string
			want authRoute
		}{
			{m + "/role/" + role, authRoute{mount: m, endpoint: "role/", role: role}},
			{m + "/role", authRoute{mount: m, endpoint: "role"}},
			{m + "/login", authRoute{mount: m, endpoint: "login"}},
			{m + "/config", authRoute{mount: m, endpoint: "config"}},
		} {
			if got, ok := parseAuthPath(tc.path); !ok || got != tc.want {
				t.Fatalf("parseAuthPath(%q) = %+v, %v; want %+v", tc.path, got, ok, tc.want)
			}
		}
	})
}
