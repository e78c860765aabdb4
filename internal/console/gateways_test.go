package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// startGateway runs a real gateway agent named name against the env's
// server and waits until it is connected; it returns its ID.
func (e *env) startGateway(name string) string {
	e.t.Helper()
	c := kubetest.New(e.t)
	st, out := e.api("POST", "/api/v1/identities", rootToken, map[string]any{"name": "gw-" + name, "role": "no-access",
		"metadata": []map[string]string{{"key": gateway.MetadataKey, "value": "true"}}})
	if st != 200 {
		e.t.Fatalf("gateway identity: %d %v", st, out)
	}
	id := out["identity"].(map[string]any)["id"].(string)
	const ua = "/api/v1/auth/universal-auth/identities/"
	st, out = e.api("POST", ua+id, rootToken, map[string]any{})
	if st != 200 {
		e.t.Fatalf("universal auth: %d %v", st, out)
	}
	clientID := out["identityUniversalAuth"].(map[string]any)["clientId"].(string)
	st, out = e.api("POST", ua+id+"/client-secrets", rootToken, map[string]any{})
	if st != 200 {
		e.t.Fatalf("client secret: %d %v", st, out)
	}
	tokFile := filepath.Join(e.t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(c.ReviewerToken("gatehouse", "gw")), 0o600); err != nil {
		e.t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	agent, err := gateway.NewAgent(gateway.AgentConfig{
		ServerURL: e.srv.URL, Login: gateway.UniversalAuthLogin(clientID, secret.Secret(out["clientSecret"].(string))),
		Name: name, Version: "test-1.2.3", Logger: logger, BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		DrainTimeout: time.Millisecond,
		Handler:      &gateway.Handler{Upstream: &gateway.Upstream{URL: c.URL(), CAFile: c.CAFile(), TokenFile: tokFile}, Logger: logger},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = agent.Run(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for agent.GatewayID() == "" || !e.gh.Gateways().Connected(agent.GatewayID()) {
		if time.Now().After(deadline) {
			e.t.Fatal("the gateway did not connect")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return agent.GatewayID()
}

// TestGatewayPages: the list shows a connected gateway's name, version,
// address and times; pools are created, renamed, given members and
// deleted from the page; the API's refusals are shown on it.
func TestGatewayPages(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(rootToken)
	p := b.get("/ui/gateways")
	if p.status != 200 {
		t.Fatalf("gateways: %d %s", p.status, p.body)
	}
	mustContain(t, p.body, "No gateway has connected yet.", "No gateway pools.", `<label for="pool-name">`)

	gw := e.startGateway("edge-1")
	p = b.post("/ui/gateways/pools", url.Values{"name": {"blue"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("create pool: %d %s", p.status, p.body)
	}
	p = b.get("/ui/gateways")
	mustContain(t, p.body, "Gateway pool blue created.", "edge-1", gw, "test-1.2.3", "127.0.0.1", ">connected<", "(0 of 0 connected)")
	if strings.Count(p.body, " UTC") < 2 {
		t.Error("connected since and heartbeat are not shown")
	}
	if p := b.post("/ui/gateways/pools", url.Values{"name": {"blue"}}); p.status != http.StatusConflict || !strings.Contains(p.body, `id="name-error"`) {
		t.Errorf("duplicate pool: %d", p.status)
	}
	_, out := e.api("GET", "/api/v1/gateway-pools", rootToken, nil)
	pool := out["gatewayPools"].([]any)[0].(map[string]any)["id"].(string)
	if p := b.post("/ui/gateways/pools/"+pool+"/members", url.Values{"gatewayId": {gw}}); p.status != http.StatusSeeOther {
		t.Fatalf("add member: %d %s", p.status, p.body)
	}
	mustContain(t, b.get("/ui/gateways").body, "(1 of 1 connected)", "Remove edge-1 from pool blue")
	if p := b.post("/ui/gateways/pools/"+pool+"/rename", url.Values{"name": {"green"}}); p.status != http.StatusSeeOther {
		t.Fatalf("rename: %d %s", p.status, p.body)
	}
	if p := b.post("/ui/gateways/pools/"+pool+"/members/"+gw+"/delete", nil); p.status != http.StatusSeeOther {
		t.Fatalf("remove member: %d", p.status)
	}
	mustContain(t, b.get("/ui/gateways").body, "green", "(0 of 0 connected)")
	if p := b.post("/ui/gateways/pools/"+pool+"/delete", nil); p.status != http.StatusSeeOther {
		t.Fatalf("delete pool: %d", p.status)
	}
	if p := b.post("/ui/gateways/pools/"+pool+"/delete", nil); p.status != http.StatusNotFound {
		t.Errorf("delete pool twice: %d", p.status)
	}
	// The Kubernetes Auth form offers the gateway; gateway mode is
	// attached and tested through it.
	id := e.identity("app", "member")
	kube := "/ui/identities/" + id + "/kubernetes-auth"
	mustContain(t, b.get(kube).body, `<option value="`+gw+`">edge-1 (connected)</option>`)
	p = b.post(kube, url.Values{"tokenReviewMode": {"gateway"}, "gatewayId": {gw}, "allowedNamespaces": {"apps"},
		"verifyTlsCertificate": {"on"}, "accessTokenTTL": {"600"}, "accessTokenMaxTTL": {"600"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("attach in gateway mode: %d %s", p.status, p.body)
	}
	p = b.post(kube+"/test", nil)
	mustContain(t, p.body, "Connection works.", "the gateway is connected")
	// In use: the gateway cannot be deleted, and the page says why.
	p = b.post("/ui/gateways/"+gw+"/delete", nil)
	if p.status != http.StatusConflict {
		t.Fatalf("delete a gateway in use: %d", p.status)
	}
	mustContain(t, p.body, `role="alert"`, "is used by the Kubernetes Auth of")
	if p := b.post(kube+"/revoke", nil); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.status)
	}
	if p := b.post("/ui/gateways/"+gw+"/delete", nil); p.status != http.StatusSeeOther {
		t.Fatalf("delete gateway: %d %s", p.status, p.body)
	}
	if st, _ := e.api("GET", "/api/v2/gateways/"+gw, rootToken, nil); st != 404 {
		t.Errorf("deleted gateway: %d", st)
	}
}

// TestGatewayPagesMemberEscapingCSRF: a member reads the lists without
// admin forms and is refused by the API; names are text; a forged post
// is refused.
func TestGatewayPagesMemberEscapingCSRF(t *testing.T) {
	e := newEnv(t)
	st, out := e.api("POST", "/api/v1/gateway-pools", rootToken, map[string]any{"name": "pool-1"})
	if st != 200 {
		t.Fatalf("pool: %d %v", st, out)
	}
	pool := out["gatewayPool"].(map[string]any)["id"].(string)
	member := e.browser()
	member.signIn(e.tokenFor(e.identity("viewer", "member")))
	p := member.get("/ui/gateways")
	if p.status != 200 {
		t.Fatalf("member page: %d", p.status)
	}
	mustContain(t, p.body, "pool-1")
	mustNotContain(t, p.body, "Create pool", "Delete pool", "Rename")
	for _, path := range []string{"/ui/gateways/pools", "/ui/gateways/pools/" + pool + "/rename", "/ui/gateways/pools/" + pool + "/delete"} {
		if p := member.post(path, url.Values{"name": {"x"}}); p.status != http.StatusForbidden {
			t.Errorf("member POST %s: %d", path, p.status)
		}
	}
	admin := e.browser()
	admin.signIn(rootToken)
	// A refused name is shown again as text, next to the field.
	admin.get("/ui/gateways")
	p = admin.post("/ui/gateways/pools", url.Values{"name": {"<script>alert(1)</script>"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Errorf("bad pool name: %d", p.status)
	}
	mustContain(t, p.body, `value="&lt;script&gt;alert(1)&lt;/script&gt;" aria-invalid="true"`, `id="name-error">pool name must be`)
	mustNotContain(t, p.body, "<script>alert")
	if p := admin.post("/ui/gateways/pools/"+pool+"/delete", url.Values{"csrf": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("forged CSRF: %d", p.status)
	}
	if st, _ := e.api("GET", "/api/v1/gateway-pools/"+pool, rootToken, nil); st != 200 {
		t.Errorf("a refused post deleted the pool: %d", st)
	}
}
