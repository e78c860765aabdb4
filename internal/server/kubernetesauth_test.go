package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const kubeBase = "/api/v1/auth/kubernetes-auth"

func kubePath(identityID string) string { return kubeBase + "/identities/" + identityID }

// kubeConfig is an attach body for cluster c with a reviewer allowed to
// review; extra fields are added or (nil) removed.
func kubeConfig(c *kubetest.Cluster, reviewer string, extra map[string]any) map[string]any {
	return withFields(map[string]any{
		"kubernetesHost": c.Host(), "caCert": c.CAPEM(), "tokenReviewerJwt": reviewer,
		"allowedNamespaces": "apps, team-*", "allowedNames": "web,worker-*",
	}, extra)
}

// withFields sets the fields of extra on body, removing those whose value
// is nil, and returns body.
func withFields(body, extra map[string]any) map[string]any {
	for k, v := range extra {
		if v == nil {
			delete(body, k)
			continue
		}
		body[k] = v
	}
	return body
}

// attachKube attaches Kubernetes Auth and returns identityKubernetesAuth.
func (ts *testServer) attachKube(identityID string, body map[string]any) map[string]any {
	ts.t.Helper()
	r := ts.do("POST", kubePath(identityID), ts.root, body)
	if r.status != 200 {
		ts.t.Fatalf("attach Kubernetes Auth: %d %s", r.status, r.raw)
	}
	return r.body["identityKubernetesAuth"].(map[string]any)
}

// newKube creates an identity with Kubernetes Auth and returns its id.
func (ts *testServer) newKube(body map[string]any) string {
	ts.t.Helper()
	id := ts.createIdentity("kube-app", "member")
	ts.attachKube(id, body)
	return id
}

func (ts *testServer) kubeLogin(identityID, jwt string) result {
	ts.t.Helper()
	return ts.do("POST", kubeBase+"/login", "", map[string]any{"identityId": identityID, "jwt": jwt})
}

