package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// BenchmarkVaultKubernetesLogin is a Vault-API Kubernetes login end to end
// over HTTP: TokenReview mode, and with pem_keys (a local signature check
// before the review).
func BenchmarkVaultKubernetesLogin(b *testing.B) {
	for _, withKeys := range []bool{false, true} {
		name := "tokenreview"
		if withKeys {
			name = "pem_keys"
		}
		b.Run(name, func(b *testing.B) {
			c := kubetest.New(b)
			srv, err := server.New(context.Background(), server.Config{Storage: "sqlite://" + filepath.Join(b.TempDir(), "g.db"),
				Dev: true, DevRootToken: "bench-root", PodServiceAccountDir: "-", Out: &bytes.Buffer{}})
			if err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(srv.Handler())
			b.Cleanup(func() { hs.Close(); srv.Close() })
			put := func(path, tok string, body any, want int) {
				js, _ := json.Marshal(body)
				req, _ := http.NewRequest("PUT", hs.URL+path, bytes.NewReader(js))
				if tok != "" {
					req.Header.Set("X-Vault-Token", tok)
				}
				resp, err := hs.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					b.Fatalf("%s: %d", path, resp.StatusCode)
				}
			}
			cfg := map[string]any{"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": c.ReviewerToken("kube-system", "r")}
			if withKeys {
				cfg["pem_keys"] = []string{c.SigningKeyPEM()}
			}
			put("/v1/auth/kubernetes/config", "bench-root", cfg, http.StatusNoContent)
			put("/v1/auth/kubernetes/role/web", "bench-root", map[string]any{"bound_service_account_names": "web", "bound_service_account_namespaces": "apps"}, http.StatusOK) // 200: Vault's warning for a role without an audience
			login := map[string]any{"role": "web", "jwt": c.Token("apps", "web", kubetest.ExpiresIn(24*time.Hour))}
			b.ReportAllocs()
			for b.Loop() {
				put("/v1/auth/kubernetes/login", "", login, http.StatusOK)
			}
		})
	}
}
