package server_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
)

const uaBase = "/api/v1/auth/universal-auth"

// attachUA attaches Universal Auth with body and returns
// identityUniversalAuth.
func (ts *testServer) attachUA(identityID string, body map[string]any) map[string]any {
	ts.t.Helper()
	r := ts.do("POST", uaBase+"/identities/"+identityID, ts.root, body)
	if r.status != 200 {
		ts.t.Fatalf("attach: %d %s", r.status, r.raw)
	}
	return r.body["identityUniversalAuth"].(map[string]any)
}

// newUA creates an identity with Universal Auth (attach body) and returns
// the identity ID and the client ID.
func (ts *testServer) newUA(body map[string]any) (identityID, clientID string) {
	ts.t.Helper()
	identityID = ts.createIdentity("ua-app", "member")
	return identityID, ts.attachUA(identityID, body)["clientId"].(string)
}

// createSecret makes a client secret and returns it and clientSecretData.
func (ts *testServer) createSecret(identityID string, body map[string]any) (string, map[string]any) {
	ts.t.Helper()
	r := ts.do("POST", uaBase+"/identities/"+identityID+"/client-secrets", ts.root, body)
	if r.status != 200 {
		ts.t.Fatalf("create client secret: %d %s", r.status, r.raw)
	}
	return r.body["clientSecret"].(string), r.body["clientSecretData"].(map[string]any)
}

// uaLogin logs in; headers may set X-Forwarded-For (with a trusted proxy).
func (ts *testServer) uaLogin(clientID, secret string, headers map[string]string) result {
	ts.t.Helper()
	return ts.doHeaders("POST", uaBase+"/login", map[string]string{"clientId": clientID, "clientSecret": secret}, headers)
}

// uaState is everything Universal Auth keeps for the identities, to prove
// a failed request changed nothing.
func (ts *testServer) uaState(identityIDs ...string) string {
	ts.t.Helper()
	ctx := context.Background()
	st := ts.srv.Store()
	var out []any
	for _, id := range identityIDs {
		ms, err := st.ListAuthMethods(ctx, id)
		if err != nil {
			ts.t.Fatal(err)
		}
		out = append(out, ms)
		for _, m := range ms {
			css, err := st.ListClientSecrets(ctx, m.ID)
			if err != nil {
				ts.t.Fatal(err)
			}
			ls, err := st.ListActiveLockouts(ctx, m.ID, time.Unix(0, 0))
			if err != nil {
				ts.t.Fatal(err)
			}
			out = append(out, css, ls)
		}
	}
	b, _ := json.Marshal(out)
	return ts.snapshot() + string(b)
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func wantKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := keysOf(m); !slices.Equal(got, want) {
		t.Errorf("%s has keys %v, want %v", what, got, want)
	}
}

var (
	uaKeys = []string{"id", "clientId", "identityId", "clientSecretTrustedIps", "accessTokenTrustedIps",
		"accessTokenTTL", "accessTokenMaxTTL", "accessTokenNumUsesLimit", "accessTokenPeriod", "lockoutEnabled",
		"lockoutThreshold", "lockoutDurationSeconds", "lockoutCounterResetSeconds", "createdAt", "updatedAt"}
	clientSecretKeys = []string{"id", "description", "clientSecretPrefix", "clientSecretNumUses",
		"clientSecretNumUsesLimit", "clientSecretTTL", "isClientSecretRevoked", "createdAt", "updatedAt"}
	loginKeys = []string{"accessToken", "expiresIn", "accessTokenMaxTTL", "tokenType"}
)

