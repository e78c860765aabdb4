package vault

import "testing"

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
