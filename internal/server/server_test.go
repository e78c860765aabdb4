package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// testClock is a settable clock for servers under test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// testServer is a Gatehouse on a fresh SQLite store, served by httptest.
type testServer struct {
	t    *testing.T
	srv  *server.Server
	http *httptest.Server
	root string
	out  bytes.Buffer
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServerWith(t, server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db")})
}

// testKey is the sealing key of test servers that share a store.
const testKey = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="

func newTestServerWith(t *testing.T, cfg server.Config) *testServer {
	t.Helper()
	ts := &testServer{t: t}
	cfg.Out = &ts.out
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = srv
	ts.http = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.http.Close()
		srv.Close()
	})
	// The bootstrap printed the root token once.
	for _, line := range strings.Split(ts.out.String(), "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "gth_") {
			ts.root = l
		}
	}
	if ts.root == "" {
		// Not the first start on this store: issue one directly.
		issued, err := srv.Tokens().IssueRoot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ts.root = issued.Token.Reveal()
	}
	return ts
}

type result struct {
	status int
	body   map[string]any
	raw    string
}

func (ts *testServer) do(method, path, tok string, body any) result {
	ts.t.Helper()
	return ts.doHeaders(method, path, body, map[string]string{"Authorization": bearer(tok)})
}

func bearer(tok string) string {
	if tok == "" {
		return ""
	}
	return "Bearer " + tok
}

func (ts *testServer) doHeaders(method, path string, body any, headers map[string]string) result {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, ts.http.URL+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		ts.t.Error(err)
		return result{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, raw: string(raw)}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.body)
	}
	return r
}

// createIdentity makes an identity with the root token and returns its id.
func (ts *testServer) createIdentity(name, role string) string {
	ts.t.Helper()
	r := ts.do("POST", "/api/v1/identities", ts.root, map[string]any{"name": name, "role": role})
	if r.status != 200 {
		ts.t.Fatalf("create identity: %d %s", r.status, r.raw)
	}
	return r.body["identity"].(map[string]any)["id"].(string)
}

