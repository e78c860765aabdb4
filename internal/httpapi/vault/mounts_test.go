package vault

import (
	"net/http"
	"testing"
)

// TestMountHandlers: sys/auth enables, lists and disables mounts in
// Vault's shapes.
func TestMountHandlers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	t.Run("enable", func(t *testing.T) {
		a := f.ok("POST", "sys/auth/team-a/k8s", map[string]any{"type": "kubernetes", "description": "team A"})
		if a.status != http.StatusNoContent || a.raw != "" {
			t.Errorf("enable = %d %s, want 204 without a body", a.status, a.raw)
		}
		a = f.ok("PUT", "sys/auth/other", map[string]any{"type": "kubernetes", "config": map[string]any{}})
		if w := warnings(a); a.status != 200 || len(w) != 1 {
			t.Errorf("unknown field: %d %s, want 200 with one warning", a.status, a.raw)
		}
	})
	t.Run("refused", func(t *testing.T) {
		wantError(t, f.do("POST", "sys/auth/x", f.root, map[string]any{"type": "userpass"}), 400, "plugin not found")
		wantError(t, f.do("POST", "sys/auth/x", f.root, map[string]any{}), 400, "missing type")
		wantError(t, f.do("POST", "sys/auth/team-a/k8s", f.root, map[string]any{"type": "kubernetes"}), 400, "path is already in use")
		wantError(t, f.do("POST", "sys/auth/x", f.root, `{"type":`), 400, "")
		wantError(t, f.do("POST", "sys/auth/x", "", map[string]any{"type": "kubernetes"}), 403, "permission denied")
		wantError(t, f.do("POST", "sys/auth/x", "not-a-token", map[string]any{"type": "kubernetes"}), 403, "permission denied")
	})
	t.Run("list", func(t *testing.T) {
		a := f.ok("GET", "sys/auth", nil)
		for _, k := range []string{"token/", "team-a/k8s/", "other/"} {
			top, ok := a.body[k].(map[string]any)
			if !ok {
				t.Fatalf("no %s at the top level: %s", k, a.raw)
			}
			if d := data(t, a)[k]; d == nil {
				t.Errorf("no %s under data", k)
			}
			if _, ok := top["config"].(map[string]any); !ok {
				t.Errorf("%s has no config object", k)
			}
		}
		m := a.body["team-a/k8s/"].(map[string]any)
		if m["type"] != "kubernetes" || m["description"] != "team A" || m["accessor"] == "" {
			t.Errorf("mount = %v", m)
		}
		if a.body["request_id"] == nil || a.body["lease_duration"] != float64(0) {
			t.Errorf("envelope fields missing: %s", a.raw)
		}
		wantError(t, f.do("GET", "sys/auth", "", nil), 403, "permission denied")
	})
	t.Run("disable", func(t *testing.T) {
		if a := f.ok("DELETE", "sys/auth/team-a/k8s", nil); a.status != http.StatusNoContent {
			t.Errorf("disable = %d", a.status)
		}
		if a := f.ok("DELETE", "sys/auth/never-mounted", nil); a.status != http.StatusNoContent {
			t.Errorf("disabling nothing = %d, want 204 as in Vault", a.status)
		}
		if _, ok := f.ok("GET", "sys/auth", nil).body["team-a/k8s/"]; ok {
			t.Error("disabled mount still listed")
		}
	})
}
