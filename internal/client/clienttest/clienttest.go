// Package clienttest runs a real Gatehouse server on a loopback port for
// the tests of its clients (gatehouse login, gatehouse agent), with
// helpers to set up identities and Vault roles, and to take the server
// down and bring it back on the same address.
package clienttest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// Server is a Gatehouse served over plain HTTP on 127.0.0.1.
type Server struct {
	t    testing.TB
	srv  *server.Server
	addr string
	// Root is the root token.
	Root string

	mu sync.Mutex
	hs *http.Server
}

// Start starts a server on a fresh SQLite store; it stops when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	var out bytes.Buffer
	srv, err := server.New(context.Background(), server.Config{
		Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"), Out: &out,
		PodServiceAccountDir: "-", LoginRateLimit: 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, srv: srv}
	for _, line := range strings.Split(out.String(), "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "gth_") {
			s.Root = l
		}
	}
	if s.Root == "" {
		t.Fatal("the server printed no root token")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(func() {
		s.Down()
		srv.Close()
	})
	return s
}

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.addr }

// Handler is the server's HTTP handler, to serve it another way (TLS).
func (s *Server) Handler() http.Handler { return s.srv.Handler() }

func (s *Server) serve(ln net.Listener) {
	hs := &http.Server{Handler: s.srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.hs = hs
	s.mu.Unlock()
	go hs.Serve(ln)
}

// Down closes the listener and every connection: the address refuses
// connections until Up.
func (s *Server) Down() {
	s.mu.Lock()
	hs := s.hs
	s.hs = nil
	s.mu.Unlock()
	if hs != nil {
		hs.Close()
	}
}

// Up serves again on the same address.
func (s *Server) Up() {
	s.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ { // the port may linger for a moment
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.serve(ln)
}

// Do sends a JSON request with the root token (Bearer and X-Vault-Token)
// and decodes the answer into out (when not nil). It fails the test on a
// non-2xx answer.
func (s *Server) Do(method, path string, body, out any) {
	s.t.Helper()
	status, raw, err := s.Call(method, path, s.Root, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if status < 200 || status > 299 {
		s.t.Fatalf("%s %s: %d %s", method, path, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// Call sends a request with tok (as Bearer and X-Vault-Token) and answers
// the status and body.
func (s *Server) Call(method, path, tok string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Vault-Token", tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// TokenValid reports whether tok passes a lookup on the Infisical API (the
// same check serves both APIs).
func (s *Server) TokenValid(tok string) bool {
	status, _, err := s.Call("GET", "/api/v1/auth/token/lookup", tok, nil)
	return err == nil && status == 200
}

// RevokeToken revokes tok.
func (s *Server) RevokeToken(tok string) {
	s.t.Helper()
	status, raw, err := s.Call("POST", "/api/v1/auth/token/revoke", "", map[string]string{"accessToken": tok})
	if err != nil || status != 200 {
		s.t.Fatalf("revoke: %d %s %v", status, raw, err)
	}
}

func (s *Server) identity(name string) string {
	s.t.Helper()
	var out struct {
		Identity struct {
			ID string `json:"id"`
		} `json:"identity"`
	}
	s.Do("POST", "/api/v1/identities", map[string]any{"name": name, "role": "member"}, &out)
	return out.Identity.ID
}

// KubeIdentity creates an identity with Kubernetes Auth on cluster c for
// service accounts in namespace "apps" (any name), with these token TTLs
// (seconds), and answers its id.
func (s *Server) KubeIdentity(c *kubetest.Cluster, ttl, maxTTL int) string {
	s.t.Helper()
	id := s.identity("kube-app")
	s.Do("POST", "/api/v1/auth/kubernetes-auth/identities/"+id, map[string]any{
		"kubernetesHost": c.Host(), "caCert": c.CAPEM(), "tokenReviewerJwt": c.ReviewerToken("kube-system", "gatehouse"),
		"allowedNamespaces": "apps", "allowedNames": "*", "accessTokenTTL": ttl, "accessTokenMaxTTL": maxTTL,
	}, nil)
	return id
}

// VaultRole enables a Kubernetes auth mount at mount for cluster c and
// writes role for service accounts in namespace "apps", with these token
// TTLs (seconds).
func (s *Server) VaultRole(c *kubetest.Cluster, mount, role string, ttl, maxTTL int) {
	s.t.Helper()
	s.Do("POST", "/v1/sys/auth/"+mount, map[string]any{"type": "kubernetes"}, nil)
	s.Do("PUT", "/v1/auth/"+mount+"/config", map[string]any{
		"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": c.ReviewerToken("kube-system", "gatehouse"),
	}, nil)
	s.Do("PUT", "/v1/auth/"+mount+"/role/"+role, map[string]any{
		"bound_service_account_names": "*", "bound_service_account_namespaces": "apps",
		"token_ttl": ttl, "token_max_ttl": maxTTL,
	}, nil)
}

// UniversalIdentity creates an identity with Universal Auth and these
// token TTLs (seconds), and answers its client ID and a client secret.
func (s *Server) UniversalIdentity(ttl, maxTTL int) (clientID, clientSecret string) {
	s.t.Helper()
	id := s.identity("ci-job")
	var ua struct {
		IdentityUniversalAuth struct {
			ClientID string `json:"clientId"`
		} `json:"identityUniversalAuth"`
	}
	s.Do("POST", "/api/v1/auth/universal-auth/identities/"+id, map[string]any{"accessTokenTTL": ttl, "accessTokenMaxTTL": maxTTL}, &ua)
	var cs struct {
		ClientSecret string `json:"clientSecret"`
	}
	s.Do("POST", "/api/v1/auth/universal-auth/identities/"+id+"/client-secrets", map[string]any{"description": "test", "numUsesLimit": 0, "ttl": 0}, &cs)
	return ua.IdentityUniversalAuth.ClientID, cs.ClientSecret
}
