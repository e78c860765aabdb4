package server_test

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
)

// TestNULRefusedOnBothStores: a NUL character in any string of a request
// body is a 422 ValidationFailure (Infisical) or a 400 (Vault) naming the
// field, on SQLite and PostgreSQL alike, before the store sees it: never a
// 500 or a 503 "store unavailable", and never an ERROR in the log. A
// control character in an identity name is refused the same way.
func TestNULRefusedOnBothStores(t *testing.T) {
	stores := map[string]func(t *testing.T) server.Config{
		"sqlite": func(t *testing.T) server.Config {
			return server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db")}
		},
		"postgres": func(t *testing.T) server.Config {
			return server.Config{Storage: pgtest.URL(t), EncryptionKey: testKey}
		},
	}
	for name, cfgOf := range stores {
		t.Run(name, func(t *testing.T) {
			var logs syncBuffer
			cfg := cfgOf(t)
			cfg.PodServiceAccountDir = "-"
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ts := newTestServerWith(t, cfg)
			id := ts.createIdentity("app", "member")

			infisical := []struct {
				name, method, path, body, field string
				auth                            bool
			}{
				{"unauthenticated login", "POST", "/api/v1/auth/universal-auth/login", `{"clientId":"\u0000","clientSecret":"x"}`, "clientId", false},
				{"login secret", "POST", "/api/v1/auth/universal-auth/login", `{"clientId":"00000000-0000-0000-0000-000000000000","clientSecret":"gtcs_\u0000"}`, "clientSecret", false},
				{"token renew", "POST", "/api/v1/auth/token/renew", `{"accessToken":"\u0000"}`, "accessToken", false},
				{"identity name", "POST", "/api/v1/identities", `{"name":"a\u0000b","role":"member"}`, "name", true},
				{"identity metadata", "PATCH", "/api/v1/identities/" + id, `{"metadata":[{"key":"k","value":"\u0000"}]}`, "metadata.0.value", true},
				{"kubernetes host", "POST", "/api/v1/auth/kubernetes-auth/identities/" + id, `{"kubernetesHost":"https://a\u0000b"}`, "kubernetesHost", true},
			}
			for _, c := range infisical {
				tok := ""
				if c.auth {
					tok = ts.root
				}
				r := ts.do(c.method, c.path, tok, c.body)
				if r.status != 422 || r.body["error"] != "ValidationFailure" || !strings.Contains(r.raw, `"path":"`+c.field+`"`) {
					t.Errorf("%s: %d %s, want 422 ValidationFailure at %s", c.name, r.status, r.raw, c.field)
				}
			}
			r := ts.do("POST", "/api/v1/identities", ts.root, `{"name":"bell\u0007","role":"member"}`)
			if r.status != 422 || !strings.Contains(r.raw, "control characters") {
				t.Errorf("identity name with a control character: %d %s", r.status, r.raw)
			}

			vault := []struct{ name, method, path, body string }{
				{"revoke", "POST", "auth/token/revoke", `{"token":"\u0000"}`},
				{"enable mount", "POST", "sys/auth/k8s", `{"type":"kubernetes","description":"\u0000"}`},
				{"login", "POST", "auth/kubernetes/login", `{"role":"\u0000","jwt":"x"}`},
			}
			ts.vaultOK("POST", "sys/auth/kubernetes", ts.root, map[string]any{"type": "kubernetes"})
			for _, c := range vault {
				r := ts.vault(c.method, c.path, ts.root, c.body)
				if r.status != 400 || !strings.Contains(r.raw, "NUL") {
					t.Errorf("vault %s: %d %s, want 400 naming NUL", c.name, r.status, r.raw)
				}
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("the refusals logged errors:\n%s", logs.String())
			}
		})
	}
}
