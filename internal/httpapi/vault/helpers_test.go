package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/logtest"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// syncBuffer is a log sink the code under test and the test may share.
type syncBuffer = logtest.Buffer

// The handler tests run the Vault API's routes (Register's mux, without
// the shared middleware) on real services over a SQLite store in a
// temporary directory, with httptest.NewRecorder, and a kubetest cluster
// for logins.

// fixture is one Vault API over a fresh store.
type fixture struct {
	t    *testing.T
	mux  *http.ServeMux
	root string // the root token
	logs *syncBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	now := time.Now
	auditLog := audit.New(st, now, logger)
	tokens := token.NewService(st, now, 0)
	kube := kubeauth.NewService(st, key, tokens, auditLog, now, 10*time.Second, logger)
	mux := http.NewServeMux()
	Register(mux, Deps{
		Auth:       &httpapi.Authenticator{Tokens: tokens},
		Tokens:     tokens,
		Kubernetes: vaultauth.NewService(st, key, kube, tokens, auditLog, now, ""),
		Now:        now,
		Version:    "test",
		Logger:     logger,
	})
	root, err := tokens.IssueRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, mux: mux, root: root.Token.Reveal(), logs: logs}
}

// answer is a recorded response.
type answer struct {
	status int
	raw    string
	body   map[string]any
}

// do sends a request (path after /v1/) with tok in X-Vault-Token; body is
// JSON-encoded unless it is a string, sent as is.
func (f *fixture) do(method, path, tok string, body any) answer {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	r := httptest.NewRequest(method, "/v1/"+path, rd)
	if tok != "" {
		r.Header.Set("X-Vault-Token", tok)
	}
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	a := answer{status: w.Code, raw: w.Body.String()}
	if a.raw != "" {
		if err := json.Unmarshal(w.Body.Bytes(), &a.body); err != nil {
			f.t.Fatalf("%s %s: answer is not a JSON object: %q", method, path, a.raw)
		}
	}
	return a
}

// ok sends a request that must succeed with 200 or 204.
func (f *fixture) ok(method, path string, body any) answer {
	f.t.Helper()
	a := f.do(method, path, f.root, body)
	if a.status != http.StatusOK && a.status != http.StatusNoContent {
		f.t.Fatalf("%s %s: %d %s", method, path, a.status, a.raw)
	}
	return a
}

// mount enables a kubernetes mount at path.
func (f *fixture) mount(path string) {
	f.t.Helper()
	f.ok("POST", "sys/auth/"+path, map[string]any{"type": "kubernetes"})
}

// configure mounts path and points it at the cluster, with a reviewer
// that may review.
func (f *fixture) configure(path string, c *kubetest.Cluster) {
	f.t.Helper()
	f.mount(path)
	f.ok("PUT", "auth/"+path+"/config", map[string]any{
		"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": c.ReviewerToken("kube-system", "gatehouse"),
	})
}

// wantError checks a Vault error answer: status, a body of only
// "errors", and (unless want is "") one message containing want.
func wantError(t *testing.T, a answer, status int, want string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status = %d, want %d: %s", a.status, status, a.raw)
	}
	list, ok := a.body["errors"].([]any)
	if !ok || len(a.body) != 1 {
		t.Fatalf("not a Vault error body: %s", a.raw)
	}
	if want == "" {
		return
	}
	if len(list) != 1 || !strings.Contains(list[0].(string), want) {
		t.Errorf("errors = %q, want one message containing %q", list, want)
	}
}

// data is the data object of a 200 answer.
func data(t *testing.T, a answer) map[string]any {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.raw)
	}
	d, ok := a.body["data"].(map[string]any)
	if !ok {
		t.Fatalf("no data object: %s", a.raw)
	}
	return d
}

// warnings are the warnings of an answer.
func warnings(a answer) []string {
	var out []string
	list, _ := a.body["warnings"].([]any)
	for _, w := range list {
		s, _ := w.(string)
		out = append(out, s)
	}
	return out
}