// kubeState is what the store keeps of an identity's Kubernetes Auth, to
// prove a failed request changed nothing.
func (ts *testServer) kubeState(identityID string) string {
	ts.t.Helper()
	m, err := ts.srv.Store().GetAuthMethodByIdentity(context.Background(), identityID, store.AuthMethodKubernetes)
	if err != nil {
		return "none: " + err.Error()
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// liveTokens revokes and counts the unrevoked tokens of an identity: 0
// proves a failed login issued none.
func (ts *testServer) liveTokens(identityID string) int64 {
	ts.t.Helper()
	n, err := ts.srv.Store().RevokeAccessTokens(context.Background(), store.TokenFilter{IdentityID: identityID}, time.Now())
	if err != nil {
		ts.t.Fatal(err)
	}
	return n
}

// lastAudit is the newest audit event.
func (ts *testServer) lastAudit() map[string]any {
	ts.t.Helper()
	r := ts.do("GET", "/api/v1/audit-logs?limit=1", ts.root, nil)
	if r.status != 200 {
		ts.t.Fatalf("audit log: %d %s", r.status, r.raw)
	}
	return r.body["auditLogs"].([]any)[0].(map[string]any)
}

func TestKubernetesAuthLifecycle(t *testing.T) {
	var logs syncBuffer
	ts := newTestServerWith(t, server.Config{
		Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"),
		Logger:  slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	c := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	id := ts.createIdentity("web", "member")

	got := ts.attachKube(id, kubeConfig(c, reviewer, map[string]any{
		"allowedAudience": "gatehouse", "accessTokenTTL": 600, "accessTokenMaxTTL": 3600, "accessTokenNumUsesLimit": 5,
		"accessTokenTrustedIps": []map[string]string{{"ipAddress": "127.0.0.1"}, {"ipAddress": "::1"}},
	}))
	want := map[string]any{
		"identityId": id, "kubernetesHost": c.Host(), "allowedNamespaces": "apps, team-*", "allowedNames": "web,worker-*",
		"allowedAudience": "gatehouse", "caCert": c.CAPEM(), "verifyTlsCertificate": true, "tokenReviewMode": "api",
		"tokenReviewerJwt": nil, "tokenReviewerJwtSet": true, "gatewayId": nil, "gatewayPoolId": nil,
		"accessTokenTTL": 600.0, "accessTokenMaxTTL": 3600.0, "accessTokenNumUsesLimit": 5.0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("attach: %s = %#v, want %#v", k, got[k], v)
		}
	}
	for _, k := range []string{"id", "createdAt", "updatedAt", "accessTokenTrustedIps"} {
		if _, ok := got[k]; !ok {
			t.Errorf("attach: no %s", k)
		}
	}
	if ips := got["accessTokenTrustedIps"].([]any); len(ips) != 2 || ips[0].(map[string]any)["prefix"] != 32.0 || ips[1].(map[string]any)["type"] != "ipv6" {
		t.Errorf("trusted IPs = %v", ips)
	}
	ident := ts.do("GET", "/api/v1/identities/"+id, ts.root, nil)
	if !strings.Contains(ident.raw, `"kubernetes-auth"`) {
		t.Errorf("identity does not list kubernetes-auth: %s", ident.raw)
	}
	if ev := ts.lastAudit(); ev["type"] != "auth-method.create" || ev["actorId"] != "root" || ev["identityId"] != id {
		t.Errorf("attach audit event = %v", ev)
	}

	// Stored: the reviewer JWT only sealed, never in the config JSON.
	m, err := ts.srv.Store().GetAuthMethodByIdentity(context.Background(), id, store.AuthMethodKubernetes)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.SealedSecret) == 0 || bytes.Contains(m.SealedSecret, []byte(reviewer)) || strings.Contains(string(m.Config), reviewer) {
		t.Error("the reviewer JWT is not sealed apart from the config")
	}

	r := ts.do("GET", kubePath(id), ts.root, nil)
	if r.status != 200 || r.body["identityKubernetesAuth"].(map[string]any)["id"] != got["id"] {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}

	// Log in, then use the token.
	jwt := c.Token("apps", "web", kubetest.Audiences("gatehouse"))
	r = ts.kubeLogin(id, jwt)
	if r.status != 200 || !strings.HasPrefix(r.body["accessToken"].(string), "gth_") || r.body["tokenType"] != "Bearer" ||
		r.body["expiresIn"] != 600.0 || r.body["accessTokenMaxTTL"] != 3600.0 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	tok := r.body["accessToken"].(string)

	// PATCH: rules and token settings; "" keeps the reviewer JWT.
	r = ts.do("PATCH", kubePath(id), ts.root, map[string]any{"allowedNames": "web", "accessTokenTTL": 300, "tokenReviewerJwt": ""})
	up := r.body["identityKubernetesAuth"].(map[string]any)
	if r.status != 200 || up["allowedNames"] != "web" || up["accessTokenTTL"] != 300.0 || up["tokenReviewerJwtSet"] != true ||
		up["allowedNamespaces"] != "apps, team-*" || up["accessTokenMaxTTL"] != 3600.0 {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	if ev := ts.lastAudit(); ev["type"] != "auth-method.update" {
		t.Errorf("update audit event = %v", ev)
	}
	// null deletes the reviewer JWT.
	r = ts.do("PATCH", kubePath(id), ts.root, map[string]any{"tokenReviewerJwt": nil})
	if r.status != 200 || r.body["identityKubernetesAuth"].(map[string]any)["tokenReviewerJwtSet"] != false {
		t.Fatalf("patch tokenReviewerJwt null: %d %s", r.status, r.raw)
	}
	if m, _ := ts.srv.Store().GetAuthMethodByIdentity(context.Background(), id, store.AuthMethodKubernetes); m.SealedSecret != nil {
		t.Error("the sealed reviewer JWT is still stored")
	}
	r = ts.do("PATCH", kubePath(id), ts.root, map[string]any{"tokenReviewerJwt": reviewer})
	if r.status != 200 || r.body["identityKubernetesAuth"].(map[string]any)["tokenReviewerJwtSet"] != true {
		t.Fatalf("patch a new reviewer: %d %s", r.status, r.raw)
	}

	// DELETE revokes the method and its tokens.
	if r := ts.do("GET", "/api/v1/auth/token/lookup", tok, nil); r.status != 200 {
		t.Fatalf("token before revoke: %d %s", r.status, r.raw)
	}
	r = ts.do("DELETE", kubePath(id), ts.root, nil)
	if r.status != 200 || r.body["identityKubernetesAuth"].(map[string]any)["id"] != got["id"] {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	types := map[any]bool{}
	for _, ev := range ts.auditEvents(ts.root)[:2] {
		types[ev["type"]] = true
	}
	if !types["auth-method.delete"] || !types["token.revoke"] {
		t.Errorf("delete audit events = %v, want auth-method.delete and token.revoke", types)
	}
	errorBodyOK(t, ts.do("GET", "/api/v1/auth/token/lookup", tok, nil), 401, "TokenRevoked")
	errorBodyOK(t, ts.do("GET", kubePath(id), ts.root, nil), 404, "NotFound")
	errorBodyOK(t, ts.kubeLogin(id, jwt), 401, "Unauthorized")
	// It can be attached again.
	ts.attachKube(id, kubeConfig(c, reviewer, nil))

	all := logs.String() + ts.do("GET", "/api/v1/audit-logs?limit=100", ts.root, nil).raw
	for name, s := range map[string]string{"reviewer JWT": reviewer, "login JWT": jwt, "access token": tok} {
		if strings.Contains(all, s) {
			t.Errorf("the %s reached the logs or the audit log", name)
		}
	}
}

// TestKubernetesAuthSealedToItsMethod: a sealed reviewer JWT copied to
// another method's row does not open there.
func TestKubernetesAuthSealedToItsMethod(t *testing.T) {
	ts := newTestServer(t)
	c := kubetest.New(t)
	a := ts.newKube(kubeConfig(c, c.ReviewerToken("kube-system", "r"), nil))
	b := ts.newKube(kubeConfig(c, "", map[string]any{"tokenReviewerJwt": nil}))
	ctx := context.Background()
	ma, _ := ts.srv.Store().GetAuthMethodByIdentity(ctx, a, store.AuthMethodKubernetes)
	mb, _ := ts.srv.Store().GetAuthMethodByIdentity(ctx, b, store.AuthMethodKubernetes)
	if _, err := ts.srv.Store().UpdateAuthMethod(ctx, mb.ID, func(m *store.AuthMethod) error {
		m.SealedSecret = ma.SealedSecret
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	errorBodyOK(t, ts.kubeLogin(b, c.Token("apps", "web")), 500, "InternalServerError")
	if r := ts.kubeLogin(a, c.Token("apps", "web")); r.status != 200 {
		t.Errorf("login on the original method: %d %s", r.status, r.raw)
	}
}

// TestKubernetesAuthBadInputChangesNothing: every range, format and rule
// error of attach, read, update and revoke, with the store unchanged.
func TestKubernetesAuthBadInputChangesNothing(t *testing.T) {
	ts := newTestServer(t)
	c := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	attached := ts.newKube(kubeConfig(c, reviewer, nil))
	bare := ts.createIdentity("bare", "admin")
	memberID := ts.createIdentity("member", "member")
	member := ts.tokenFor(memberID, store.TokenPolicy{})
	unknown := "7b0c3a0e-7a44-4c55-9f3e-2b8f7f1c0d11"
	gw := "0f5d3b0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
	cfg := func(extra map[string]any) map[string]any { return kubeConfig(c, reviewer, extra) }
	longJWT := strings.Repeat("a", 16<<10+1)

	cases := []struct {
		name, method, id string
		tok              string // "" = root
		body             any
		status           int
		errName, msg     string
	}{
		// Attach: schema (422).
		{"missing host", "POST", bare, "", cfg(map[string]any{"kubernetesHost": nil}), 422, "ValidationFailure", "kubernetesHost"},
		{"null host", "POST", bare, "", `{"kubernetesHost":null}`, 422, "ValidationFailure", "kubernetesHost"},
		{"empty host", "POST", bare, "", cfg(map[string]any{"kubernetesHost": ""}), 422, "ValidationFailure", "kubernetesHost"},
		{"http host", "POST", bare, "", cfg(map[string]any{"kubernetesHost": "http://kube.example.com"}), 422, "ValidationFailure", "https://"},
		{"host with user info", "POST", bare, "", cfg(map[string]any{"kubernetesHost": "https://u:p@kube.example.com"}), 422, "ValidationFailure", "user info"},
		{"host with query", "POST", bare, "", cfg(map[string]any{"kubernetesHost": "kube.example.com/?a=b"}), 422, "ValidationFailure", "query"},
		{"host with fragment", "POST", bare, "", cfg(map[string]any{"kubernetesHost": "kube.example.com#x"}), 422, "ValidationFailure", "fragment"},
		{"IPv6 without brackets", "POST", bare, "", cfg(map[string]any{"kubernetesHost": "fd00::1"}), 422, "ValidationFailure", "brackets"},
		{"bad port", "POST", bare, "", cfg(map[string]any{"kubernetesHost": "kube.example.com:99999"}), 422, "ValidationFailure", "port"},
		{"host wrong type", "POST", bare, "", cfg(map[string]any{"kubernetesHost": 5}), 422, "ValidationFailure", "kubernetesHost"},
		{"unknown field", "POST", bare, "", cfg(map[string]any{"kubernetesCaCert": "x"}), 422, "ValidationFailure", "unrecognized"},
		{"field in wrong case", "POST", bare, "", cfg(map[string]any{"KubernetesHost": "x"}), 422, "ValidationFailure", "unrecognized"},
		{"bad mode", "POST", bare, "", cfg(map[string]any{"tokenReviewMode": "proxy"}), 422, "ValidationFailure", `must be \"api\", \"gateway\" or \"local\"`},
		{"local mode without host", "POST", bare, "", cfg(map[string]any{"tokenReviewMode": "local", "kubernetesHost": nil}), 422, "ValidationFailure", "kubernetesHost"},
		{"gatewayId not a UUID", "POST", bare, "", cfg(map[string]any{"tokenReviewMode": "gateway", "gatewayId": "gw-1"}), 422, "ValidationFailure", "gatewayId"},
		{"CA not PEM", "POST", bare, "", cfg(map[string]any{"caCert": "not a certificate"}), 422, "ValidationFailure", "caCert"},
		{"CA a private key", "POST", bare, "", cfg(map[string]any{"caCert": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}), 422, "ValidationFailure", "CERTIFICATE"},
		{"verify not a bool", "POST", bare, "", cfg(map[string]any{"verifyTlsCertificate": "yes"}), 422, "ValidationFailure", "verifyTlsCertificate"},
		{"empty namespace entry", "POST", bare, "", cfg(map[string]any{"allowedNamespaces": "apps,,prod"}), 422, "ValidationFailure", "allowedNamespaces"},
		{"trailing comma", "POST", bare, "", cfg(map[string]any{"allowedNames": "web,"}), 422, "ValidationFailure", "allowedNames"},
		{"upper-case name", "POST", bare, "", cfg(map[string]any{"allowedNames": "Web"}), 422, "ValidationFailure", "allowedNames"},
		{"regex in list", "POST", bare, "", cfg(map[string]any{"allowedNamespaces": "app.?"}), 422, "ValidationFailure", "allowedNamespaces"},
		{"audience too long", "POST", bare, "", cfg(map[string]any{"allowedAudience": strings.Repeat("a", 1025)}), 422, "ValidationFailure", "allowedAudience"},
		{"reviewer JWT too long", "POST", bare, "", cfg(map[string]any{"tokenReviewerJwt": longJWT}), 422, "ValidationFailure", "tokenReviewerJwt"},
		{"TTL 0", "POST", bare, "", cfg(map[string]any{"accessTokenTTL": 0}), 422, "ValidationFailure", "accessTokenTTL"},
		{"TTL negative", "POST", bare, "", cfg(map[string]any{"accessTokenTTL": -1}), 422, "ValidationFailure", "accessTokenTTL"},
		{"TTL at the limit", "POST", bare, "", cfg(map[string]any{"accessTokenTTL": 315360000}), 422, "ValidationFailure", "accessTokenTTL"},
		{"TTL fractional", "POST", bare, "", cfg(map[string]any{"accessTokenTTL": 1.5}), 422, "ValidationFailure", "accessTokenTTL"},
		{"max TTL 0", "POST", bare, "", cfg(map[string]any{"accessTokenMaxTTL": 0}), 422, "ValidationFailure", "accessTokenMaxTTL"},
		{"max TTL at the limit", "POST", bare, "", cfg(map[string]any{"accessTokenMaxTTL": 315360000}), 422, "ValidationFailure", "accessTokenMaxTTL"},
		{"uses negative", "POST", bare, "", cfg(map[string]any{"accessTokenNumUsesLimit": -1}), 422, "ValidationFailure", "accessTokenNumUsesLimit"},
		{"no trusted IPs", "POST", bare, "", cfg(map[string]any{"accessTokenTrustedIps": []any{}}), 422, "ValidationFailure", "accessTokenTrustedIps"},
		{"bad trusted IP", "POST", bare, "", cfg(map[string]any{"accessTokenTrustedIps": []map[string]string{{"ipAddress": "10.0.0.0/33"}}}), 422, "ValidationFailure", "accessTokenTrustedIps.0.ipAddress"},
		{"period not offered", "POST", bare, "", cfg(map[string]any{"accessTokenPeriod": 60}), 422, "ValidationFailure", "unrecognized"},
		{"malformed JSON", "POST", bare, "", `{"kubernetesHost":`, 400, "BadRequest", "not valid JSON"},
		// Attach: rules across fields (400).
		{"TTL over max TTL", "POST", bare, "", cfg(map[string]any{"accessTokenTTL": 7200, "accessTokenMaxTTL": 3600}), 400, "BadRequest", "cannot be greater than max TTL"},
		{"CA with verification off", "POST", bare, "", cfg(map[string]any{"verifyTlsCertificate": false}), 400, "BadRequest", "cannot be disabled while a CA certificate is set"},
		{"verification without CA", "POST", bare, "", cfg(map[string]any{"caCert": nil, "verifyTlsCertificate": true}), 400, "BadRequest", "A CA certificate is required"},
		{"verification with empty CA", "POST", bare, "", cfg(map[string]any{"caCert": "", "verifyTlsCertificate": true}), 400, "BadRequest", "A CA certificate is required"},
		{"gateway and pool in api mode", "POST", bare, "", cfg(map[string]any{"gatewayId": gw, "gatewayPoolId": gw}), 400, "BadRequest", "exactly one of gatewayId and gatewayPoolId, not both"},
		{"relay through an unknown gateway", "POST", bare, "", cfg(map[string]any{"gatewayId": gw}), 400, "GatewayNotFound", "does not exist"},
		{"local mode through an unknown pool", "POST", bare, "", cfg(map[string]any{"tokenReviewMode": "local", "gatewayPoolId": gw}), 400, "GatewayNotFound", "does not exist"},
		{"local mode without CA or explicit skip", "POST", bare, "", cfg(map[string]any{"tokenReviewMode": "local", "caCert": nil}), 400, "BadRequest", "TLS verification is on by default"},
		{"gateway mode without gateway", "POST", bare, "", cfg(map[string]any{"tokenReviewMode": "gateway"}), 400, "BadRequest", "exactly one of gatewayId and gatewayPoolId"},
		{"gateway mode with both", "POST", bare, "", cfg(map[string]any{"tokenReviewMode": "gateway", "gatewayId": gw, "gatewayPoolId": gw}), 400, "BadRequest", "exactly one"},
		{"already attached", "POST", attached, "", cfg(nil), 400, "BadRequest", "already configured identity"},
		// Who and which identity.
		{"unknown identity", "POST", unknown, "", cfg(nil), 404, "NotFound", "not found"},
		{"non-UUID identity", "POST", "abc", "", cfg(nil), 422, "ValidationFailure", "identityId"},
		{"member attaches", "POST", bare, member, cfg(nil), 403, "PermissionDenied", "admin role"},
		{"no token", "POST", bare, "-", cfg(nil), 401, "Unauthorized", "no access token"},
		{"member reads", "GET", attached, member, nil, 403, "PermissionDenied", "admin role"},
		{"member updates", "PATCH", attached, member, `{}`, 403, "PermissionDenied", "admin role"},
		{"member revokes", "DELETE", attached, member, nil, 403, "PermissionDenied", "admin role"},
		{"get unknown identity", "GET", unknown, "", nil, 404, "NotFound", "Identity with ID"},
		{"get without Kubernetes Auth", "GET", bare, "", nil, 404, "NotFound", "does not have Kubernetes Auth attached"},
		{"get non-UUID", "GET", "abc", "", nil, 422, "ValidationFailure", "identityId"},
		{"patch without Kubernetes Auth", "PATCH", bare, "", `{"allowedNames":"x"}`, 404, "NotFound", "does not have Kubernetes Auth"},
		{"patch unknown identity", "PATCH", unknown, "", `{}`, 404, "NotFound", "Identity with ID"},
		{"delete without Kubernetes Auth", "DELETE", bare, "", nil, 404, "NotFound", "does not have Kubernetes Auth"},
		{"delete unknown identity", "DELETE", unknown, "", nil, 404, "NotFound", "Identity with ID"},
		// Update: schema and rules.
		{"patch TTL over the limit", "PATCH", attached, "", `{"accessTokenTTL":315360001}`, 422, "ValidationFailure", "accessTokenTTL"},
		{"patch TTL negative", "PATCH", attached, "", `{"accessTokenTTL":-1}`, 422, "ValidationFailure", "accessTokenTTL"},
		{"patch max TTL over the limit", "PATCH", attached, "", `{"accessTokenMaxTTL":315360001}`, 422, "ValidationFailure", "accessTokenMaxTTL"},
		{"patch uses negative", "PATCH", attached, "", `{"accessTokenNumUsesLimit":-5}`, 422, "ValidationFailure", "accessTokenNumUsesLimit"},
		{"patch no trusted IPs", "PATCH", attached, "", `{"accessTokenTrustedIps":[]}`, 422, "ValidationFailure", "accessTokenTrustedIps"},
		{"patch TTL over max TTL", "PATCH", attached, "", `{"accessTokenTTL":7200,"accessTokenMaxTTL":3600}`, 400, "BadRequest", "cannot be greater than max TTL"},
		{"patch unknown field", "PATCH", attached, "", `{"id":"x"}`, 422, "ValidationFailure", "unrecognized"},
		{"patch bad host", "PATCH", attached, "", `{"kubernetesHost":"ftp://x"}`, 422, "ValidationFailure", "https://"},
		{"patch host null in api mode", "PATCH", attached, "", `{"kubernetesHost":null}`, 400, "BadRequest", "kubernetesHost is required"},
		{"patch to local mode, host null", "PATCH", attached, "", `{"tokenReviewMode":"local","kubernetesHost":null}`, 400, "BadRequest", `kubernetesHost is required when tokenReviewMode is \"local\"`},
		{"patch bad list", "PATCH", attached, "", `{"allowedNamespaces":"a b"}`, 422, "ValidationFailure", "allowedNamespaces"},
		{"patch to gateway without gateway", "PATCH", attached, "", `{"tokenReviewMode":"gateway"}`, 400, "BadRequest", "exactly one"},
		{"patch several schema errors at once", "PATCH", attached, "", `{"accessTokenTTL":-1,"caCert":"x","allowedNames":","}`, 422, "ValidationFailure", "caCert"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := ts.root
			switch tc.tok {
			case "-":
				tok = ""
			case "":
			default:
				tok = tc.tok
			}
			before := ts.kubeState(attached) + ts.kubeState(bare) + ts.snapshot()
			r := ts.do(tc.method, kubePath(tc.id), tok, tc.body)
			errorBodyOK(t, r, tc.status, tc.errName)
			if !strings.Contains(r.raw, tc.msg) {
				t.Errorf("body %s does not mention %q", r.raw, tc.msg)
			}
			if after := ts.kubeState(attached) + ts.kubeState(bare) + ts.snapshot(); after != before {
				t.Error("the store changed")
			}
			if strings.Contains(r.raw, reviewer) {
				t.Error("the reviewer JWT is in an answer")
			}
		})
	}
}

// TestKubernetesAuthPatchTLSRules runs every combination of caCert
// (omitted, "", a PEM) and verifyTlsCertificate (omitted, true, false)
// from both stored states the contract allows (a CA with verification on;
// no CA with verification off).
func TestKubernetesAuthPatchTLSRules(t *testing.T) {
	ts := newTestServer(t)
	c := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	pem := c.CAPEM()
	type state struct {
		ca     string
		verify bool
	}
	verified, unverified := state{pem, true}, state{"", false}
	const (
		omit = iota
		empty
		givenPEM
	)
	type tri int // verifyTlsCertificate: omitted, true, false
	const (
		vOmit tri = iota
		vTrue
		vFalse
	)
	cases := []struct {
		from   state
		ca     int
		verify tri
		want   *state // nil: 400
	}{
		{verified, omit, vOmit, &verified},
		{verified, omit, vTrue, &verified},
		{verified, omit, vFalse, nil}, // the stored CA would remain with verification off
		{verified, empty, vOmit, nil}, // the kept verification would have no CA
		{verified, empty, vTrue, nil},
		{verified, empty, vFalse, &unverified},
		{verified, givenPEM, vOmit, &verified},
		{verified, givenPEM, vTrue, &verified},
		{verified, givenPEM, vFalse, nil},
		{unverified, omit, vOmit, &unverified},
		{unverified, omit, vTrue, nil},
		{unverified, omit, vFalse, &unverified},
		{unverified, empty, vOmit, &unverified},
		{unverified, empty, vTrue, nil},
		{unverified, empty, vFalse, &unverified},
		{unverified, givenPEM, vOmit, &verified}, // a CA promotes verification to on
		{unverified, givenPEM, vTrue, &verified},
		{unverified, givenPEM, vFalse, nil},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("from verify=%v caCert=%v verify=%v", tc.from.verify, []string{"omitted", `""`, "PEM"}[tc.ca], []string{"omitted", "true", "false"}[tc.verify])
		t.Run(name, func(t *testing.T) {
			attach := kubeConfig(c, reviewer, map[string]any{"caCert": tc.from.ca, "verifyTlsCertificate": tc.from.verify})
			id := ts.newKube(attach)
			body := map[string]any{}
			switch tc.ca {
			case empty:
				body["caCert"] = ""
			case givenPEM:
				body["caCert"] = pem
			}
			switch tc.verify {
			case vTrue:
				body["verifyTlsCertificate"] = true
			case vFalse:
				body["verifyTlsCertificate"] = false
			}
			before := ts.kubeState(id)
			r := ts.do("PATCH", kubePath(id), ts.root, body)
			if tc.want == nil {
				errorBodyOK(t, r, 400, "BadRequest")
				if !strings.Contains(r.raw, "CA certificate") {
					t.Errorf("message does not explain the TLS rule: %s", r.raw)
				}
				if ts.kubeState(id) != before {
					t.Error("the store changed")
				}
				return
			}
			if r.status != 200 {
				t.Fatalf("patch: %d %s", r.status, r.raw)
			}
			got := ts.do("GET", kubePath(id), ts.root, nil).body["identityKubernetesAuth"].(map[string]any)
			if got["caCert"] != tc.want.ca || got["verifyTlsCertificate"] != tc.want.verify {
				t.Errorf("stored caCert set %v verify %v, want CA set %v verify %v", got["caCert"] != "", got["verifyTlsCertificate"], tc.want.ca != "", tc.want.verify)
			}
		})
	}
	// Attach: a CA turns verification on. Unlike Infisical, which silently
	// skips verification when no CA is given, Gatehouse makes the caller
	// turn it off explicitly (secure by default).
	noCA := ts.createIdentity("x", "member")
	r := ts.do("POST", kubePath(noCA), ts.root, kubeConfig(c, reviewer, map[string]any{"caCert": nil}))
	errorBodyOK(t, r, 400, "BadRequest")
	if !strings.Contains(r.raw, "verifyTlsCertificate=false") || !strings.Contains(r.raw, "caCert") {
		t.Errorf("attach without CA: message does not say how to fix it: %s", r.raw)
	}
	if r := ts.do("GET", kubePath(noCA), ts.root, nil); r.status != 404 {
		t.Errorf("attach without CA left a config behind: %d %s", r.status, r.raw)
	}
	if got := ts.attachKube(noCA, kubeConfig(c, reviewer, map[string]any{"caCert": nil, "verifyTlsCertificate": false})); got["verifyTlsCertificate"] != false {
		t.Errorf("attach with verification off: verify = %v", got["verifyTlsCertificate"])
	}
	if got := ts.attachKube(ts.createIdentity("y", "member"), kubeConfig(c, reviewer, nil)); got["verifyTlsCertificate"] != true {
		t.Errorf("attach with CA: verify = %v", got["verifyTlsCertificate"])
	}
}

// TestKubernetesAuthProbe: attach and connection changes are checked
// against the API server when a reviewer JWT is set; a failed check says
// exactly what is wrong and changes nothing.
func TestKubernetesAuthProbe(t *testing.T) {
	ts := newTestServerWith(t, server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"), KubeTimeout: 2 * time.Second})
	c := kubetest.New(t)
	other := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	refused := refusedAddr(t)
	cases := []struct {
		name    string
		extra   map[string]any
		errName string
		msg     string
	}{
		{"host unreachable", map[string]any{"kubernetesHost": refused}, "KubernetesConnectionRefused", "was refused"},
		{"host not found", map[string]any{"kubernetesHost": "gatehouse-probe.invalid:6443"}, "KubernetesHostNotFound", "was not found"},
		{"wrong CA", map[string]any{"caCert": other.CAPEM()}, "KubernetesCertificateError", "TLS certificate verification"},
		{"reviewer expired", map[string]any{"tokenReviewerJwt": c.Token("kube-system", "r", kubetest.ExpiresIn(-time.Hour))}, "KubernetesTokenReviewError", "token reviewer JWT is invalid or expired"},
		{"reviewer of another cluster", map[string]any{"tokenReviewerJwt": other.ReviewerToken("kube-system", "r")}, "KubernetesTokenReviewError", "invalid or expired"},
		{"reviewer without auth-delegator", map[string]any{"tokenReviewerJwt": c.Token("kube-system", "plain")}, "KubernetesTokenReviewError", "lacks the system:auth-delegator"},
	}
	id := ts.createIdentity("probe", "member")
	for _, tc := range cases {
		t.Run("attach/"+tc.name, func(t *testing.T) {
			r := ts.do("POST", kubePath(id), ts.root, kubeConfig(c, reviewer, tc.extra))
			errorBodyOK(t, r, 400, tc.errName)
			if !strings.Contains(r.raw, tc.msg) || !strings.Contains(r.raw, "nothing was changed") {
				t.Errorf("body %s does not say %q", r.raw, tc.msg)
			}
			if !strings.HasPrefix(ts.kubeState(id), "none") {
				t.Error("a method was stored")
			}
		})
	}
	ts.attachKube(id, kubeConfig(c, reviewer, nil))
	for _, tc := range cases {
		t.Run("patch/"+tc.name, func(t *testing.T) {
			before := ts.kubeState(id)
			r := ts.do("PATCH", kubePath(id), ts.root, tc.extra)
			errorBodyOK(t, r, 400, tc.errName)
			if !strings.Contains(r.raw, tc.msg) {
				t.Errorf("body %s does not say %q", r.raw, tc.msg)
			}
			if ts.kubeState(id) != before {
				t.Error("the store changed")
			}
		})
	}
	// Changes that do not touch the connection are not probed; without a
	// reviewer JWT nothing is probed.
	n := c.TokenReviewCount()
	if r := ts.do("PATCH", kubePath(id), ts.root, map[string]any{"accessTokenTTL": 60, "allowedNames": "x"}); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	ts.attachKube(ts.createIdentity("no-reviewer", "member"), kubeConfig(c, "", map[string]any{"kubernetesHost": refused, "tokenReviewerJwt": nil}))
	if c.TokenReviewCount() != n {
		t.Error("a probe ran for a change that needs none")
	}
	if r := ts.do("PATCH", kubePath(id), ts.root, map[string]any{"tokenReviewerJwt": c.ReviewerToken("kube-system", "r2")}); r.status != 200 || c.TokenReviewCount() != n+1 {
		t.Errorf("a new reviewer JWT: %d, %d probes", r.status, c.TokenReviewCount()-n)
	}
}

func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestKubernetesLogin: an allowed service account logs in and its token
// records who it is; every kind of failure is a 401 (422 for a bad body)
// with no token issued and an audit record of the true reason.
func TestKubernetesLogin(t *testing.T) {
	ts := newTestServer(t)
	c := kubetest.New(t)
	other := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	id := ts.newKube(kubeConfig(c, reviewer, map[string]any{"allowedAudience": "gatehouse", "accessTokenTTL": 900}))
	pod := c.CreatePod("apps", "web-0", "web")
	sa, _ := c.ServiceAccount("apps", "web")

	jwt := c.Token("apps", "web", kubetest.Audiences("gatehouse"), kubetest.BoundToPod(pod))
	r := ts.do("POST", kubeBase+"/login", "", map[string]any{"identityId": id, "jwt": jwt + "\n", "organizationSlug": "my-org"})
	if r.status != 200 || r.body["expiresIn"] != 900.0 || r.body["tokenType"] != "Bearer" {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	tok := r.body["accessToken"].(string)
	look := ts.do("GET", "/api/v1/auth/token/lookup", tok, nil)
	if look.status != 200 {
		t.Fatalf("lookup: %d %s", look.status, look.raw)
	}
	rec := look.body["token"].(map[string]any)
	md := rec["metadata"].(map[string]any)
	if rec["identityId"] != id || rec["authMethod"] != "kubernetes-auth" || md["service_account_namespace"] != "apps" ||
		md["service_account_name"] != "web" || md["service_account_uid"] != sa.UID || md["pod_name"] != "web-0" || md["pod_uid"] != pod.UID {
		t.Errorf("token record = %s", look.raw)
	}
	// A member token works on an authenticated endpoint.
	if r := ts.do("GET", "/api/v1/identities/"+id, tok, nil); r.status != 200 {
		t.Errorf("member reading its identity: %d %s", r.status, r.raw)
	}
	ev := ts.lastAudit()
	if ev["type"] != "login" || ev["success"] != true || ev["identityId"] != id || ev["authMethod"] != "kubernetes-auth" ||
		ev["details"].(map[string]any)["service_account_uid"] != sa.UID || ev["details"].(map[string]any)["pod_name"] != "web-0" || ev["ipAddress"] == "" {
		t.Errorf("success audit event = %v", ev)
	}
	if call, _ := c.LastTokenReview(); call.Bearer != reviewer || call.Token != jwt || len(call.Audiences) != 1 || call.Audiences[0] != "gatehouse" {
		t.Errorf("TokenReview: bearer is reviewer %v, token is jwt %v, audiences %v", call.Bearer == reviewer, call.Token == jwt, call.Audiences)
	}

	bare := ts.createIdentity("bare", "member")
	revoked := ts.newKube(kubeConfig(c, reviewer, nil))
	if r := ts.do("DELETE", kubePath(revoked), ts.root, nil); r.status != 200 {
		t.Fatal(r.raw)
	}
	noPerm := ts.newKube(kubeConfig(c, c.ReviewerToken("kube-system", "losing-rights"), nil))
	c.RevokeAuthDelegator("kube-system", "losing-rights")
	deleted := c.Token("apps", "web-deleted", kubetest.Audiences("gatehouse"))
	c.DeleteServiceAccount("apps", "web-deleted")
	good := func(opts ...kubetest.TokenOption) string {
		return c.Token("apps", "web", append([]kubetest.TokenOption{kubetest.Audiences("gatehouse")}, opts...)...)
	}
	ts.liveTokens(id)

	cases := []struct {
		name    string
		id      string
		body    any // nil: {identityId: id, jwt: jwt}
		jwt     string
		status  int
		errName string
		msg     string
		reason  string // in the audit event; "" = not audited (bad body)
	}{
		{"wrong namespace", id, nil, c.Token("prod", "web", kubetest.Audiences("gatehouse")), 401, "Unauthorized", `namespace \"prod\" is not allowed`, `namespace "prod"`},
		{"wrong name", id, nil, c.Token("apps", "db", kubetest.Audiences("gatehouse")), 401, "Unauthorized", `name \"db\" is not allowed`, `name "db"`},
		{"wrong audience", id, nil, c.Token("apps", "web", kubetest.Audiences("vault")), 401, "KubernetesTokenReviewError", "token audiences", "token audiences"},
		{"default audience only", id, nil, c.Token("apps", "web"), 401, "KubernetesTokenReviewError", "token audiences", "is invalid for the target audiences"},
		{"expired token", id, nil, good(kubetest.ExpiresIn(-2 * time.Minute)), 401, "KubernetesTokenReviewError", "service account token has expired", "expired"},
		{"deleted service account", id, nil, deleted, 401, "KubernetesTokenReviewError", "not found", `serviceaccounts "web-deleted" not found`},
		{"token of another cluster", id, nil, other.Token("apps", "web", kubetest.Audiences("gatehouse")), 401, "KubernetesTokenReviewError", "invalid bearer token", "invalid bearer token"},
		{"reviewer without permission", noPerm, nil, c.Token("apps", "web"), 401, "KubernetesTokenReviewError", "lacks the system:auth-delegator ClusterRole binding", "token reviewer JWT"},
		{"malformed JWT", id, nil, "not.a.jwt", 401, "KubernetesJwtMalformed", "not a well-formed JWT", "not a well-formed JWT"},
		{"JWT with two parts", id, nil, "abc.def", 401, "KubernetesJwtMalformed", "2 dot-separated parts", "2 dot-separated parts"},
		{"unknown identity", "7b0c3a0e-7a44-4c55-9f3e-2b8f7f1c0d11", nil, good(), 401, "Unauthorized", "does not exist or has no Kubernetes Auth", "no Kubernetes Auth is attached"},
		{"identity without Kubernetes Auth", bare, nil, good(), 401, "Unauthorized", "does not exist or has no Kubernetes Auth", "no Kubernetes Auth is attached"},
		{"revoked method", revoked, nil, good(), 401, "Unauthorized", "does not exist or has no Kubernetes Auth", "no Kubernetes Auth is attached"},
		{"non-UUID identity", "abc", nil, good(), 422, "ValidationFailure", "identityId", "identityId must be a UUID"},
		{"missing jwt", id, map[string]any{"identityId": id}, "", 422, "ValidationFailure", "jwt", "jwt Required"},
		{"jwt over 16 KiB", id, nil, strings.Repeat("a", 16<<10+1), 422, "ValidationFailure", "at most 16384 bytes", "at most 16384"},
		{"unknown field", id, map[string]any{"identityId": id, "jwt": "x", "role": "admin"}, "", 422, "ValidationFailure", "unrecognized", ""},
		{"jwt not a string", id, map[string]any{"identityId": id, "jwt": 5}, "", 422, "ValidationFailure", "jwt", ""},
	}
	var unknownMsg, bareMsg string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if body == nil {
				body = map[string]any{"identityId": tc.id, "jwt": tc.jwt}
			}
			before := ts.lastAudit()["id"]
			r := ts.do("POST", kubeBase+"/login", "", body)
			errorBodyOK(t, r, tc.status, tc.errName)
			if !strings.Contains(r.raw, tc.msg) {
				t.Errorf("body %s does not say %q", r.raw, tc.msg)
			}
			if _, ok := r.body["accessToken"]; ok {
				t.Error("an access token was returned")
			}
			if n := ts.liveTokens(tc.id); n != 0 {
				t.Errorf("%d tokens issued", n)
			}
			ev := ts.lastAudit()
			if tc.reason == "" {
				if ev["id"] != before {
					t.Errorf("a bad body was audited: %v", ev)
				}
			} else if ev["id"] == before || ev["type"] != "login" || ev["success"] != false || ev["authMethod"] != "kubernetes-auth" ||
				!strings.Contains(ev["reason"].(string), tc.reason) {
				t.Errorf("audit event %v, want a failed login with reason %q", ev, tc.reason)
			}
			switch tc.name {
			case "unknown identity":
				unknownMsg = r.body["message"].(string)
			case "identity without Kubernetes Auth":
				bareMsg = r.body["message"].(string)
			}
			if tc.jwt != "" && len(tc.jwt) > 20 && strings.Contains(ts.do("GET", "/api/v1/audit-logs?limit=5", ts.root, nil).raw, tc.jwt) {
				t.Error("the audit log holds the login JWT")
			}
		})
	}
	if unknownMsg == "" || unknownMsg != bareMsg {
		t.Errorf("an unknown identity (%q) and one without Kubernetes Auth (%q) must be answered alike", unknownMsg, bareMsg)
	}
}

// TestKubernetesLoginWithoutReviewer: with no reviewer JWT the login JWT
// is the TokenReview bearer, so it needs system:auth-delegator itself.
func TestKubernetesLoginWithoutReviewer(t *testing.T) {
	ts := newTestServer(t)
	c := kubetest.New(t)
	id := ts.newKube(kubeConfig(c, "", map[string]any{"tokenReviewerJwt": nil}))
	jwt := c.Token("apps", "web")
	r := ts.kubeLogin(id, jwt)
	errorBodyOK(t, r, 401, "KubernetesTokenReviewError")
	if !strings.Contains(r.raw, "lacks the system:auth-delegator ClusterRole binding") || !strings.Contains(r.raw, "to the login JWT") {
		t.Errorf("message does not name the login JWT as the bearer: %s", r.raw)
	}
	c.GrantAuthDelegator("apps", "web")
	if r := ts.kubeLogin(id, jwt); r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	call, ok := c.LastTokenReview()
	if !ok || call.Bearer != jwt || call.Token != jwt {
		t.Error("the login JWT was not the TokenReview bearer")
	}
}

// TestKubernetesLoginTLS: a CA that did not sign the API server's
// certificate, or a self-signed server, fails with a clear TLS message;
// verifyTlsCertificate=false works without a CA.
func TestKubernetesLoginTLS(t *testing.T) {
	ts := newTestServer(t)
	c := kubetest.New(t)
	other := kubetest.New(t)
	c.GrantAuthDelegator("apps", "web")
	jwt := c.Token("apps", "web")
	selfSigned := httptest.NewUnstartedServer(http.NotFoundHandler())
	selfSigned.Config.ErrorLog = log.New(io.Discard, "", 0)
	selfSigned.StartTLS()
	t.Cleanup(selfSigned.Close)
	noReviewer := map[string]any{"tokenReviewerJwt": nil}
	with := func(extra map[string]any) map[string]any {
		for k, v := range noReviewer {
			extra[k] = v
		}
		return kubeConfig(c, "", extra)
	}

	for _, tc := range []struct {
		name string
		cfg  map[string]any
	}{
		{"wrong CA", with(map[string]any{"caCert": other.CAPEM()})},
		{"self-signed server", with(map[string]any{"kubernetesHost": selfSigned.URL})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.kubeLogin(ts.newKube(tc.cfg), jwt)
			errorBodyOK(t, r, 502, "KubernetesCertificateError")
			if !strings.Contains(r.raw, "TLS certificate verification of the Kubernetes API server") || !strings.Contains(r.raw, "set caCert") {
				t.Errorf("unclear TLS message: %s", r.raw)
			}
		})
	}
	t.Run("verification off", func(t *testing.T) {
		id := ts.newKube(with(map[string]any{"caCert": nil, "verifyTlsCertificate": false}))
		if r := ts.kubeLogin(id, jwt); r.status != 200 {
			t.Fatalf("login: %d %s", r.status, r.raw)
		}
	})
}

// TestKubernetesLoginBrokenAPIServer: unreachable, slow and broken API
// servers give the documented 502 within the timeout (3 s: generous, so that only the slow case times out on a loaded machine), and the server goes
// on serving.
func TestKubernetesLoginBrokenAPIServer(t *testing.T) {
	ts := newTestServerWith(t, server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"), KubeTimeout: 3 * time.Second})
	c := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	id := ts.newKube(kubeConfig(c, reviewer, nil))
	jwt := c.Token("apps", "web")
	unreachable := ts.newKube(kubeConfig(c, "", map[string]any{"kubernetesHost": refusedAddr(t), "tokenReviewerJwt": nil}))
	unknownHost := ts.newKube(kubeConfig(c, "", map[string]any{"kubernetesHost": "gatehouse-login.invalid", "tokenReviewerJwt": nil}))

	cases := []struct {
		name    string
		id      string
		fault   func()
		errName string
		msg     string
	}{
		{"unreachable", unreachable, nil, "KubernetesConnectionRefused", "was refused"},
		{"host not found", unknownHost, nil, "KubernetesHostNotFound", "was not found"},
		{"slow", id, func() { c.SetLatency(time.Hour) }, "KubernetesConnectionTimeout", "did not answer within 3s"},
		{"500", id, func() { c.FailAll(kubetest.FaultInternalError) }, "KubernetesApiError", "HTTP 500"},
		{"429", id, func() { c.FailAll(kubetest.FaultTooManyRequests) }, "KubernetesApiError", "HTTP 429"},
		{"garbage", id, func() { c.FailAll(kubetest.FaultGarbage) }, "KubernetesApiError", "not a TokenReview"},
		{"dropped connection", id, func() { c.FailAll(kubetest.FaultDrop) }, "KubernetesApiError", "failed before an answer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(c.ClearFaults)
			if tc.fault != nil {
				tc.fault()
			}
			r := ts.kubeLogin(tc.id, jwt)
			errorBodyOK(t, r, 502, tc.errName)
			if !strings.Contains(r.raw, tc.msg) {
				t.Errorf("body %s does not say %q", r.raw, tc.msg)
			}
			if ev := ts.lastAudit(); ev["success"] != false || !strings.Contains(ev["reason"].(string), tc.msg) {
				t.Errorf("audit event = %v", ev)
			}
			if r := ts.do("GET", "/healthz", "", nil); r.status != 200 {
				t.Errorf("healthz after the failure: %d", r.status)
			}
		})
	}
	if r := ts.kubeLogin(id, jwt); r.status != 200 {
		t.Errorf("login once the API server is healthy again: %d %s", r.status, r.raw)
	}
}

// TestKubernetesLoginSlowClusterDoesNotBlockOthers: while one login waits
// on a hanging API server, logins against another cluster and other
// requests are served.
func TestKubernetesLoginSlowClusterDoesNotBlockOthers(t *testing.T) {
	ts := newTestServerWith(t, server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"), KubeTimeout: time.Minute})
	slow := kubetest.New(t)
	fast := kubetest.New(t)
	slowID := ts.newKube(kubeConfig(slow, slow.ReviewerToken("kube-system", "r"), nil))
	fastID := ts.newKube(kubeConfig(fast, fast.ReviewerToken("kube-system", "r"), nil))
	slowJWT, fastJWT := slow.Token("apps", "web"), fast.Token("apps", "web")
	slow.SetLatency(time.Hour)
	requests, reviews := slow.RequestCount(), slow.TokenReviewCount() // the attach probe's

	done := make(chan result, 1)
	go func() { done <- ts.kubeLogin(slowID, slowJWT) }()
	// Wait (without sleeping) until the slow cluster holds the request.
	for slow.RequestCount() == requests {
		runtime.Gosched()
	}
	for range 3 {
		if r := ts.kubeLogin(fastID, fastJWT); r.status != 200 {
			t.Fatalf("login on the healthy cluster: %d %s", r.status, r.raw)
		}
		if r := ts.do("GET", "/healthz", "", nil); r.status != 200 {
			t.Fatalf("healthz: %d", r.status)
		}
	}
	if slow.TokenReviewCount() != reviews {
		t.Fatal("the slow review ended before the other requests were served")
	}
	slow.Close() // ends the held request
	r := <-done
	errorBodyOK(t, r, 502, "")
}

// TestKubernetesAuthGatewayMode: the gateway setting is stored and shown;
// login says plainly that gateway review is not available.
func TestKubernetesAuthGatewayMode(t *testing.T) {
	ts := newTestServer(t)
	c := kubetest.New(t)
	gw := "0f5d3b0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
	id := ts.createIdentity("gw", "member")
	got := ts.attachKube(id, map[string]any{"tokenReviewMode": "gateway", "gatewayId": gw})
	if got["tokenReviewMode"] != "gateway" || got["gatewayId"] != gw || got["kubernetesHost"] != nil || got["verifyTlsCertificate"] != false {
		t.Errorf("attach = %v", got)
	}
	r := ts.kubeLogin(id, c.Token("apps", "web"))
	errorBodyOK(t, r, 400, "GatewayNotFound")
	if !strings.Contains(r.raw, "does not exist") {
		t.Errorf("body = %s", r.raw)
	}
	if ev := ts.lastAudit(); ev["success"] != false || !strings.Contains(ev["reason"].(string), "gateway") {
		t.Errorf("audit = %v", ev)
	}
	// Switching to api mode needs a host and drops the gateway.
	errorBodyOK(t, ts.do("PATCH", kubePath(id), ts.root, map[string]any{"tokenReviewMode": "api"}), 400, "BadRequest")
	r = ts.do("PATCH", kubePath(id), ts.root, map[string]any{"tokenReviewMode": "api", "gatewayId": nil, "kubernetesHost": c.Host(), "caCert": c.CAPEM()})
	if r.status != 200 || r.body["identityKubernetesAuth"].(map[string]any)["gatewayId"] != nil {
		t.Fatalf("switch to api: %d %s", r.status, r.raw)
	}
	c.GrantAuthDelegator("apps", "web")
	if r := ts.kubeLogin(id, c.Token("apps", "web")); r.status != 200 {
		t.Errorf("login in api mode: %d %s", r.status, r.raw)
	}
}

// BenchmarkKubernetesLogin is the whole login path over HTTP: decode,
// store lookup, unseal, TokenReview against the test cluster (TLS, pooled
// connection), judge, issue, audit.
func BenchmarkKubernetesLogin(b *testing.B) {
	c := kubetest.New(b)
	var out bytes.Buffer
	srv, err := server.New(context.Background(), server.Config{Storage: "sqlite://" + filepath.Join(b.TempDir(), "g.db"), Out: &out})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(func() { hs.Close(); srv.Close() })
	var root string
	for _, line := range strings.Split(out.String(), "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "gth_") {
			root = l
		}
	}
	post := func(path, tok string, body any) map[string]any {
		js, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", hs.URL+path, bytes.NewReader(js))
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := hs.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d %v", path, resp.StatusCode, m)
		}
		return m
	}
	id := post("/api/v1/identities", root, map[string]any{"name": "bench", "role": "no-access"})["identity"].(map[string]any)["id"].(string)
	post(kubePath(id), root, kubeConfig(c, c.ReviewerToken("kube-system", "r"), nil))
	login := map[string]any{"identityId": id, "jwt": c.Token("apps", "web", kubetest.ExpiresIn(24*time.Hour))}
	b.ReportAllocs()
	for b.Loop() {
		post(kubeBase+"/login", "", login)
	}
}