// tokenFor issues an access token for an identity directly through the
// token service (no login method exists in this test).
func (ts *testServer) tokenFor(identityID string, policy store.TokenPolicy) string {
	ts.t.Helper()
	issued, err := ts.srv.Tokens().Issue(context.Background(), token.IssueRequest{
		IdentityID: identityID, AuthMethodType: store.AuthMethodUniversal, Policy: policy,
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	return issued.Token.Reveal()
}

// snapshot is the observable state of the store, to prove a failed request
// changed nothing.
func (ts *testServer) snapshot() string {
	ts.t.Helper()
	ctx := context.Background()
	st := ts.srv.Store()
	ids, total, err := st.ListIdentities(ctx, 0, 1000)
	if err != nil {
		ts.t.Fatal(err)
	}
	js, _ := json.Marshal(struct {
		IDs   []store.Identity
		Total int
	}{ids, total})
	return string(js)
}

func errorBodyOK(t *testing.T, r result, status int, name string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	for _, k := range []string{"reqId", "statusCode", "message", "error"} {
		if _, ok := r.body[k]; !ok {
			t.Fatalf("error body lacks %q: %s", k, r.raw)
		}
	}
	if got := int(r.body["statusCode"].(float64)); got != status {
		t.Errorf("statusCode = %d, want %d", got, status)
	}
	if name != "" && r.body["error"] != name {
		t.Errorf("error = %v, want %s (body %s)", r.body["error"], name, r.raw)
	}
	if !strings.HasPrefix(r.body["reqId"].(string), "req-") {
		t.Errorf("reqId = %v", r.body["reqId"])
	}
}

func TestHealthEndpoints(t *testing.T) {
	ts := newTestServer(t)
	for _, path := range []string{"/healthz", "/readyz", "/api/status", "/v1/sys/health", "/metrics"} {
		r := ts.do("GET", path, "", nil)
		if r.status != 200 {
			t.Errorf("GET %s = %d %s", path, r.status, r.raw)
		}
	}
	r := ts.do("GET", "/api/status", "", nil)
	if r.body["message"] != "Ok" {
		t.Errorf("/api/status = %s", r.raw)
	}
	r = ts.do("GET", "/v1/sys/health", "", nil)
	for k, want := range map[string]any{"initialized": true, "sealed": false, "standby": false} {
		if r.body[k] != want {
			t.Errorf("/v1/sys/health %s = %v, want %v", k, r.body[k], want)
		}
	}
	if _, ok := r.body["server_time_utc"].(float64); !ok {
		t.Errorf("/v1/sys/health server_time_utc missing: %s", r.raw)
	}
	r = ts.do("GET", "/metrics", "", nil)
	if !strings.Contains(r.raw, "gatehouse_http_requests_total") || !strings.Contains(r.raw, "gatehouse_http_request_duration_seconds") {
		t.Errorf("/metrics lacks the HTTP metrics")
	}
}

func TestIdentityLifecycle(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do("POST", "/api/v1/identities", ts.root, map[string]any{
		"name": "  ci-runner  ", "role": "member", "organizationId": "org-1", "hasDeleteProtection": true,
		"metadata": []map[string]string{{"key": "team", "value": "infra"}},
	})
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	ident := r.body["identity"].(map[string]any)
	id := ident["id"].(string)
	if ident["name"] != "ci-runner" || ident["role"] != "member" || ident["hasDeleteProtection"] != true {
		t.Errorf("create returned %s", r.raw)
	}
	if am, ok := ident["authMethods"].([]any); !ok || len(am) != 0 {
		t.Errorf("authMethods = %v, want []", ident["authMethods"])
	}

	r = ts.do("GET", "/api/v1/identities/"+id, ts.root, nil)
	if r.status != 200 || r.body["identity"].(map[string]any)["name"] != "ci-runner" {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}

	r = ts.do("PATCH", "/api/v1/identities/"+id, ts.root, map[string]any{"name": "renamed", "metadata": []any{}})
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	got := r.body["identity"].(map[string]any)
	if got["name"] != "renamed" || len(got["metadata"].([]any)) != 0 || got["role"] != "member" {
		t.Errorf("patch returned %s", r.raw)
	}

	r = ts.do("DELETE", "/api/v1/identities/"+id, ts.root, nil)
	errorBodyOK(t, r, 400, "BadRequest")
	if !strings.Contains(r.raw, "delete protection") {
		t.Errorf("delete-protected message: %s", r.raw)
	}
	ts.do("PATCH", "/api/v1/identities/"+id, ts.root, map[string]any{"hasDeleteProtection": false})
	r = ts.do("DELETE", "/api/v1/identities/"+id, ts.root, nil)
	if r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	r = ts.do("GET", "/api/v1/identities/"+id, ts.root, nil)
	errorBodyOK(t, r, 404, "NotFound")
}

func TestDeleteIdentityRevokesItsTokens(t *testing.T) {
	ts := newTestServer(t)
	id := ts.createIdentity("doomed", "member")
	tok := ts.tokenFor(id, store.TokenPolicy{TTL: 3600, MaxTTL: 3600})
	if r := ts.do("GET", "/api/v1/identities", tok, nil); r.status != 200 {
		t.Fatalf("member list: %d %s", r.status, r.raw)
	}
	if r := ts.do("DELETE", "/api/v1/identities/"+id, ts.root, nil); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	r := ts.do("GET", "/api/v1/identities", tok, nil)
	errorBodyOK(t, r, 401, "TokenRevoked")
}

func TestListIdentitiesPaging(t *testing.T) {
	ts := newTestServer(t)
	for i := 0; i < 7; i++ {
		ts.createIdentity("id-"+string(rune('a'+i)), "no-access")
	}
	r := ts.do("GET", "/api/v1/identities?offset=2&limit=3", ts.root, nil)
	if r.status != 200 {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	if n := len(r.body["identities"].([]any)); n != 3 {
		t.Errorf("page size = %d, want 3", n)
	}
	if total := r.body["totalCount"].(float64); total != 7 {
		t.Errorf("totalCount = %v, want 7", total)
	}
	if first := r.body["identities"].([]any)[0].(map[string]any)["name"]; first != "id-c" {
		t.Errorf("first of page = %v, want id-c", first)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "offset=-1"} {
		errorBodyOK(t, ts.do("GET", "/api/v1/identities?"+q, ts.root, nil), 422, "ValidationFailure")
	}
}

// TestBadInputChangesNothing tries what a new user might get wrong; each
// answer is the documented 4xx body and the store is left as it was.
func TestBadInputChangesNothing(t *testing.T) {
	ts := newTestServer(t)
	adminID := ts.createIdentity("admin-1", "admin")
	memberID := ts.createIdentity("member-1", "member")
	noAccessID := ts.createIdentity("robot-1", "no-access")
	admin := ts.tokenFor(adminID, store.TokenPolicy{})
	member := ts.tokenFor(memberID, store.TokenPolicy{})
	noAccess := ts.tokenFor(noAccessID, store.TokenPolicy{})
	unknownID := "7b0c3a0e-7a44-4c55-9f3e-2b8f7f1c0d11"
	huge := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`

	cases := []struct {
		name, method, path, tok string
		body                    any
		status                  int
		errName                 string
	}{
		{"malformed JSON", "POST", "/api/v1/identities", ts.root, `{"name":`, 400, "BadRequest"},
		{"not JSON", "POST", "/api/v1/identities", ts.root, `name=x`, 400, "BadRequest"},
		{"two JSON values", "POST", "/api/v1/identities", ts.root, `{"name":"a"}{"name":"b"}`, 400, "BadRequest"},
		{"unknown field", "POST", "/api/v1/identities", ts.root, `{"name":"a","colour":"red"}`, 422, "ValidationFailure"},
		{"field in wrong case", "POST", "/api/v1/identities", ts.root, `{"NAME":"a"}`, 422, "ValidationFailure"},
		{"wrong type", "POST", "/api/v1/identities", ts.root, `{"name":42}`, 422, "ValidationFailure"},
		{"wrong type nested", "POST", "/api/v1/identities", ts.root, `{"name":"a","metadata":[{"key":1,"value":"v"}]}`, 422, "ValidationFailure"},
		{"unknown nested field", "POST", "/api/v1/identities", ts.root, `{"name":"a","metadata":[{"key":"k","value":"v","x":1}]}`, 422, "ValidationFailure"},
		{"missing name", "POST", "/api/v1/identities", ts.root, `{}`, 422, "ValidationFailure"},
		{"empty name", "POST", "/api/v1/identities", ts.root, `{"name":"   "}`, 422, "ValidationFailure"},
		{"bad role", "POST", "/api/v1/identities", ts.root, `{"name":"a","role":"superuser"}`, 422, "ValidationFailure"},
		{"empty metadata key", "POST", "/api/v1/identities", ts.root, `{"name":"a","metadata":[{"key":"","value":"v"}]}`, 422, "ValidationFailure"},
		{"huge body", "POST", "/api/v1/identities", ts.root, huge, 413, "PayloadTooLarge"},
		{"no token", "POST", "/api/v1/identities", "", `{"name":"a"}`, 401, "Unauthorized"},
		{"garbage token", "POST", "/api/v1/identities", "not-a-token", `{"name":"a"}`, 401, "TokenMalformed"},
		{"member creates", "POST", "/api/v1/identities", member, `{"name":"a"}`, 403, "PermissionDenied"},
		{"no-access creates", "POST", "/api/v1/identities", noAccess, `{"name":"a"}`, 403, "PermissionDenied"},
		{"no-access lists", "GET", "/api/v1/identities", noAccess, nil, 403, "PermissionDenied"},
		{"no-access reads", "GET", "/api/v1/identities/" + memberID, noAccess, nil, 403, "PermissionDenied"},
		{"member updates", "PATCH", "/api/v1/identities/" + noAccessID, member, `{"name":"x"}`, 403, "PermissionDenied"},
		{"member deletes", "DELETE", "/api/v1/identities/" + noAccessID, member, nil, 403, "PermissionDenied"},
		{"member reads audit log", "GET", "/api/v1/audit-logs", member, nil, 403, "PermissionDenied"},
		{"admin changes own role", "PATCH", "/api/v1/identities/" + adminID, admin, `{"role":"member"}`, 403, "PermissionDenied"},
		{"unknown id get", "GET", "/api/v1/identities/" + unknownID, ts.root, nil, 404, "NotFound"},
		{"unknown id patch", "PATCH", "/api/v1/identities/" + unknownID, ts.root, `{"name":"x"}`, 404, "NotFound"},
		{"unknown id delete", "DELETE", "/api/v1/identities/" + unknownID, ts.root, nil, 404, "NotFound"},
		{"non-UUID id", "GET", "/api/v1/identities/abc", ts.root, nil, 422, "ValidationFailure"},
		{"non-UUID id patch", "PATCH", "/api/v1/identities/abc", ts.root, `{"name":"x"}`, 422, "ValidationFailure"},
		{"patch wrong type", "PATCH", "/api/v1/identities/" + memberID, ts.root, `{"hasDeleteProtection":"yes"}`, 422, "ValidationFailure"},
		{"patch unknown field", "PATCH", "/api/v1/identities/" + memberID, ts.root, `{"id":"x"}`, 422, "ValidationFailure"},
		{"unknown route", "GET", "/api/v1/nothing-here", ts.root, nil, 404, "NotFound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.snapshot()
			r := ts.do(tc.method, tc.path, tc.tok, tc.body)
			errorBodyOK(t, r, tc.status, tc.errName)
			if tc.status == 422 {
				if _, ok := r.body["message"].([]any); !ok {
					t.Errorf("422 message is not an array of field errors: %s", r.raw)
				}
			}
			if after := ts.snapshot(); after != before {
				t.Errorf("store changed by a failed request")
			}
		})
	}
}

func TestRoleGrantRules(t *testing.T) {
	ts := newTestServer(t)
	adminID := ts.createIdentity("admin-1", "admin")
	admin := ts.tokenFor(adminID, store.TokenPolicy{})
	// An admin may create admins (not above its own role).
	r := ts.do("POST", "/api/v1/identities", admin, map[string]any{"name": "admin-2", "role": "admin"})
	if r.status != 200 {
		t.Fatalf("admin creating admin: %d %s", r.status, r.raw)
	}
	// Default role is no-access.
	r = ts.do("POST", "/api/v1/identities", admin, map[string]any{"name": "robot"})
	if r.body["identity"].(map[string]any)["role"] != "no-access" {
		t.Errorf("default role: %s", r.raw)
	}
}

func TestAuditLog(t *testing.T) {
	ts := newTestServer(t)
	id := ts.createIdentity("audited", "member")
	ts.do("PATCH", "/api/v1/identities/"+id, ts.root, map[string]any{"name": "audited-2"})
	r := ts.do("GET", "/api/v1/audit-logs?limit=2", ts.root, nil)
	if r.status != 200 {
		t.Fatalf("audit: %d %s", r.status, r.raw)
	}
	logs := r.body["auditLogs"].([]any)
	if len(logs) != 2 {
		t.Fatalf("got %d events: %s", len(logs), r.raw)
	}
	newest := logs[0].(map[string]any)
	if newest["type"] != "identity.update" || newest["actorId"] != "root" || newest["identityId"] != id {
		t.Errorf("newest event = %v", newest)
	}
	if strings.Contains(r.raw, ts.root) {
		t.Errorf("audit log holds the root token")
	}
}

func TestRootTokenPrintedOnlyOnce(t *testing.T) {
	dir := t.TempDir()
	storage := "sqlite://" + filepath.Join(dir, "g.db")
	var out bytes.Buffer
	for i := 0; i < 2; i++ {
		out.Reset()
		srv, err := server.New(context.Background(), server.Config{Storage: storage, Out: &out})
		if err != nil {
			t.Fatal(err)
		}
		srv.Close()
		printed := strings.Contains(out.String(), "gth_")
		if printed != (i == 0) {
			t.Errorf("start %d: root token printed = %v", i, printed)
		}
	}
}

func TestWrongEncryptionKeyRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	storage := "sqlite://" + filepath.Join(dir, "g.db")
	srv, err := server.New(context.Background(), server.Config{Storage: storage, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	_, err = server.New(context.Background(), server.Config{Storage: storage, Out: io.Discard,
		EncryptionKey: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="})
	if err == nil || !strings.Contains(err.Error(), "not the one this store was sealed with") {
		t.Fatalf("err = %v", err)
	}
}

func TestGracefulShutdown(t *testing.T) {
	srv, err := server.New(context.Background(), server.Config{
		Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"), Out: io.Discard, Listen: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	resp, err := http.Get("http://" + srv.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
	if err := srv.Store().Ping(context.Background()); err == nil {
		t.Error("store still open after shutdown")
	}
}

// doWithXFF sends one X-Forwarded-For header line per entry of xff.
func (ts *testServer) doWithXFF(method, path string, headers map[string]string, xff []string) result {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.http.URL+path, nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	for _, line := range xff {
		req.Header.Add("X-Forwarded-For", line)
	}
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}
