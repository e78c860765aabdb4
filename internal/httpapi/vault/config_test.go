package vault

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
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
	})
	if a.status != 204 {
		t.Errorf("write = %d %s, want 204", a.status, a.raw)
	}
	d := data(t, f.ok("GET", "auth/kubernetes/config", nil))
	want := map[string]any{
		"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "issuer": "https://issuer.example",
		"disable_iss_validation": false, "disable_local_ca_jwt": true, "token_reviewer_jwt_set": true, "token_review_mode": "api",
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
	if d := data(t, f.ok("GET", "auth/kubernetes/config", nil)); d["disable_iss_validation"] != true || d["token_reviewer_jwt_set"] != false {
		t.Errorf("a write replaces the whole config: %v", d)
	}

	for name, tc := range map[string]struct {
		body map[string]any
		want string
	}{
		"no host":       {map[string]any{}, "kubernetes_host is required"},
		"bad bool":      {map[string]any{"kubernetes_host": c.URL(), "disable_iss_validation": "maybe"}, `"disable_iss_validation": want true or false`},
		"bad pem_keys":  {map[string]any{"kubernetes_host": c.URL(), "pem_keys": 5}, `"pem_keys": want a list of strings`},
		"not a PEM key": {map[string]any{"kubernetes_host": c.URL(), "pem_keys": []string{"nope"}}, "pem_keys"},
		"bad mode":      {map[string]any{"kubernetes_host": c.URL(), "token_review_mode": "gateway"}, "token_review_mode"},
		"bad reviewer":  {map[string]any{"kubernetes_host": c.URL(), "token_reviewer_jwt": "abc"}, "token_reviewer_jwt is not a JWT"},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, f.do("PUT", "auth/kubernetes/config", f.root, tc.body), 400, tc.want)
		})
	}
	wantError(t, f.do("PUT", "auth/kubernetes/config", "", map[string]any{"kubernetes_host": c.URL()}), 403, "permission denied")
	wantError(t, f.do("PUT", "auth/nowhere/config", f.root, map[string]any{"kubernetes_host": c.URL()}), 404, "")
}
