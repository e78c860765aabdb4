package vault

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// TestConfigHandlers: auth/<mount>/config writes and reads back Vault's
// fields, answers 404 before the first write and refuses bad values.
func TestConfigHandlers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := kubetest.New(t)
	f.mount("kubernetes")

	wantError(t, f.do("GET", "auth/kubernetes/config", f.root, nil), 404, "")
	wantError(t, f.do("GET", "auth/nowhere/config", f.root, nil), 404, "")

	a := f.ok("POST", "auth/kubernetes/config", map[string]any{
		"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": c.ReviewerToken("kube-system", "gatehouse"),
		"issuer": "https://issuer.example", "disable_iss_validation": "false", "disable_local_ca_jwt": true,
		"use_annotations_as_alias_metadata": "true",
	})
	if a.status != 204 {
		t.Errorf("write = %d %s, want 204", a.status, a.raw)
	}
	d := data(t, f.ok("GET", "auth/kubernetes/config", nil))
	want := map[string]any{
		"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "issuer": "https://issuer.example",
		"disable_iss_validation": false, "disable_local_ca_jwt": true, "token_reviewer_jwt_set": true, "token_review_mode": "api",
		"use_annotations_as_alias_metadata": true,
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s = %v, want %v", k, d[k], v)
		}
	}
	if _, ok := d["token_reviewer_jwt"]; ok {
		t.Error("the reviewer JWT is shown")
	}
	if keys, ok := d["pem_keys"].([]any); !ok || len(keys) != 0 {
		t.Errorf("pem_keys = %v, want []", d["pem_keys"])
	}

	a = f.ok("PUT", "auth/kubernetes/config", map[string]any{"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "nope": 1})
	if w := warnings(a); a.status != 200 || len(w) != 1 || !strings.Contains(w[0], "nope") {
		t.Errorf("unknown field: %d %s, want 200 with a warning naming it", a.status, a.raw)
	}
	if d := data(t, f.ok("GET", "auth/kubernetes/config", nil)); d["disable_iss_validation"] != true || d["token_reviewer_jwt_set"] != false || d["use_annotations_as_alias_metadata"] != false {
		t.Errorf("a write replaces the whole config: %v", d)
	}

	for name, tc := range map[string]struct {
		body map[string]any
		want string
	}{
		"no host":              {map[string]any{}, "kubernetes_host is required"},
		"bad bool":             {map[string]any{"kubernetes_host": c.URL(), "disable_iss_validation": "maybe"}, `"disable_iss_validation": want true or false`},
		"bad annotations bool": {map[string]any{"kubernetes_host": c.URL(), "use_annotations_as_alias_metadata": 3}, `"use_annotations_as_alias_metadata": want true or false`},
		"bad pem_keys":         {map[string]any{"kubernetes_host": c.URL(), "pem_keys": 5}, `"pem_keys": want a list of strings`},
		"not a PEM key":        {map[string]any{"kubernetes_host": c.URL(), "pem_keys": []string{"nope"}}, "pem_keys"},
		"bad mode":             {map[string]any{"kubernetes_host": c.URL(), "token_review_mode": "gateway"}, "token_review_mode"},
		"bad reviewer":         {map[string]any{"kubernetes_host": c.URL(), "token_reviewer_jwt": "abc"}, "token_reviewer_jwt is not a JWT"},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, f.do("PUT", "auth/kubernetes/config", f.root, tc.body), 400, tc.want)
		})
	}
	wantError(t, f.do("PUT", "auth/kubernetes/config", "", map[string]any{"kubernetes_host": c.URL()}), 403, "permission denied")
	wantError(t, f.do("PUT", "auth/nowhere/config", f.root, map[string]any{"kubernetes_host": c.URL()}), 404, "")
}

// TestConfigHost: every invalid kubernetes_host says what is wrong (never
// "internal error"); an http:// host is accepted, as Vault accepts it
// (kubectl proxy), with a warning.
func TestConfigHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mount("kubernetes")
	for host, want := range map[string]string{
		"ftp://x":                         `kubernetes_host must use https:// or http:// (not "ftp")`,
		"https://user:pw@kube:6443":       "kubernetes_host must not contain user info",
		"kube.example.com:99999":          "kubernetes_host has an invalid port (want 1 to 65535)",
		"http://kube.example.com:0":       "kubernetes_host has an invalid port",
		"kube example.com":                "kubernetes_host must not contain spaces",
		"https://kube.example.com?x":      "kubernetes_host must not have a query",
		"fd00::1":                         "kubernetes_host looks like an IPv6 address",
		"https://kube.example.com/a/../b": "kubernetes_host has an unclean path",
	} {
		t.Run(host, func(t *testing.T) {
			wantError(t, f.do("PUT", "auth/kubernetes/config", f.root, map[string]any{"kubernetes_host": host}), 400, want)
		})
	}

	a := f.ok("PUT", "auth/kubernetes/config", map[string]any{"kubernetes_host": "HTTP://127.0.0.1:8001/"})
	if w := warnings(a); a.status != 200 || len(w) != 1 || w[0] != vaultauth.WarnPlainHTTP {
		t.Errorf("http:// host: %d %s, want 200 with the clear-text warning", a.status, a.raw)
	}
	if d := data(t, f.ok("GET", "auth/kubernetes/config", nil)); d["kubernetes_host"] != "http://127.0.0.1:8001" {
		t.Errorf("kubernetes_host = %v, want http://127.0.0.1:8001", d["kubernetes_host"])
	}
	// The warning comes before the ignored-fields one.
	a = f.ok("PUT", "auth/kubernetes/config", map[string]any{"kubernetes_host": "http://127.0.0.1:8001", "colour": "blue"})
	if w := warnings(a); len(w) != 2 || w[0] != vaultauth.WarnPlainHTTP || !strings.Contains(w[1], "colour") {
		t.Errorf("warnings = %q", w)
	}
	if a := f.ok("PUT", "auth/kubernetes/config", map[string]any{"kubernetes_host": "https://127.0.0.1:6443"}); a.status != 204 {
		t.Errorf("https:// host: %d %s, want 204", a.status, a.raw)
	}
}
