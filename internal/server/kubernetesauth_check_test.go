package server_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func testConnectionPath(identityID string) string { return kubePath(identityID) + "/test-connection" }

// TestKubernetesAuthTestConnection: the test-connection route runs the
// attach check on the stored configuration and answers 200 with ok, the
// problem and its fix; request errors (not admin, unknown identity, no
// Kubernetes Auth) are the API's errors; every test is audited, without
// the reviewer JWT.
func TestKubernetesAuthTestConnection(t *testing.T) {
	ts := newTestServerWith(t, server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"), KubeTimeout: 2 * time.Second})
	c := kubetest.New(t)
	other := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	good := ts.newKube(kubeConfig(c, reviewer, nil))
	losing := ts.newKube(kubeConfig(c, c.ReviewerToken("kube-system", "losing"), nil))
	c.RevokeAuthDelegator("kube-system", "losing")
	// Without a reviewer JWT nothing is probed on attach, so broken
	// connections can be stored.
	noReviewer := func(extra map[string]any) map[string]any {
		return kubeConfig(c, "", withFields(map[string]any{"tokenReviewerJwt": nil}, extra))
	}
	unreachable := ts.newKube(noReviewer(map[string]any{"kubernetesHost": refusedAddr(t)}))
	badCA := ts.newKube(noReviewer(map[string]any{"caCert": other.CAPEM()}))
	bare := ts.newKube(noReviewer(nil))

	cases := []struct {
		name    string
		id      string
		problem any // nil when ok
		msg     string
		warning bool
	}{
		{"reachable and authorized", good, nil, "may create TokenReviews", false},
		{"reviewer lacks auth-delegator", losing, "reviewer-forbidden", "lacks the system:auth-delegator", false},
		{"unreachable", unreachable, "unreachable", "was refused", false},
		{"bad CA", badCA, "tls-untrusted", "TLS certificate verification", false},
		{"no reviewer", bare, nil, "reached and trusted", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.kubeState(tc.id)
			r := ts.do("POST", testConnectionPath(tc.id), ts.root, nil)
			if r.status != 200 {
				t.Fatalf("test connection: %d %s", r.status, r.raw)
			}
			got := r.body["connectionTest"].(map[string]any)
			msg, _ := got["message"].(string)
			if got["ok"] != (tc.problem == nil) || got["problem"] != tc.problem || !strings.Contains(msg, tc.msg) ||
				(got["warning"] != nil) != tc.warning || got["tokenReviewMode"] != "api" || got["checked"] == "" || got["checkedAt"] == nil {
				t.Errorf("connectionTest = %s; want problem %v, message containing %q", r.raw, tc.problem, tc.msg)
			}
			if strings.Contains(r.raw, reviewer) {
				t.Error("the answer holds the reviewer JWT")
			}
			if ts.kubeState(tc.id) != before {
				t.Error("a test changed the stored configuration")
			}
			ev := ts.lastAudit()
			d := ev["details"].(map[string]any)
			if ev["type"] != "auth-method.check" || ev["success"] != (tc.problem == nil) || ev["identityId"] != tc.id ||
				ev["authMethod"] != "kubernetes-auth" || (tc.problem != nil && d["problem"] != tc.problem) {
				t.Errorf("audit event = %v", ev)
			}
			if tc.problem != nil && !strings.Contains(ev["reason"].(string), tc.msg) {
				t.Errorf("audit reason = %v", ev["reason"])
			}
		})
	}
	if r := ts.do("GET", "/api/v1/audit-logs?limit=100", ts.root, nil); strings.Contains(r.raw, reviewer) {
		t.Error("the audit log holds the reviewer JWT")
	}

	member := ts.tokenFor(ts.createIdentity("member", "member"), store.TokenPolicy{})
	noKube := ts.createIdentity("no-kube", "member")
	n := c.TokenReviewCount()
	errorBodyOK(t, ts.do("POST", testConnectionPath(good), member, nil), 403, "PermissionDenied")
	errorBodyOK(t, ts.do("POST", testConnectionPath(good), "", nil), 401, "")
	errorBodyOK(t, ts.do("POST", testConnectionPath("0f5d3b0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"), ts.root, nil), 404, "")
	errorBodyOK(t, ts.do("POST", testConnectionPath(noKube), ts.root, nil), 404, "")
	errorBodyOK(t, ts.do("POST", testConnectionPath("not-a-uuid"), ts.root, nil), 422, "ValidationFailure")
	if c.TokenReviewCount() != n {
		t.Error("a refused request reached the cluster")
	}
}

// TestKubernetesAuthTestConnectionGateway: in gateway mode the test goes
// through the gateway; a gateway that is not connected, or whose service
// account may not review, is a named problem.
func TestKubernetesAuthTestConnectionGateway(t *testing.T) {
	e := startGatewayEnv(t, server.Config{})
	test := func(id string) map[string]any {
		t.Helper()
		status, body := e.ls.call("POST", testConnectionPath(id), e.ls.root, nil)
		if status != 200 {
			t.Fatalf("test connection: %d %v", status, body)
		}
		return body["connectionTest"].(map[string]any)
	}
	g := e.startGateway("gw", gwOptions{})
	id := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": g.id()})
	n := e.c.TokenReviewCount()
	if got := test(id); got["ok"] != true || got["gatewayId"] != g.id() || got["kubernetesHost"] != nil || got["problem"] != nil {
		t.Errorf("connected gateway: %v", got)
	}
	if e.c.TokenReviewCount() != n+1 {
		t.Error("the test did not reach the cluster through the gateway")
	}
	nd := e.startGateway("no-delegator", gwOptions{noDelegate: true})
	ndID := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": nd.id()})
	if got := test(ndID); got["ok"] != false || got["problem"] != "reviewer-forbidden" || !strings.Contains(got["message"].(string), "system:auth-delegator") {
		t.Errorf("gateway without auth-delegator: %v", got)
	}
	g.stop(t)
	e.waitFor("disconnected", func() bool { return !e.srv.Gateways().Connected(g.id()) })
	if got := test(id); got["ok"] != false || got["problem"] != "gateway-not-connected" || !strings.Contains(got["message"].(string), "not connected") {
		t.Errorf("gateway not connected: %v", got)
	}
	unknown := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": "0f5d3b0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"})
	if got := test(unknown); got["ok"] != false || got["problem"] != "gateway-unknown" {
		t.Errorf("unknown gateway: %v", got)
	}
}
