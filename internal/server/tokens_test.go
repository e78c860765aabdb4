package server_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// methodToken creates an identity with an auth method whose token policy
// is p and issues a token through it.
func (ts *testServer) methodToken(p store.TokenPolicy) (tok string, method store.AuthMethod) {
	ts.t.Helper()
	ctx := context.Background()
	id := ts.createIdentity("app-"+uuid.NewString()[:8], "member")
	now := time.Now()
	method = store.AuthMethod{
		ID: uuid.NewString(), IdentityID: id, Type: store.AuthMethodUniversal,
		Config: json.RawMessage(`{}`), TokenPolicy: p, CreatedAt: now, UpdatedAt: now,
	}
	if method.TokenPolicy.TrustedIPs == nil {
		method.TokenPolicy.TrustedIPs = []string{"0.0.0.0/0", "::/0"}
	}
	if err := ts.srv.Store().CreateAuthMethod(ctx, method); err != nil {
		ts.t.Fatal(err)
	}
	issued, err := ts.srv.Tokens().Issue(ctx, token.IssueRequest{
		IdentityID: id, AuthMethodID: method.ID, AuthMethodType: method.Type, Policy: p,
		Metadata: map[string]string{"service_account_name": "app"},
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	return issued.Token.Reveal(), method
}

func TestInfisicalTokenEndpoints(t *testing.T) {
	ts := newTestServer(t)
	tok, _ := ts.methodToken(store.TokenPolicy{TTL: 600, MaxTTL: 3600})

	r := ts.do("GET", "/api/v1/auth/token/lookup", tok, nil)
	if r.status != 200 {
		t.Fatalf("lookup: %d %s", r.status, r.raw)
	}
	rec := r.body["token"].(map[string]any)
	if rec["accessTokenTTL"].(float64) != 600 || rec["accessTokenMaxTTL"].(float64) != 3600 || rec["metadata"].(map[string]any)["service_account_name"] != "app" {
		t.Errorf("lookup = %s", r.raw)
	}
	if strings.Contains(r.raw, tok) {
		t.Error("lookup returned the token itself")
	}

	r = ts.do("POST", "/api/v1/auth/token/renew", "", map[string]string{"accessToken": tok})
	if r.status != 200 || r.body["accessToken"] != tok || r.body["tokenType"] != "Bearer" || r.body["accessTokenMaxTTL"].(float64) != 3600 {
		t.Fatalf("renew: %d %s", r.status, r.raw)
	}
	if in := r.body["expiresIn"].(float64); in < 598 || in > 600 {
		t.Errorf("expiresIn = %v, want ~600", in)
	}

	errorBodyOK(t, ts.do("POST", "/api/v1/auth/token/renew", "", map[string]string{}), 422, "ValidationFailure")
	errorBodyOK(t, ts.do("POST", "/api/v1/auth/token/renew", "", map[string]any{"accessToken": tok, "x": 1}), 422, "ValidationFailure")

	r = ts.do("POST", "/api/v1/auth/token/revoke", "", map[string]string{"accessToken": tok})
	if r.status != 200 || r.body["message"] != "Successfully revoked access token" {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	errorBodyOK(t, ts.do("GET", "/api/v1/auth/token/lookup", tok, nil), 401, "TokenRevoked")
	errorBodyOK(t, ts.do("POST", "/api/v1/auth/token/renew", "", map[string]string{"accessToken": tok}), 401, "TokenRevoked")
}

func TestVaultTokenEndpoints(t *testing.T) {
	ts := newTestServer(t)
	tok, _ := ts.methodToken(store.TokenPolicy{TTL: 600, MaxTTL: 3600, NumUsesLimit: 5})
	vault := func(method, path, tok string, body any) result {
		return ts.doHeaders(method, path, body, map[string]string{"X-Vault-Token": tok})
	}
	r := vault("GET", "/v1/auth/token/lookup-self", tok, nil)
	if r.status != 200 {
		t.Fatalf("lookup-self: %d %s", r.status, r.raw)
	}
	data := r.body["data"].(map[string]any)
	// Vault Agent type-asserts these; they must always be present.
	if _, ok := data["id"].(string); !ok {
		t.Errorf("id missing: %s", r.raw)
	}
	if _, ok := data["ttl"].(float64); !ok {
		t.Errorf("ttl missing: %s", r.raw)
	}
	if _, ok := data["renewable"].(bool); !ok {
		t.Errorf("renewable missing: %s", r.raw)
	}
	if data["type"] != "service" || data["num_uses"].(float64) != 4 {
		t.Errorf("lookup-self data = %v", data)
	}
	for _, k := range []string{"accessor", "creation_time", "creation_ttl", "issue_time", "expire_time", "display_name", "entity_id", "explicit_max_ttl", "meta", "orphan", "path", "policies"} {
		if _, ok := data[k]; !ok {
			t.Errorf("lookup-self lacks %q", k)
		}
	}

	r = vault("PUT", "/v1/auth/token/renew-self", tok, map[string]any{"increment": "1h", "extra": true})
	if r.status != 200 {
		t.Fatalf("renew-self: %d %s", r.status, r.raw)
	}
	auth := r.body["auth"].(map[string]any)
	if auth["client_token"] != tok || auth["renewable"] != true {
		t.Errorf("renew-self auth = %v", auth)
	}
	if ld := auth["lease_duration"].(float64); ld < 3590 || ld > 3600 {
		t.Errorf("lease_duration = %v, want ~3600", ld)
	}
	if w, _ := r.body["warnings"].([]any); len(w) == 0 || !strings.Contains(w[0].(string), "ignored these unrecognized parameters: [extra]") {
		t.Errorf("warnings = %v", r.body["warnings"])
	}

	r = vault("PUT", "/v1/auth/token/revoke-self", tok, nil)
	if r.status != 204 {
		t.Fatalf("revoke-self: %d %s", r.status, r.raw)
	}
	r = vault("GET", "/v1/auth/token/lookup-self", tok, nil)
	if r.status != 403 || !strings.HasPrefix(r.raw, `{"errors":["permission denied`) {
		t.Fatalf("revoked token: %d %s", r.status, r.raw)
	}
}

func TestBadTokensOnBothAPIs(t *testing.T) {
	clock := &testClock{t: time.Now()}
	ts := newTestServerWith(t, server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"), Now: clock.Now})
	expiring, _ := ts.methodToken(store.TokenPolicy{TTL: 60, MaxTTL: 60})
	revoked, _ := ts.methodToken(store.TokenPolicy{})
	ts.do("POST", "/api/v1/auth/token/revoke", "", map[string]string{"accessToken": revoked})
	good, _ := ts.methodToken(store.TokenPolicy{})
	flip := []byte(good) // change one base62 character: the checksum no longer matches
	if flip[10] == 'A' {
		flip[10] = 'B'
	} else {
		flip[10] = 'A'
	}
	badChecksum := string(flip)
	clock.Advance(61 * time.Second)
	cases := []struct {
		name, tok, errName string
	}{
		{"none", "", "Unauthorized"},
		{"malformed", "abc.def.ghi", "TokenMalformed"},
		{"bad checksum", badChecksum, "TokenMalformed"},
		{"unknown", "gth_" + strings.Repeat("0", 49), ""},
		{"revoked", revoked, "TokenRevoked"},
		{"expired", expiring, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("GET", "/api/v1/auth/token/lookup", tc.tok, nil)
			errorBodyOK(t, r, 401, tc.errName)
			r = ts.doHeaders("GET", "/v1/auth/token/lookup-self", nil, map[string]string{"X-Vault-Token": tc.tok})
			if r.status != 403 || !strings.HasPrefix(r.raw, `{"errors":["permission denied`) {
				t.Errorf("vault: %d %s", r.status, r.raw)
			}
		})
	}
}

func TestUseLimitOverHTTP(t *testing.T) {
	ts := newTestServer(t)
	tok, _ := ts.methodToken(store.TokenPolicy{NumUsesLimit: 10})
	if got := concurrentUses(t, []*testServer{ts}, tok, 200); got != 10 {
		t.Fatalf("%d requests succeeded, want exactly 10", got)
	}
}

// concurrentUses sends n authenticated requests spread over the servers
// at once and returns how many succeeded.
func concurrentUses(t *testing.T, servers []*testServer, tok string, n int) int {
	t.Helper()
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(ts *testServer) {
			defer wg.Done()
			r := ts.do("GET", "/api/v1/auth/token/lookup", tok, nil)
			switch r.status {
			case 200:
				mu.Lock()
				ok++
				mu.Unlock()
			case 401:
				if r.body["error"] != "TokenUsesExhausted" {
					t.Errorf("refused with %s", r.raw)
				}
			default:
				t.Errorf("unexpected answer %d %s", r.status, r.raw)
			}
		}(servers[i%len(servers)])
	}
	wg.Wait()
	return ok
}

func TestTrustedProxiesAndForwardedFor(t *testing.T) {
	dir := t.TempDir()
	behindProxy := newTestServerWith(t, server.Config{
		Storage:        "sqlite://" + filepath.Join(dir, "a.db"),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	direct := newTestServerWith(t, server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "b.db")})
	policy := store.TokenPolicy{TrustedIPs: []string{"203.0.113.0/24", "2001:db8::/32"}}
	proxied, _ := behindProxy.methodToken(policy)
	plain, _ := direct.methodToken(policy)

	cases := []struct {
		name   string
		ts     *testServer
		tok    string
		xff    []string
		status int
		seenIP string
	}{
		{"trusted proxy forwards an allowed client", behindProxy, proxied, []string{"203.0.113.5"}, 200, ""},
		{"trusted proxy forwards an IPv6 client", behindProxy, proxied, []string{"2001:db8::5"}, 200, ""},
		{"trusted proxy forwards a disallowed client", behindProxy, proxied, []string{"198.51.100.1"}, 403, "198.51.100.1"},
		{"spoofed left-most entry is ignored", behindProxy, proxied, []string{"203.0.113.5, 198.51.100.1"}, 403, "198.51.100.1"},
		{"spoof in an earlier header line is ignored", behindProxy, proxied, []string{"203.0.113.5", "198.51.100.1"}, 403, "198.51.100.1"},
		{"no header: the proxy itself is the client", behindProxy, proxied, nil, 403, "127.0.0.1"},
		{"untrusted peer: header ignored", direct, plain, []string{"203.0.113.5"}, 403, "127.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := map[string]string{"Authorization": "Bearer " + tc.tok}
			r := tc.ts.doWithXFF("GET", "/api/v1/auth/token/lookup", req, tc.xff)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if tc.status == 403 {
				errorBodyOK(t, r, 403, "TokenIPDenied")
				if !strings.Contains(r.raw, tc.seenIP) || strings.Contains(r.raw, "203.0.113.0/24") {
					t.Errorf("message should name %s and not the allowlist: %s", tc.seenIP, r.raw)
				}
			}
		})
	}
	// Other forwarding headers are never believed.
	r := behindProxy.doHeaders("GET", "/api/v1/auth/token/lookup", nil, map[string]string{
		"Authorization": "Bearer " + proxied, "X-Real-IP": "203.0.113.5", "CF-Connecting-IP": "203.0.113.5",
		"True-Client-IP": "203.0.113.5", "Forwarded": "for=203.0.113.5",
	})
	if r.status != 403 {
		t.Errorf("X-Real-IP and friends were believed: %d %s", r.status, r.raw)
	}
}