// TestUniversalAuthLifecycle goes through every route once, as an operator
// and a workload would, checking the response shapes.
func TestUniversalAuthLifecycle(t *testing.T) {
	ts := newTestServer(t)
	id := ts.createIdentity("deployer", "member")

	// Attach with defaults.
	ua := ts.attachUA(id, map[string]any{})
	wantKeys(t, "identityUniversalAuth", ua, uaKeys...)
	clientID := ua["clientId"].(string)
	if len(clientID) != 36 || ua["identityId"] != id || ua["accessTokenTTL"].(float64) != 2592000 ||
		ua["lockoutEnabled"] != true || ua["lockoutThreshold"].(float64) != 3 || ua["lockoutDurationSeconds"].(float64) != 300 ||
		ua["lockoutCounterResetSeconds"].(float64) != 30 || ua["accessTokenNumUsesLimit"].(float64) != 0 || ua["accessTokenPeriod"].(float64) != 0 {
		t.Errorf("attach defaults: %v", ua)
	}
	if ips, _ := json.Marshal(ua["clientSecretTrustedIps"]); string(ips) != `[{"ipAddress":"0.0.0.0","prefix":0,"type":"ipv4"},{"ipAddress":"::","prefix":0,"type":"ipv6"}]` {
		t.Errorf("clientSecretTrustedIps = %s", ips)
	}

	// Read and change it.
	r := ts.do("GET", uaBase+"/identities/"+id, ts.root, nil)
	if r.status != 200 || r.body["identityUniversalAuth"].(map[string]any)["clientId"] != clientID {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}
	r = ts.do("PATCH", uaBase+"/identities/"+id, ts.root, map[string]any{
		"accessTokenTTL": 600, "accessTokenMaxTTL": 3600, "lockoutThreshold": 5,
		"accessTokenTrustedIps": []map[string]string{{"ipAddress": "127.0.0.1"}, {"ipAddress": "::1"}},
	})
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	patched := r.body["identityUniversalAuth"].(map[string]any)
	if patched["accessTokenTTL"].(float64) != 600 || patched["lockoutThreshold"].(float64) != 5 || patched["clientId"] != clientID ||
		patched["lockoutDurationSeconds"].(float64) != 300 {
		t.Errorf("patch result: %v", patched)
	}

	// The identity lists its method.
	r = ts.do("GET", "/api/v1/identities/"+id, ts.root, nil)
	ident := r.body["identity"].(map[string]any)
	if am := ident["authMethods"].([]any); len(am) != 1 || am[0] != "universal-auth" {
		t.Errorf("identity authMethods = %v", ident["authMethods"])
	}
	if l := ident["activeLockoutAuthMethods"].([]any); len(l) != 0 {
		t.Errorf("activeLockoutAuthMethods = %v, want []", l)
	}

	// A client secret: shown once.
	sec, data := ts.createSecret(id, map[string]any{"description": "ci", "numUsesLimit": 3, "ttl": 3600})
	wantKeys(t, "clientSecretData", data, clientSecretKeys...)
	if !strings.HasPrefix(sec, "gtcs_") || len(sec) != 54 || !strings.HasPrefix(sec, data["clientSecretPrefix"].(string)) ||
		len(data["clientSecretPrefix"].(string)) != len("gtcs_")+4 {
		t.Errorf("secret %d chars, prefix %v", len(sec), data["clientSecretPrefix"])
	}
	if data["description"] != "ci" || data["clientSecretNumUsesLimit"].(float64) != 3 || data["clientSecretTTL"].(float64) != 3600 ||
		data["isClientSecretRevoked"] != false || data["clientSecretNumUses"].(float64) != 0 {
		t.Errorf("clientSecretData = %v", data)
	}
	secretID := data["id"].(string)
	r = ts.do("GET", uaBase+"/identities/"+id+"/client-secrets", ts.root, nil)
	if r.status != 200 || len(r.body["clientSecretData"].([]any)) != 1 || strings.Contains(r.raw, sec) {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	r = ts.do("GET", uaBase+"/identities/"+id+"/client-secrets/"+secretID, ts.root, nil)
	if r.status != 200 || r.body["clientSecretData"].(map[string]any)["id"] != secretID || strings.Contains(r.raw, sec) {
		t.Fatalf("get secret: %d %s", r.status, r.raw)
	}

	// Log in and use the token.
	r = ts.uaLogin(clientID, sec, nil)
	if r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	wantKeys(t, "login response", r.body, loginKeys...)
	if r.body["tokenType"] != "Bearer" || r.body["expiresIn"].(float64) != 600 || r.body["accessTokenMaxTTL"].(float64) != 3600 {
		t.Errorf("login = %s", r.raw)
	}
	tok := r.body["accessToken"].(string)
	r = ts.do("GET", "/api/v1/auth/token/lookup", tok, nil)
	if r.status != 200 {
		t.Fatalf("lookup with the login token: %d %s", r.status, r.raw)
	}
	if rec := r.body["token"].(map[string]any); rec["identityId"] != id || rec["authMethod"] != "universal-auth" || rec["clientSecretId"] != secretID {
		t.Errorf("token = %v", rec)
	}
	r = ts.do("GET", uaBase+"/identities/"+id+"/client-secrets/"+secretID, ts.root, nil)
	if uses := r.body["clientSecretData"].(map[string]any)["clientSecretNumUses"].(float64); uses != 1 {
		t.Errorf("clientSecretNumUses = %v after one login, want 1", uses)
	}
	// organizationSlug is accepted and ignored.
	r = ts.do("POST", uaBase+"/login", "", map[string]string{"clientId": clientID, "clientSecret": sec, "organizationSlug": "acme"})
	if r.status != 200 {
		t.Fatalf("login with organizationSlug: %d %s", r.status, r.raw)
	}
	tok2 := r.body["accessToken"].(string)

	// Revoking the secret revokes its tokens and its logins.
	r = ts.do("POST", uaBase+"/identities/"+id+"/client-secrets/"+secretID+"/revoke", ts.root, nil)
	if r.status != 200 || r.body["clientSecretData"].(map[string]any)["isClientSecretRevoked"] != true {
		t.Fatalf("revoke secret: %d %s", r.status, r.raw)
	}
	errorBodyOK(t, ts.do("GET", "/api/v1/auth/token/lookup", tok, nil), 401, "TokenRevoked")
	errorBodyOK(t, ts.do("GET", "/api/v1/auth/token/lookup", tok2, nil), 401, "TokenRevoked")
	errorBodyOK(t, ts.uaLogin(clientID, sec, nil), 401, "Unauthorized")
	r = ts.do("GET", uaBase+"/identities/"+id+"/client-secrets", ts.root, nil)
	if n := len(r.body["clientSecretData"].([]any)); n != 0 {
		t.Errorf("list after revoke holds %d secrets, want 0 (revoked ones are not listed)", n)
	}

	// Detaching revokes everything the method issued.
	sec2, data2 := ts.createSecret(id, map[string]any{})
	r = ts.uaLogin(clientID, sec2, nil)
	if r.status != 200 {
		t.Fatalf("login with a second secret: %d %s", r.status, r.raw)
	}
	tok3 := r.body["accessToken"].(string)
	r = ts.do("DELETE", uaBase+"/identities/"+id, ts.root, nil)
	if r.status != 200 || r.body["identityUniversalAuth"].(map[string]any)["clientId"] != clientID {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	errorBodyOK(t, ts.do("GET", "/api/v1/auth/token/lookup", tok3, nil), 401, "TokenRevoked")
	errorBodyOK(t, ts.uaLogin(clientID, sec2, nil), 401, "Unauthorized")
	errorBodyOK(t, ts.do("GET", uaBase+"/identities/"+id, ts.root, nil), 404, "NotFound")
	if _, err := ts.srv.Store().GetClientSecret(context.Background(), data2["id"].(string)); err == nil {
		t.Error("client secret survived the method's deletion")
	}
	// It can be attached again, with a new client ID.
	if again := ts.attachUA(id, map[string]any{}); again["clientId"] == clientID {
		t.Error("re-attaching reused the client ID")
	}
	if strings.Contains(ts.do("GET", "/api/v1/audit-logs?limit=100", ts.root, nil).raw, sec) {
		t.Error("the audit log holds a client secret")
	}
}

// TestUniversalAuthBadInputChangesNothing: every validation error of every
// route is the documented error body, and the store is left as it was.
func TestUniversalAuthBadInputChangesNothing(t *testing.T) {
	ts := newTestServer(t)
	id, _ := ts.newUA(map[string]any{"accessTokenTTL": 600, "accessTokenMaxTTL": 3600})
	_, secData := ts.createSecret(id, map[string]any{})
	secretID := secData["id"].(string)
	otherID, _ := ts.newUA(map[string]any{})
	_, otherData := ts.createSecret(otherID, map[string]any{})
	bare := ts.createIdentity("bare", "member")
	member := ts.tokenFor(ts.createIdentity("reader", "member"), store.TokenPolicy{})
	noAccess := ts.tokenFor(ts.createIdentity("robot", "no-access"), store.TokenPolicy{})
	unknown := "7b0c3a0e-7a44-4c55-9f3e-2b8f7f1c0d11"
	ident := uaBase + "/identities/" + id
	secrets := ident + "/client-secrets"

	cases := []struct {
		name, method, path, tok string
		body                    any
		status                  int
		errName                 string
		paths                   []string // 422: the field paths reported
	}{
		// Attach.
		{"attach twice", "POST", ident, ts.root, `{}`, 400, "BadRequest", nil},
		{"attach unknown identity", "POST", uaBase + "/identities/" + unknown, ts.root, `{}`, 404, "NotFound", nil},
		{"attach non-UUID identity", "POST", uaBase + "/identities/abc", ts.root, `{}`, 422, "ValidationFailure", []string{"identityId"}},
		{"attach malformed JSON", "POST", uaBase + "/identities/" + bare, ts.root, `{"accessTokenTTL":`, 400, "BadRequest", nil},
		{"attach unknown field", "POST", uaBase + "/identities/" + bare, ts.root, `{"clientSecret":"x"}`, 422, "ValidationFailure", []string{"clientSecret"}},
		{"attach field in wrong case", "POST", uaBase + "/identities/" + bare, ts.root, `{"accessTokenTtl":60}`, 422, "ValidationFailure", []string{"accessTokenTtl"}},
		{"attach wrong type", "POST", uaBase + "/identities/" + bare, ts.root, `{"lockoutEnabled":"yes"}`, 422, "ValidationFailure", []string{"lockoutEnabled"}},
		{"attach fractional TTL", "POST", uaBase + "/identities/" + bare, ts.root, `{"accessTokenTTL":1.5}`, 422, "ValidationFailure", []string{"accessTokenTTL"}},
		{"attach TTL 0", "POST", uaBase + "/identities/" + bare, ts.root, `{"accessTokenTTL":0}`, 422, "ValidationFailure", []string{"accessTokenTTL"}},
		{"attach max TTL too big", "POST", uaBase + "/identities/" + bare, ts.root, `{"accessTokenMaxTTL":315360000}`, 422, "ValidationFailure", []string{"accessTokenMaxTTL"}},
		{"attach negative use limit", "POST", uaBase + "/identities/" + bare, ts.root, `{"accessTokenNumUsesLimit":-1}`, 422, "ValidationFailure", []string{"accessTokenNumUsesLimit"}},
		{"attach negative period", "POST", uaBase + "/identities/" + bare, ts.root, `{"accessTokenPeriod":-1}`, 422, "ValidationFailure", []string{"accessTokenPeriod"}},
		{"attach TTL above max TTL", "POST", uaBase + "/identities/" + bare, ts.root, `{"accessTokenTTL":7200,"accessTokenMaxTTL":3600}`, 400, "BadRequest", nil},
		{"attach bad client secret IP", "POST", uaBase + "/identities/" + bare, ts.root, `{"clientSecretTrustedIps":[{"ipAddress":"10.0.0.0/8"},{"ipAddress":"10.0.0.300"}]}`, 422, "ValidationFailure", []string{"clientSecretTrustedIps.1.ipAddress"}},
		{"attach empty client secret IPs", "POST", uaBase + "/identities/" + bare, ts.root, `{"clientSecretTrustedIps":[]}`, 422, "ValidationFailure", []string{"clientSecretTrustedIps"}},
		{"attach bad token IP", "POST", uaBase + "/identities/" + bare, ts.root, `{"accessTokenTrustedIps":[{"ipAddress":"::/129"}]}`, 422, "ValidationFailure", []string{"accessTokenTrustedIps.0.ipAddress"}},
		{"attach unknown field in an IP entry", "POST", uaBase + "/identities/" + bare, ts.root, `{"clientSecretTrustedIps":[{"ipAddress":"10.0.0.1","type":"ipv4"}]}`, 422, "ValidationFailure", []string{"type"}},
		{"attach threshold 0", "POST", uaBase + "/identities/" + bare, ts.root, `{"lockoutThreshold":0}`, 422, "ValidationFailure", []string{"lockoutThreshold"}},
		{"attach threshold 31", "POST", uaBase + "/identities/" + bare, ts.root, `{"lockoutThreshold":31}`, 422, "ValidationFailure", []string{"lockoutThreshold"}},
		{"attach duration 29", "POST", uaBase + "/identities/" + bare, ts.root, `{"lockoutDurationSeconds":29}`, 422, "ValidationFailure", []string{"lockoutDurationSeconds"}},
		{"attach duration 86401", "POST", uaBase + "/identities/" + bare, ts.root, `{"lockoutDurationSeconds":86401}`, 422, "ValidationFailure", []string{"lockoutDurationSeconds"}},
		{"attach counter reset 4", "POST", uaBase + "/identities/" + bare, ts.root, `{"lockoutCounterResetSeconds":4}`, 422, "ValidationFailure", []string{"lockoutCounterResetSeconds"}},
		{"attach counter reset 3601", "POST", uaBase + "/identities/" + bare, ts.root, `{"lockoutCounterResetSeconds":3601}`, 422, "ValidationFailure", []string{"lockoutCounterResetSeconds"}},
		{"attach several schema failures", "POST", uaBase + "/identities/" + bare, ts.root, `{"accessTokenTTL":0,"lockoutThreshold":0,"clientSecretTrustedIps":[{"ipAddress":"x"}]}`, 422, "ValidationFailure",
			[]string{"accessTokenTTL", "clientSecretTrustedIps.0.ipAddress", "lockoutThreshold"}},
		{"attach without a token", "POST", uaBase + "/identities/" + bare, "", `{}`, 401, "Unauthorized", nil},
		{"attach as member", "POST", uaBase + "/identities/" + bare, member, `{}`, 403, "PermissionDenied", nil},
		// Read, update, detach.
		{"get not attached", "GET", uaBase + "/identities/" + bare, ts.root, nil, 404, "NotFound", nil},
		{"get unknown identity", "GET", uaBase + "/identities/" + unknown, ts.root, nil, 404, "NotFound", nil},
		{"get as no-access", "GET", ident, noAccess, nil, 403, "PermissionDenied", nil},
		{"patch not attached", "PATCH", uaBase + "/identities/" + bare, ts.root, `{"lockoutThreshold":5}`, 404, "NotFound", nil},
		{"patch unknown field", "PATCH", ident, ts.root, `{"clientId":"x"}`, 422, "ValidationFailure", []string{"clientId"}},
		{"patch threshold 31", "PATCH", ident, ts.root, `{"lockoutThreshold":31}`, 422, "ValidationFailure", []string{"lockoutThreshold"}},
		{"patch TTL above the stored max TTL", "PATCH", ident, ts.root, `{"accessTokenTTL":7200}`, 400, "BadRequest", nil},
		{"patch max TTL below the stored TTL", "PATCH", ident, ts.root, `{"accessTokenMaxTTL":60}`, 400, "BadRequest", nil},
		{"patch bad IP", "PATCH", ident, ts.root, `{"clientSecretTrustedIps":[{"ipAddress":"10.0.0.0/33"}]}`, 422, "ValidationFailure", []string{"clientSecretTrustedIps.0.ipAddress"}},
		{"patch as member", "PATCH", ident, member, `{}`, 403, "PermissionDenied", nil},
		{"delete not attached", "DELETE", uaBase + "/identities/" + bare, ts.root, nil, 404, "NotFound", nil},
		{"delete as member", "DELETE", ident, member, nil, 403, "PermissionDenied", nil},
		// Client secrets.
		{"secret not attached", "POST", uaBase + "/identities/" + bare + "/client-secrets", ts.root, `{}`, 404, "NotFound", nil},
		{"secret negative use limit", "POST", secrets, ts.root, `{"numUsesLimit":-1}`, 422, "ValidationFailure", []string{"numUsesLimit"}},
		{"secret negative TTL", "POST", secrets, ts.root, `{"ttl":-1}`, 422, "ValidationFailure", []string{"ttl"}},
		{"secret TTL too big", "POST", secrets, ts.root, `{"ttl":315360001}`, 422, "ValidationFailure", []string{"ttl"}},
		{"secret description too long", "POST", secrets, ts.root, `{"description":"` + strings.Repeat("d", 1025) + `"}`, 422, "ValidationFailure", []string{"description"}},
		{"secret description wrong type", "POST", secrets, ts.root, `{"description":7}`, 422, "ValidationFailure", []string{"description"}},
		{"secret unknown field", "POST", secrets, ts.root, `{"clientSecret":"mine"}`, 422, "ValidationFailure", []string{"clientSecret"}},
		{"secret as member", "POST", secrets, member, `{}`, 403, "PermissionDenied", nil},
		{"list secrets not attached", "GET", uaBase + "/identities/" + bare + "/client-secrets", ts.root, nil, 404, "NotFound", nil},
		{"list secrets as no-access", "GET", secrets, noAccess, nil, 403, "PermissionDenied", nil},
		{"get secret non-UUID", "GET", secrets + "/abc", ts.root, nil, 422, "ValidationFailure", []string{"clientSecretId"}},
		{"get unknown secret", "GET", secrets + "/" + unknown, ts.root, nil, 404, "NotFound", nil},
		{"get another identity's secret", "GET", secrets + "/" + otherData["id"].(string), ts.root, nil, 404, "NotFound", nil},
		{"revoke unknown secret", "POST", secrets + "/" + unknown + "/revoke", ts.root, nil, 404, "NotFound", nil},
		{"revoke another identity's secret", "POST", secrets + "/" + otherData["id"].(string) + "/revoke", ts.root, nil, 404, "NotFound", nil},
		{"revoke as member", "POST", secrets + "/" + secretID + "/revoke", member, nil, 403, "PermissionDenied", nil},
		// Lockouts.
		{"clear lockouts not attached", "POST", uaBase + "/identities/" + bare + "/clear-lockouts", ts.root, nil, 404, "NotFound", nil},
		{"clear lockouts as member", "POST", ident + "/clear-lockouts", member, nil, 403, "PermissionDenied", nil},
		// Login.
		{"login malformed JSON", "POST", uaBase + "/login", "", `{"clientId":`, 400, "BadRequest", nil},
		{"login without clientId", "POST", uaBase + "/login", "", `{"clientSecret":"x"}`, 422, "ValidationFailure", []string{"clientId"}},
		{"login without anything", "POST", uaBase + "/login", "", `{}`, 422, "ValidationFailure", []string{"clientId", "clientSecret"}},
		{"login secret wrong type", "POST", uaBase + "/login", "", `{"clientId":"x","clientSecret":1}`, 422, "ValidationFailure", []string{"clientSecret"}},
		{"login unknown field", "POST", uaBase + "/login", "", `{"clientId":"x","clientSecret":"y","identityId":"z"}`, 422, "ValidationFailure", []string{"identityId"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.uaState(id, otherID, bare)
			r := ts.do(tc.method, tc.path, tc.tok, tc.body)
			errorBodyOK(t, r, tc.status, tc.errName)
			if tc.status == 422 {
				msgs, ok := r.body["message"].([]any)
				if !ok {
					t.Fatalf("422 message is not an array of field errors: %s", r.raw)
				}
				var got []string
				for _, m := range msgs {
					got = append(got, m.(map[string]any)["path"].(string))
				}
				if !slices.Equal(got, tc.paths) {
					t.Errorf("field paths %v, want %v (%s)", got, tc.paths, r.raw)
				}
			}
			if after := ts.uaState(id, otherID, bare); after != before {
				t.Errorf("store changed by a failed request")
			}
		})
	}
}

// TestUniversalAuthLoginFailuresOverHTTP: each failed login is one generic
// 401 "invalid credentials", except an untrusted address (403); the audit
// log keeps the true reason.
func TestUniversalAuthLoginFailuresOverHTTP(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	ts := newTestServerWith(t, server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"), Now: clock.Now})
	// Lockout off: this test is about the answers, not their count.
	id, clientID := ts.newUA(map[string]any{"lockoutEnabled": false})
	good, _ := ts.createSecret(id, map[string]any{})
	revoked, revokedData := ts.createSecret(id, map[string]any{})
	ts.do("POST", uaBase+"/identities/"+id+"/client-secrets/"+revokedData["id"].(string)+"/revoke", ts.root, nil)
	expired, _ := ts.createSecret(id, map[string]any{"ttl": 30})
	once, _ := ts.createSecret(id, map[string]any{"numUsesLimit": 1})
	if r := ts.uaLogin(clientID, once, nil); r.status != 200 {
		t.Fatalf("first use: %d %s", r.status, r.raw)
	}
	fencedID, fencedClient := ts.newUA(map[string]any{"clientSecretTrustedIps": []map[string]string{{"ipAddress": "10.0.0.0/8"}}})
	fenced, _ := ts.createSecret(fencedID, map[string]any{})
	clock.Advance(30 * time.Second)

	cases := []struct {
		name, clientID, secret string
		status                 int
		reason                 string
	}{
		{"wrong secret", clientID, neverStored(t), 401, "no client secret matches"},
		{"not a secret", clientID, "hunter2", 401, "malformed client secret"},
		{"revoked secret", clientID, revoked, 401, "is revoked"},
		{"expired secret", clientID, expired, 401, "expired at"},
		{"exhausted secret", clientID, once, 401, "has used all of its 1 uses"},
		{"unknown client ID", "7b0c3a0e-7a44-4c55-9f3e-2b8f7f1c0d11", good, 401, "unknown client ID"},
		{"untrusted address", fencedClient, fenced, 403, "address 127.0.0.1 is not in clientSecretTrustedIps"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.uaLogin(tc.clientID, tc.secret, nil)
			if tc.status == 401 {
				errorBodyOK(t, r, 401, "Unauthorized")
				if r.body["message"] != "invalid credentials" {
					t.Errorf("message = %v, want \"invalid credentials\"", r.body["message"])
				}
			} else {
				errorBodyOK(t, r, 403, "PermissionDenied")
				if !strings.Contains(r.raw, "127.0.0.1") || strings.Contains(r.raw, "10.0.0.0") {
					t.Errorf("403 should name the caller's address and not the allowlist: %s", r.raw)
				}
			}
			a := ts.do("GET", "/api/v1/audit-logs?limit=1", ts.root, nil)
			ev := a.body["auditLogs"].([]any)[0].(map[string]any)
			if ev["type"] != "login" || ev["success"] != false || !strings.Contains(ev["reason"].(string), tc.reason) || ev["requestId"] != r.body["reqId"] {
				t.Errorf("audit event %v, want reason %q", ev, tc.reason)
			}
		})
	}
	if r := ts.uaLogin(clientID, good, nil); r.status != 200 {
		t.Fatalf("the good secret still works: %d %s", r.status, r.raw)
	}
	log := ts.do("GET", "/api/v1/audit-logs?limit=100", ts.root, nil).raw
	for _, s := range []string{good, revoked, expired, once, fenced} {
		if strings.Contains(log, s) {
			t.Fatal("the audit log holds a client secret")
		}
	}
}

// TestUniversalAuthLockoutOverHTTP: behind a trusted proxy, so that
// X-Forwarded-For sets the source address. Lockout engages after the
// threshold per (client ID, address), shows on the identity, releases
// after the duration and can be cleared.
func TestUniversalAuthLockoutOverHTTP(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	ts := newTestServerWith(t, server.Config{
		Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"), Now: clock.Now,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	id, clientID := ts.newUA(map[string]any{"lockoutThreshold": 2, "lockoutDurationSeconds": 120, "lockoutCounterResetSeconds": 60})
	good, _ := ts.createSecret(id, map[string]any{})
	wrong := neverStored(t)
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	const attacker, workload = "198.51.100.66", "198.51.100.10"

	for range 2 {
		errorBodyOK(t, ts.uaLogin(clientID, wrong, from(attacker)), 401, "Unauthorized")
	}
	r := ts.uaLogin(clientID, good, from(attacker))
	errorBodyOK(t, r, 429, "LockedOut")
	if msg := r.body["message"].(string); !strings.Contains(msg, "locked out") || !strings.Contains(msg, "try again in 120 seconds") {
		t.Errorf("lockout message %q should say locked out and for how long", msg)
	}
	if r := ts.uaLogin(clientID, good, from(workload)); r.status != 200 {
		t.Fatalf("the workload's address was locked out by the attacker's failures: %d %s", r.status, r.raw)
	}

	r = ts.do("GET", "/api/v1/identities/"+id, ts.root, nil)
	ident := r.body["identity"].(map[string]any)
	if am, _ := json.Marshal(ident["activeLockoutAuthMethods"]); string(am) != `["universal-auth"]` {
		t.Errorf("activeLockoutAuthMethods = %s", am)
	}
	locks := ident["activeLockouts"].([]any)
	if len(locks) != 1 || locks[0].(map[string]any)["ipAddress"] != attacker || locks[0].(map[string]any)["failedAttempts"].(float64) != 2 ||
		locks[0].(map[string]any)["lockedUntil"] != "2026-05-01T08:02:00.000Z" {
		t.Errorf("activeLockouts = %v", locks)
	}

	clock.Advance(119 * time.Second)
	errorBodyOK(t, ts.uaLogin(clientID, good, from(attacker)), 429, "LockedOut")
	clock.Advance(time.Second)
	if r := ts.uaLogin(clientID, good, from(attacker)); r.status != 200 {
		t.Fatalf("after the lock's duration: %d %s", r.status, r.raw)
	}

	// Lock again, then clear.
	for range 2 {
		ts.uaLogin(clientID, wrong, from(attacker))
	}
	errorBodyOK(t, ts.uaLogin(clientID, good, from(attacker)), 429, "LockedOut")
	r = ts.do("POST", uaBase+"/identities/"+id+"/clear-lockouts", ts.root, nil)
	if r.status != 200 || r.raw != "{\"deleted\":1}\n" {
		t.Fatalf("clear-lockouts: %d %s", r.status, r.raw)
	}
	if r := ts.uaLogin(clientID, good, from(attacker)); r.status != 200 {
		t.Fatalf("after clear-lockouts: %d %s", r.status, r.raw)
	}
	r = ts.do("GET", "/api/v1/identities/"+id, ts.root, nil)
	if l := r.body["identity"].(map[string]any)["activeLockouts"].([]any); len(l) != 0 {
		t.Errorf("activeLockouts after clearing = %v", l)
	}
}

// neverStored is a well-formed client secret that no server has.
func neverStored(t *testing.T) string {
	t.Helper()
	s, err := secret.Generate(secret.KindClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s.Reveal()
}

// concurrentLogins sends n logins at once and returns how many got a token;
// the others must be the generic 401.
func concurrentLogins(t *testing.T, ts *testServer, clientID, secret string, n int) int {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := 0
	for range n {
		wg.Go(func() {
			r := ts.uaLogin(clientID, secret, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.status == 200:
				ok++
			case r.status != 401 || r.body["message"] != "invalid credentials":
				t.Errorf("unexpected answer %d %s", r.status, r.raw)
			}
		})
	}
	wg.Wait()
	return ok
}

func testConcurrentLimitedLogins(t *testing.T, ts *testServer) {
	id, clientID := ts.newUA(map[string]any{})
	secret, data := ts.createSecret(id, map[string]any{"numUsesLimit": 5})
	if got := concurrentLogins(t, ts, clientID, secret, 100); got != 5 {
		t.Errorf("%d of 100 concurrent logins succeeded with numUsesLimit=5, want exactly 5", got)
	}
	n, err := ts.srv.Store().RevokeAccessTokens(context.Background(), store.TokenFilter{ClientSecretID: data["id"].(string)}, time.Now())
	if err != nil || n != 5 {
		t.Errorf("%d tokens were minted with the secret (%v), want exactly 5", n, err)
	}
	r := ts.do("GET", uaBase+"/identities/"+id+"/client-secrets/"+data["id"].(string), ts.root, nil)
	if uses := r.body["clientSecretData"].(map[string]any)["clientSecretNumUses"].(float64); uses != 5 {
		t.Errorf("clientSecretNumUses = %v, want 5", uses)
	}
}

func TestUniversalAuthConcurrentLimitedLoginsSQLite(t *testing.T) {
	testConcurrentLimitedLogins(t, newTestServer(t))
}

func TestUniversalAuthConcurrentLimitedLoginsPostgres(t *testing.T) {
	testConcurrentLimitedLogins(t, newTestServerWith(t, server.Config{Storage: pgtest.URL(t), EncryptionKey: testKey}))
}

// TestUniversalAuthLockoutAcrossReplicas: two servers on one PostgreSQL
// share the lockout: failures on one lock the key on the other.
func TestUniversalAuthLockoutAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	a := newTestServerWith(t, server.Config{Storage: url, EncryptionKey: testKey})
	b := newTestServerWith(t, server.Config{Storage: url, EncryptionKey: testKey})
	id, clientID := a.newUA(map[string]any{})
	good, _ := a.createSecret(id, map[string]any{})
	wrong := neverStored(t)
	errorBodyOK(t, a.uaLogin(clientID, wrong, nil), 401, "Unauthorized")
	errorBodyOK(t, b.uaLogin(clientID, wrong, nil), 401, "Unauthorized")
	errorBodyOK(t, a.uaLogin(clientID, wrong, nil), 401, "Unauthorized")
	errorBodyOK(t, b.uaLogin(clientID, good, nil), 429, "LockedOut")
	errorBodyOK(t, a.uaLogin(clientID, good, nil), 429, "LockedOut")
}

// TestLoginAuditedOnce: a successful login writes exactly one audit event,
// stored with its token (it names the token and the secret used); a failed
// one writes exactly one failure event and no token or secret use.
func TestLoginAuditedOnce(t *testing.T) {
	ts := newTestServer(t)
	id, clientID := ts.newUA(map[string]any{})
	sec, data := ts.createSecret(id, map[string]any{})
	secretID := data["id"].(string)

	newest := func(n int) []map[string]any {
		t.Helper()
		r := ts.do("GET", "/api/v1/audit-logs?limit="+strconv.Itoa(n), ts.root, nil)
		if r.status != 200 {
			t.Fatalf("audit log: %d %s", r.status, r.raw)
		}
		var out []map[string]any
		for _, e := range r.body["auditLogs"].([]any) {
			out = append(out, e.(map[string]any))
		}
		return out
	}

	before := ts.lastAudit()["id"]
	r := ts.uaLogin(clientID, sec, nil)
	if r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	look := ts.do("GET", "/api/v1/auth/token/lookup", r.body["accessToken"].(string), nil)
	tokenID := look.body["token"].(map[string]any)["id"]
	evs := newest(2)
	ev, details := evs[0], evs[0]["details"].(map[string]any)
	if ev["type"] != "login" || ev["success"] != true || ev["identityId"] != id || ev["reason"] != "" ||
		details["accessor"] != tokenID || details["clientSecretId"] != secretID || details["clientId"] != clientID {
		t.Errorf("login event %v, want a success naming token %v and secret %s", ev, tokenID, secretID)
	}
	if evs[1]["id"] != before {
		t.Errorf("a login wrote more than one event: %v", evs)
	}

	before = ev["id"]
	if r := ts.uaLogin(clientID, sec+"x", nil); r.status != 401 {
		t.Fatalf("wrong secret: %d %s", r.status, r.raw)
	}
	evs = newest(2)
	if evs[0]["success"] != false || evs[0]["type"] != "login" || evs[1]["id"] != before {
		t.Errorf("a failed login's events: %v", evs)
	}
	if _, ok := evs[0]["details"].(map[string]any)["accessor"]; ok {
		t.Errorf("a failed login's event names a token: %v", evs[0])
	}
	if n := ts.liveTokens(id); n != 1 {
		t.Errorf("%d live tokens after one good and one bad login, want 1", n)
	}
	r = ts.do("GET", uaBase+"/identities/"+id+"/client-secrets/"+secretID, ts.root, nil)
	if uses := r.body["clientSecretData"].(map[string]any)["clientSecretNumUses"].(float64); uses != 1 {
		t.Errorf("clientSecretNumUses = %v after one good and one bad login, want 1", uses)
	}
}
