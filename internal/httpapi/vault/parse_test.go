package vault

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestParseAuthPath(t *testing.T) {
	cases := []struct {
		in   string
		want authRoute
		ok   bool
	}{
		{"kubernetes/config", authRoute{mount: "kubernetes", endpoint: "config"}, true},
		{"kubernetes/login", authRoute{mount: "kubernetes", endpoint: "login"}, true},
		{"kubernetes/role", authRoute{mount: "kubernetes", endpoint: "role"}, true},
		{"kubernetes/role/", authRoute{mount: "kubernetes", endpoint: "role"}, true},
		{"kubernetes/role/web", authRoute{mount: "kubernetes", endpoint: "role/", role: "web"}, true},
		{"team-a/k8s/role/web", authRoute{mount: "team-a/k8s", endpoint: "role/", role: "web"}, true},
		{"team-a/k8s/config", authRoute{mount: "team-a/k8s", endpoint: "config"}, true},
		{"role/config", authRoute{mount: "role", endpoint: "config"}, true}, // a mount named "role"
		{"config", authRoute{}, false},
		{"kubernetes", authRoute{}, false},
		{"kubernetes/other", authRoute{}, false},
		{"kubernetes/role/web/extra", authRoute{}, false},
		{"", authRoute{}, false},
	}
	for _, tc := range cases {
		got, ok := parseAuthPath(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseAuthPath(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseAuthPath(f *testing.F) {
	for _, s := range []string{"kubernetes/config", "a/b/role/c", "role/role/role", "/", "x/login/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rt, ok := parseAuthPath(s)
		if !ok {
			return
		}
		if rt.mount == "" || strings.Contains(rt.role, "/") || (rt.endpoint == "role/") != (rt.role != "") {
			t.Fatalf("parseAuthPath(%q) = %+v", s, rt)
		}
	})
}

func TestParseStringList(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		bad  bool
	}{
		{``, []string{}, false},
		{`null`, []string{}, false},
		{`""`, []string{}, false},
		{`"a"`, []string{"a"}, false},
		{`"a,b, c"`, []string{"a", "b", " c"}, false},
		{`["a","b"]`, []string{"a", "b"}, false},
		{`[]`, []string{}, false},
		{`1`, nil, true},
		{`[1]`, nil, true},
		{`{"a":1}`, nil, true},
	}
	for _, tc := range cases {
		got, err := parseStringList("f", json.RawMessage(tc.in))
		if (err != nil) != tc.bad || (!tc.bad && !slices.Equal(got, tc.want)) {
			t.Errorf("parseStringList(%s) = %q, %v; want %q, bad=%v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestParseBoolAndInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *bool
		bad  bool
	}{{``, nil, false}, {`null`, nil, false}, {`true`, ptr(true), false}, {`"false"`, ptr(false), false}, {`"yes"`, nil, true}, {`1`, nil, true}} {
		got, err := parseBool("f", json.RawMessage(tc.in))
		if (err != nil) != tc.bad || (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("parseBool(%s) = %v, %v", tc.in, got, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{{`3`, 3, false}, {`"7"`, 7, false}, {`0`, 0, false}, {`-1`, 0, true}, {`"-1"`, 0, true}, {`1.5`, 0, true}, {`"x"`, 0, true}, {`true`, 0, true}} {
		got, err := parseInt("f", json.RawMessage(tc.in))
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("parseInt(%s) = %d, %v", tc.in, got, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func FuzzRoleBody(f *testing.F) {
	for _, s := range []string{
		`{"bound_service_account_names":"a,b","token_ttl":"1h","policies":["x"]}`,
		`{"token_num_uses":"3","token_no_default_policy":"true","bound_cidrs":"10.0.0.0/8"}`,
		`{"ttl":-1}`, `{"token_policies":7}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b roleBody
		if json.Unmarshal([]byte(s), &b) != nil {
			return
		}
		in, err := b.input()
		if err != nil {
			return
		}
		for _, d := range []*int64{in.TTL, in.MaxTTL, in.ExplicitMaxTTL, in.Period, in.NumUses} {
			if d != nil && *d < 0 {
				t.Fatalf("negative value from %q", s)
			}
		}
	})
}
