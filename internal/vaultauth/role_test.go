package vaultauth

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/authmethod"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func list(s ...string) *[]string { return &s }
func num(n int64) *int64         { return &n }
func str(s string) *string       { return &s }

func TestRoleInputApply(t *testing.T) {
	base := RoleInput{BoundNames: list("web"), BoundNamespaces: list("apps")}
	with := func(f func(*RoleInput)) RoleInput { in := base; f(&in); return in }
	cases := []struct {
		name    string
		in      RoleInput
		wantErr string
		check   func(t *testing.T, r Role)
	}{
		{"defaults", base, "", func(t *testing.T, r Role) {
			if r.AliasNameSource != AliasUID || r.TokenType != "default" || r.Policies == nil || r.BoundCIDRs == nil {
				t.Errorf("defaults = %+v", r)
			}
		}},
		{"names required", RoleInput{BoundNamespaces: list("apps")}, `"bound_service_account_names" can not be empty`, nil},
		{"namespaces required", RoleInput{BoundNames: list("web")}, `"bound_service_account_namespaces" can not be empty`, nil},
		{"blank entries only", with(func(in *RoleInput) { in.BoundNames = list(" ", "") }), "can not be empty", nil},
		{"star alone", with(func(in *RoleInput) { in.BoundNames = list("*") }), "", nil},
		{"selector instead of namespaces", RoleInput{BoundNames: list("web"), NamespaceSelector: str("matchLabels: {team: a}\n")}, "", func(t *testing.T, r Role) {
			if r.NamespaceSelector != "matchLabels: {team: a}\n" || len(r.BoundNamespaces) != 0 {
				t.Errorf("role = %+v", r)
			}
			rules, err := r.rules()
			if err != nil || rules.NamespaceSelector == nil || rules.NamespaceSelector.String() != "team=a" || len(rules.Namespaces) != 0 {
				t.Errorf("rules = %+v, %v", rules, err)
			}
		}},
		{"selector with star namespaces is moot", with(func(in *RoleInput) {
			in.BoundNamespaces, in.NamespaceSelector = list("*"), str(`{"matchLabels":{"team":"a"}}`)
		}), "", func(t *testing.T, r Role) {
			if rules, err := r.rules(); err != nil || rules.NamespaceSelector != nil {
				t.Errorf("rules = %+v, %v", rules, err)
			}
		}},
		{"blank selector and no namespaces", RoleInput{BoundNames: list("web"), NamespaceSelector: str("  ")},
			`"bound_service_account_namespaces" can not be empty if "bound_service_account_namespace_selector" is not set`, nil},
		{"bad selector", with(func(in *RoleInput) { in.NamespaceSelector = str(`{"matchExpressions":[]}`) }),
			`invalid "bound_service_account_namespace_selector" configured`, nil},
		{"star mixed", with(func(in *RoleInput) { in.BoundNamespaces = list("*", "apps") }), `can not mix "*" with values`, nil},
		{"glob", with(func(in *RoleInput) { in.BoundNames = list("web-*", " api ") }), "", func(t *testing.T, r Role) {
			if !slices.Equal(r.BoundNames, []string{"web-*", "api"}) {
				t.Errorf("names = %q", r.BoundNames)
			}
		}},
		{"bad name chars", with(func(in *RoleInput) { in.BoundNames = list("Web App") }), "bound_service_account_names", nil},
		{"ttl above max", with(func(in *RoleInput) { in.TTL, in.MaxTTL = num(7200), num(3600) }), "token_ttl should not be greater than token_max_ttl", nil},
		{"negative uses", with(func(in *RoleInput) { in.NumUses = num(-1) }), "token_num_uses cannot be negative", nil},
		{"ttl too large", with(func(in *RoleInput) { in.TTL = num(authmethod.MaxTTLLimit + 1) }), "token_ttl must be at most", nil},
		{"batch", with(func(in *RoleInput) { in.TokenType = str("batch") }), "not supported", nil},
		{"bogus type", with(func(in *RoleInput) { in.TokenType = str("x") }), "invalid token_type", nil},
		{"service type", with(func(in *RoleInput) { in.TokenType = str("service") }), "", func(t *testing.T, r Role) {
			if r.TokenType != "service" {
				t.Errorf("type = %q", r.TokenType)
			}
		}},
		{"alias source", with(func(in *RoleInput) { in.AliasNameSource = str("nope") }), "invalid alias_name_source", nil},
		{"policies", with(func(in *RoleInput) { in.Policies = list("B", "a", " ", "a") }), "", func(t *testing.T, r Role) {
			if !slices.Equal(r.Policies, []string{"a", "b"}) {
				t.Errorf("policies = %q", r.Policies)
			}
		}},
		{"cidrs", with(func(in *RoleInput) { in.BoundCIDRs = list("10.1.2.3/8", "::ffff:192.168.0.1") }), "", func(t *testing.T, r Role) {
			if !slices.Equal(r.BoundCIDRs, []string{"10.0.0.0/8", "192.168.0.1/32"}) {
				t.Errorf("cidrs = %q", r.BoundCIDRs)
			}
		}},
		{"bad cidr", with(func(in *RoleInput) { in.BoundCIDRs = list("10.0.0.0/33") }), "token_bound_cidrs", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.in.apply(Role{Name: "r"}, true)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestRoleUpdateMerges(t *testing.T) {
	r, err := RoleInput{BoundNames: list("web"), BoundNamespaces: list("apps"), TTL: num(60), Policies: list("p")}.apply(Role{Name: "r"}, true)
	if err != nil {
		t.Fatal(err)
	}
	r, err = RoleInput{Audience: str("vault")}.apply(r, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.TTL != 60 || !slices.Equal(r.Policies, []string{"p"}) || r.Audience != "vault" || !slices.Equal(r.BoundNames, []string{"web"}) {
		t.Errorf("merged = %+v", r)
	}
}

func TestRolePolicy(t *testing.T) {
	cases := []struct {
		r    Role
		want store.TokenPolicy
	}{
		{Role{}, store.TokenPolicy{TTL: SystemDefaultTTL, MaxTTL: SystemDefaultTTL, TrustedIPs: []string{"0.0.0.0/0", "::/0"}}},
		{Role{TTL: 60}, store.TokenPolicy{TTL: 60, MaxTTL: SystemDefaultTTL, TrustedIPs: []string{"0.0.0.0/0", "::/0"}}},
		{Role{MaxTTL: 600}, store.TokenPolicy{TTL: 600, MaxTTL: 600, TrustedIPs: []string{"0.0.0.0/0", "::/0"}}},
		{Role{TTL: 60, MaxTTL: 600, ExplicitMaxTTL: 30}, store.TokenPolicy{TTL: 30, MaxTTL: 30, TrustedIPs: []string{"0.0.0.0/0", "::/0"}}},
		{Role{Period: 300, NumUses: 5, BoundCIDRs: []string{"10.0.0.0/8"}}, store.TokenPolicy{TTL: SystemDefaultTTL, MaxTTL: SystemDefaultTTL, Period: 300, NumUsesLimit: 5, TrustedIPs: []string{"10.0.0.0/8"}}},
	}
	for _, tc := range cases {
		got := tc.r.Policy()
		if got.TTL != tc.want.TTL || got.MaxTTL != tc.want.MaxTTL || got.Period != tc.want.Period || got.NumUsesLimit != tc.want.NumUsesLimit || !slices.Equal(got.TrustedIPs, tc.want.TrustedIPs) {
			t.Errorf("Policy(%+v) = %+v, want %+v", tc.r, got, tc.want)
		}
	}
	if got := (Role{Policies: []string{"b", "a"}}).TokenPolicies(); !slices.Equal(got, []string{"a", "b", "default"}) {
		t.Errorf("TokenPolicies = %q", got)
	}
	if got := (Role{Policies: []string{"a"}, NoDefaultPolicy: true}).TokenPolicies(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("TokenPolicies without default = %q", got)
	}
}

func TestRoleAndMountNames(t *testing.T) {
	for in, want := range map[string]string{"Web": "web", "a_b.c-d": "a_b.c-d", "x": "x", "svc@Team.example": "svc@team.example", "a@b": "a@b"} {
		if got, err := RoleName(in); err != nil || got != want {
			t.Errorf("RoleName(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-a", "a-", "a/b", "a b", "@a", "a@", "a+b", "a:b", strings.Repeat("a", 129)} {
		if _, err := RoleName(bad); err == nil {
			t.Errorf("RoleName(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"kubernetes": "kubernetes", "/team-a/k8s/": "team-a/k8s", "a.b_c": "a.b_c", "0../0": "0../0", "..a/b..": "..a/b.."} {
		if got, err := CleanMountPath(in); err != nil || got != want {
			t.Errorf("CleanMountPath(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "/", "a//b", "token", "token/x", "a b", "../x", "a/./b", ".."} {
		if got, err := CleanMountPath(bad); err == nil {
			t.Errorf("CleanMountPath(%q) = %q accepted", bad, got)
		}
	}
}

// FuzzCleanMountPath checks what an accepted path is, segment by segment: a
// segment is "." or ".." only when it is exactly that ("0..", "..a" and
// "a.b" are ordinary names), so the property looks at whole segments, never
// at substrings such as "../".
func FuzzCleanMountPath(f *testing.F) {
	for _, s := range []string{"kubernetes", "a/b", "/x/", "token", "..", "a//b", "0../0", "a/../b", "./a", "..a/b..", "token/x", "tokens"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := CleanMountPath(s)
		if err != nil {
			return
		}
		if p != strings.Trim(s, "/") {
			t.Fatalf("CleanMountPath(%q) = %q: not the input without its outer slashes", s, p)
		}
		if len(p) > 255 || p == "token" || strings.HasPrefix(p, "token/") {
			t.Fatalf("CleanMountPath(%q) = %q: too long or reserved", s, p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("CleanMountPath(%q) = %q: segment %q", s, p, seg)
			}
			for _, c := range seg {
				if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
					t.Fatalf("CleanMountPath(%q) = %q: character %q", s, p, c)
				}
			}
		}
		if again, err := CleanMountPath(p); err != nil || again != p {
			t.Fatalf("CleanMountPath(%q) = %q, %v: a clean path does not stay clean", p, again, err)
		}
	})
}

func TestPodFiles(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_700_000_000, 0)
	p := newPodFiles(dir, func() time.Time { return now })
	if p.caCert() != "" || p.token() != "" {
		t.Fatal("files read before they exist")
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := p.token(); got != "" {
		t.Errorf("token re-read within a minute: %q", got)
	}
	now = now.Add(podTokenMaxAge)
	if got := p.token(); got != "first" {
		t.Errorf("token after a minute = %q", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(podTokenMaxAge)
	if got := p.token(); got != "second" {
		t.Errorf("rotated token = %q", got)
	}
	if got := newPodFiles("", time.Now).token(); got != "" {
		t.Errorf("disabled pod files read %q", got)
	}
}
