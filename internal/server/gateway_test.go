package server_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	vaultk8s "github.com/hashicorp/vault/api/auth/kubernetes"
	infisical "github.com/infisical/go-sdk"
	sdkerrors "github.com/infisical/go-sdk/packages/errors"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// gwEnv is a live server, a test cluster its logins cannot reach directly
// in gateway mode, and gateways run in-process (the same Agent and Handler
// `gatehouse gateway` runs).
type gwEnv struct {
	t   *testing.T
	ls  *liveServer
	srv *server.Server
	c   *kubetest.Cluster
}

func startGatewayEnv(t *testing.T, cfg server.Config) *gwEnv {
	t.Helper()
	var out bytes.Buffer
	cfg.Storage = "sqlite://" + filepath.Join(t.TempDir(), "g.db")
	cfg.Listen, cfg.Out = "127.0.0.1:0", &out
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
	})
	ls := &liveServer{t: t, base: "http://" + srv.Addr()}
	for _, line := range strings.Split(out.String(), "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "gth_") {
			ls.root = l
		}
	}
	return &gwEnv{t: t, ls: ls, srv: srv, c: kubetest.New(t)}
}

// gatewayCredentials creates a machine identity that may act as a
// gateway (metadata gatehouse-gateway=true) with Universal Auth, and
// returns its ID, client ID and secret.
func (e *gwEnv) gatewayCredentials(name string) (id, clientID string, clientSecret secret.Secret) {
	e.t.Helper()
	status, body := e.ls.call("POST", "/api/v1/identities", e.ls.root, map[string]any{"name": name, "role": "no-access",
		"metadata": []map[string]string{{"key": gateway.MetadataKey, "value": "true"}}})
	if status != 200 {
		e.t.Fatalf("create identity: %d %v", status, body)
	}
	id = body["identity"].(map[string]any)["id"].(string)
	status, body = e.ls.call("POST", uaBase+"/identities/"+id, e.ls.root, map[string]any{})
	if status != 200 {
		e.t.Fatalf("attach UA: %d %v", status, body)
	}
	clientID = body["identityUniversalAuth"].(map[string]any)["clientId"].(string)
	status, body = e.ls.call("POST", uaBase+"/identities/"+id+"/client-secrets", e.ls.root, map[string]any{})
	if status != 200 {
		e.t.Fatalf("client secret: %d %v", status, body)
	}
	return id, clientID, secret.Secret(body["clientSecret"].(string))
}

type gwOptions struct {
	kubeURL    string // the gateway's API server (the test cluster when "")
	pool       string
	drain      time.Duration // DrainTimeout (1 ms when 0: a kill)
	relays     *atomic.Int64 // counts the CONNECTs the gateway serves
	noDelegate bool          // the gateway's service account lacks system:auth-delegator
	allow      []string      // extra relay targets
	login      gateway.LoginFunc
	serverURL  string // the server the gateway dials (e.ls.base when "")
	serverCA   string // a CA file verifying it
}

// runningGateway is one gateway agent.
type runningGateway struct {
	name   string
	sa     string
	agent  *gateway.Agent
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

func (g *runningGateway) id() string { return g.agent.GatewayID() }

// stop shuts the gateway down (a drain of at most 1 ms: calls in flight
// are cut, as when a pod is killed) and waits for it.
func (g *runningGateway) stop(t *testing.T) {
	t.Helper()
	g.cancel()
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not stop")
	}
}

func (e *gwEnv) startGateway(name string, o gwOptions) *runningGateway {
	e.t.Helper()
	g := e.launchGateway(name, o)
	e.waitFor("gateway "+name+" connected", func() bool { return g.id() != "" && e.srv.Gateways().Connected(g.id()) })
	return g
}

// launchGateway starts a gateway without waiting for it to connect.
func (e *gwEnv) launchGateway(name string, o gwOptions) *runningGateway {
	e.t.Helper()
	sa := "gw-" + name
	var tok string
	if o.noDelegate {
		e.c.CreateServiceAccount("gatehouse", sa)
		tok = e.c.Token("gatehouse", sa)
	} else {
		tok = e.c.ReviewerToken("gatehouse", sa)
	}
	dir := e.t.TempDir()
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte(tok), 0o600); err != nil {
		e.t.Fatal(err)
	}
	login := o.login
	if login == nil {
		_, clientID, sec := e.gatewayCredentials("gateway-" + name)
		login = gateway.UniversalAuthLogin(clientID, sec)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	var h http.Handler = &gateway.Handler{Upstream: &gateway.Upstream{URL: cmp.Or(o.kubeURL, e.c.URL()), CAFile: e.c.CAFile(), TokenFile: tokFile},
		Allow: o.allow, Logger: logger}
	if o.relays != nil {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodConnect {
				o.relays.Add(1)
			}
			inner.ServeHTTP(w, r)
		})
	}
	agent, err := gateway.NewAgent(gateway.AgentConfig{
		ServerURL: cmp.Or(o.serverURL, e.ls.base), ServerCAFile: o.serverCA, Login: login, Name: name, Pool: o.pool, Version: "test",
		Handler: h,
		Logger:  logger, BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond, DrainTimeout: cmp.Or(o.drain, time.Millisecond),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &runningGateway{name: name, sa: sa, agent: agent, cancel: cancel, done: make(chan error), logs: logs}
	go func() { _ = agent.Run(ctx); close(g.done) }()
	e.t.Cleanup(func() {
		cancel()
		<-g.done
	})
	return g
}

// waitFor polls cond until it holds (a wait for a state, not a timing
// assertion: it fails only after 10 s).
func (e *gwEnv) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// kubeIdentity creates an identity with Kubernetes Auth configured by body.
func (e *gwEnv) kubeIdentity(body map[string]any) string {
	e.t.Helper()
	status, resp := e.ls.call("POST", "/api/v1/identities", e.ls.root, map[string]any{"name": "pod-app", "role": "member"})
	if status != 200 {
		e.t.Fatalf("create identity: %d %v", status, resp)
	}
	id := resp["identity"].(map[string]any)["id"].(string)
	status, resp = e.ls.call("POST", kubePath(id), e.ls.root, withFields(map[string]any{
		"allowedNamespaces": "apps", "allowedNames": "", "allowedAudience": "",
	}, body))
	if status != 200 {
		e.t.Fatalf("attach Kubernetes Auth: %d %v", status, resp)
	}
	return id
}

// login posts a Kubernetes login and returns the status and body.
func (e *gwEnv) login(identityID, jwt string) (int, map[string]any) {
	e.t.Helper()
	return e.ls.call("POST", kubeBase+"/login", "", map[string]any{"identityId": identityID, "jwt": jwt})
}

func wantError(t *testing.T, status int, body map[string]any, wantStatus int, wantName, wantIn string) {
	t.Helper()
	msg, _ := body["message"].(string)
	if status != wantStatus || body["error"] != wantName || !strings.Contains(msg, wantIn) || body["accessToken"] != nil {
		t.Errorf("got %d %v; want %d %s containing %q", status, body, wantStatus, wantName, wantIn)
	}
}

// TestGatewayReviewModeSDK: tokenReviewMode "gateway" — the Infisical Go
// SDK logs a pod in; the TokenReview reaches the API server through the
// gateway, with the gateway's own service-account token as the bearer.
func TestGatewayReviewModeSDK(t *testing.T) {
	e := startGatewayEnv(t, server.Config{})
	g := e.startGateway("review", gwOptions{})
	id := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": g.id()})

	pod := e.c.CreatePod("apps", "web-0", "web")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(e.c.Token("apps", "web", kubetest.BoundToPod(pod))), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := infisical.NewInfisicalClient(ctx, infisical.Config{SiteUrl: e.ls.base, SilentMode: true, LogWriter: io.Discard,
		AutoTokenRefresh: infisical.BoolPtr(false)})
	cred, err := client.Auth().KubernetesAuthLogin(id, tokenFile)
	if err != nil {
		t.Fatalf("KubernetesAuthLogin through the gateway: %v", err)
	}
	if !strings.HasPrefix(cred.AccessToken, "gth_") {
		t.Errorf("token %q", cred.AccessToken)
	}
	call, ok := e.c.LastTokenReview()
	if sa, _ := bearerAccount(e.c, call.Bearer); !ok || sa != g.sa {
		t.Errorf("the review's bearer should be the gateway's own token (of %s), not %q", g.sa, sa)
	}
	status, body := e.ls.call("GET", "/api/v1/auth/token/lookup", cred.AccessToken, nil)
	if status != 200 || body["token"].(map[string]any)["metadata"].(map[string]any)["pod_name"] != "web-0" {
		t.Errorf("lookup: %d %v", status, body)
	}

	// A service account outside the rules: refused, as without a gateway.
	wrong := filepath.Join(t.TempDir(), "wrong")
	_ = os.WriteFile(wrong, []byte(e.c.Token("prod", "web")), 0o600)
	_, err = client.Auth().KubernetesAuthLogin(id, wrong)
	var apiErr *sdkerrors.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("login of another namespace: %v", err)
	}

	// The admin API shows the gateway connected.
	status, body = e.ls.call("GET", "/api/v2/gateways/"+g.id(), e.ls.root, nil)
	gw, _ := body["gateway"].(map[string]any)
	if status != 200 || gw["connected"] != true || gw["name"] != "review" || gw["version"] != "test" || gw["connectedSince"] == nil || gw["heartbeat"] == nil {
		t.Errorf("GET gateway: %d %v", status, body)
	}
	// In use: refused.
	status, body = e.ls.call("DELETE", "/api/v2/gateways/"+g.id(), e.ls.root, nil)
	wantError(t, status, body, 409, "GatewayInUse", id)
}

// TestGatewayErrors: the errors a login through a gateway can meet, each
// with its own name; none issues a token.
func TestGatewayErrors(t *testing.T) {
	e := startGatewayEnv(t, server.Config{GatewayTimeout: 300 * time.Millisecond})
	jwt := e.c.Token("apps", "web")

	// Unknown gateway.
	unknown := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": "0f5d3b0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"})
	status, body := e.login(unknown, jwt)
	wantError(t, status, body, 400, "GatewayNotFound", "does not exist")

	// A gateway whose service account lacks system:auth-delegator.
	nd := e.startGateway("no-delegator", gwOptions{noDelegate: true})
	id := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": nd.id()})
	status, body = e.login(id, jwt)
	wantError(t, status, body, 401, "GatewayTokenReviewerRejected", "system:auth-delegator")

	// Known but not connected: 503.
	nd.stop(t)
	e.waitFor("disconnected", func() bool { return !e.srv.Gateways().Connected(nd.id()) })
	status, body = e.login(id, jwt)
	wantError(t, status, body, 503, "GatewayNotConnected", "not connected")

	// A pool with no member connected: 503.
	status, body = e.ls.call("POST", "/api/v1/gateway-pools", e.ls.root, map[string]any{"name": "empty"})
	if status != 200 {
		t.Fatalf("create pool: %d %v", status, body)
	}
	poolID := body["gatewayPool"].(map[string]any)["id"].(string)
	pid := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayPoolId": poolID})
	status, body = e.login(pid, jwt)
	wantError(t, status, body, 503, "GatewayNotConnected", "no gateway of pool")

	// A slow gateway (its API server takes longer than the server waits): 504.
	slow := e.startGateway("slow", gwOptions{})
	sid := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": slow.id()})
	e.c.SetLatency(2 * time.Second)
	status, body = e.login(sid, jwt)
	wantError(t, status, body, 504, "GatewayTimeout", "did not answer within")
	e.c.ClearFaults()
	if status, body := e.login(sid, jwt); status != 200 {
		t.Errorf("login after the slow answer: %d %v", status, body)
	}

	// A gateway that cannot reach its own API server: 502.
	lost := e.startGateway("no-api-server", gwOptions{kubeURL: "https://" + refusedAddr(t)})
	lid := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": lost.id()})
	status, body = e.login(lid, jwt)
	wantError(t, status, body, 502, "GatewayKubernetesApiError", "could not get an answer from its Kubernetes API server")

	// Relay mode to a host that is not the gateway's API server: refused
	// by the gateway's allow list.
	other := kubetest.New(t)
	rid := e.kubeIdentity(map[string]any{"tokenReviewMode": "api", "gatewayId": slow.id(),
		"kubernetesHost": other.Host(), "caCert": other.CAPEM()})
	status, body = e.login(rid, jwt)
	wantError(t, status, body, 502, "GatewayRelayRefused", "refused to relay")
	if other.RequestCount() != 0 {
		t.Errorf("the other cluster was reached %d times", other.RequestCount())
	}
}

// TestGatewayRelayAndLocalModes: api mode with gatewayId relays TCP to
// kubernetesHost (TLS end to end with the stored CA, the stored reviewer
// JWT as the bearer); local mode reads the signing keys the same way.
func TestGatewayRelayAndLocalModes(t *testing.T) {
	e := startGatewayEnv(t, server.Config{})
	g := e.startGateway("relay", gwOptions{})
	reviewer := e.c.ReviewerToken("kube-system", "gatehouse-reviewer")
	id := e.kubeIdentity(map[string]any{"tokenReviewMode": "api", "gatewayId": g.id(),
		"kubernetesHost": e.c.Host(), "caCert": e.c.CAPEM(), "tokenReviewerJwt": reviewer})
	jwt := e.c.Token("apps", "web")
	if status, body := e.login(id, jwt); status != 200 {
		t.Fatalf("relay-mode login: %d %v", status, body)
	}
	if call, _ := e.c.LastTokenReview(); call.Bearer != reviewer {
		t.Error("relay mode: the bearer should be the stored reviewer JWT")
	}
	lid := e.kubeIdentity(map[string]any{"tokenReviewMode": "local", "gatewayId": g.id(),
		"kubernetesHost": e.c.Host(), "caCert": e.c.CAPEM(), "tokenReviewerJwt": reviewer})
	reviews := e.c.TokenReviewCount()
	if status, body := e.login(lid, e.c.Token("apps", "web", kubetest.Audiences(e.c.Issuer()))); status != 200 {
		t.Fatalf("local-mode login through the gateway: %d %v", status, body)
	}
	if e.c.TokenReviewCount() != reviews || len(e.c.DiscoveryCalls()) == 0 {
		t.Errorf("local mode: %d reviews (want none), %d discovery reads (want some)", e.c.TokenReviewCount()-reviews, len(e.c.DiscoveryCalls()))
	}
}

// TestGatewayRevokedIdentity: a gateway whose identity loses the right
// (metadata removed) or is deleted is dropped, and refused when it comes
// back.
func TestGatewayRevokedIdentity(t *testing.T) {
	e := startGatewayEnv(t, server.Config{})
	identityID, clientID, sec := e.gatewayCredentials("gw-ident")
	g := e.startGateway("revoked", gwOptions{login: gateway.UniversalAuthLogin(clientID, sec)})
	if n := e.srv.Gateways().Sweep(context.Background()); n != 0 {
		t.Fatalf("sweep dropped %d gateways of allowed identities", n)
	}
	// Demoted: the metadata entry removed.
	status, body := e.ls.call("PATCH", "/api/v1/identities/"+identityID, e.ls.root, map[string]any{"metadata": []map[string]string{}})
	if status != 200 {
		t.Fatalf("demote: %d %v", status, body)
	}
	if n := e.srv.Gateways().Sweep(context.Background()); n != 1 {
		t.Fatalf("sweep dropped %d gateways, want 1", n)
	}
	if e.srv.Gateways().Connected(g.id()) {
		t.Fatal("the demoted gateway is still connected")
	}
	e.waitFor("the reconnect refused", func() bool { return strings.Contains(g.logs.String(), "may not act as a gateway") })
	if e.srv.Gateways().Connected(g.id()) {
		t.Fatal("the demoted gateway reconnected")
	}
	// Deleted: its record goes with it.
	if status, body := e.ls.call("DELETE", "/api/v1/identities/"+identityID, e.ls.root, nil); status != 200 {
		t.Fatalf("delete identity: %d %v", status, body)
	}
	status, _ = e.ls.call("GET", "/api/v2/gateways/"+g.id(), e.ls.root, nil)
	if status != 404 {
		t.Errorf("the gateway of a deleted identity: %d", status)
	}
}

// TestGatewayPoolFailover: two gateways in a pool share the logins; one
// is killed while it holds a review, and the review is retried on the
// other; with one left, logins keep working; with none, 503.
func TestGatewayPoolFailover(t *testing.T) {
	e := startGatewayEnv(t, server.Config{})
	status, body := e.ls.call("POST", "/api/v1/gateway-pools", e.ls.root, map[string]any{"name": "prod"})
	if status != 200 {
		t.Fatalf("create pool: %d %v", status, body)
	}
	poolID := body["gatewayPool"].(map[string]any)["id"].(string)
	_, clientID, sec := e.gatewayCredentials("pool-prod")
	a := e.startGateway("a", gwOptions{pool: "prod", login: gateway.UniversalAuthLogin(clientID, sec)})
	b := e.startGateway("b", gwOptions{pool: poolID, login: gateway.UniversalAuthLogin(clientID, sec)})
	// A gateway of another identity may not join the pool by itself.
	intruder := e.launchGateway("intruder", gwOptions{pool: "prod"})
	e.waitFor("the intruder refused", func() bool { return strings.Contains(intruder.logs.String(), "authenticate as another identity") })
	status, body = e.ls.call("GET", "/api/v1/gateway-pools/"+poolID, e.ls.root, nil)
	if status != 200 || body["gatewayPool"].(map[string]any)["connectedCount"] != float64(2) {
		t.Fatalf("pool: %d %v", status, body)
	}
	id := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayPoolId": poolID})
	jwt := e.c.Token("apps", "web")

	// Both members serve.
	bearers := map[string]bool{}
	for range 4 {
		if status, body := e.login(id, jwt); status != 200 {
			t.Fatalf("login: %d %v", status, body)
		}
		call, _ := e.c.LastTokenReview()
		bearers[call.Bearer] = true
	}
	if len(bearers) != 2 {
		t.Errorf("reviews went through %d gateways, want 2", len(bearers))
	}

	// a is killed while its API server holds a review.
	held := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	e.c.OnTokenReview(func(call kubetest.TokenReviewCall) {
		if sa, ok := bearerAccount(e.c, call.Bearer); ok && sa == a.sa {
			once.Do(func() { close(held) })
			<-release
		}
	})
	defer close(release)
	results := make(chan int, 2)
	for range 2 { // one of the two goes to a
		go func() {
			status, _ := e.login(id, jwt)
			results <- status
		}()
	}
	<-held
	a.stop(t)
	for range 2 {
		if status := <-results; status != 200 {
			t.Errorf("a login during the failover: %d", status)
		}
	}
	e.c.OnTokenReview(nil)
	if status, body := e.login(id, jwt); status != 200 {
		t.Errorf("login with one member left: %d %v", status, body)
	}
	b.stop(t)
	e.waitFor("b gone", func() bool { return !e.srv.Gateways().Connected(b.id()) })
	status, body = e.login(id, jwt)
	wantError(t, status, body, 503, "GatewayNotConnected", "no gateway of pool")
	// The pool is in use: refused.
	status, body = e.ls.call("DELETE", "/api/v1/gateway-pools/"+poolID, e.ls.root, nil)
	wantError(t, status, body, 409, "GatewayInUse", id)
}

// bearerAccount names the service account of a token the test cluster
// issued (its sub claim), without verifying it.
func bearerAccount(c *kubetest.Cluster, tok string) (string, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", false
	}
	raw, err := base64URLDecode(parts[1])
	if err != nil {
		return "", false
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if jsonUnmarshal(raw, &claims) != nil {
		return "", false
	}
	i := strings.LastIndexByte(claims.Sub, ':')
	return claims.Sub[i+1:], i >= 0
}

// TestGatewayConcurrentLogins: 200 logins at once through one gateway
// connection, each of another service account, each answered with its
// own account (no crossed replies).
func TestGatewayConcurrentLogins(t *testing.T) {
	e := startGatewayEnv(t, server.Config{})
	g := e.startGateway("busy", gwOptions{})
	id := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": g.id()})
	const n = 200
	jwts := make([]string, n)
	for i := range jwts {
		jwts[i] = e.c.Token("apps", "sa-"+strings.Repeat("x", i%3)+itoa(i))
	}
	var wg sync.WaitGroup
	errc := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := e.ls.call("POST", kubeBase+"/login", "", map[string]any{"identityId": id, "jwt": jwts[i]})
			if status != 200 {
				errc <- "login " + itoa(i) + ": " + itoa(status)
				return
			}
			status, body = e.ls.call("GET", "/api/v1/auth/token/lookup", body["accessToken"].(string), nil)
			name := body["token"].(map[string]any)["metadata"].(map[string]any)["service_account_name"]
			if status != 200 || name != "sa-"+strings.Repeat("x", i%3)+itoa(i) {
				errc <- "login " + itoa(i) + " answered for " + name.(string)
			}
		}()
	}
	wg.Wait()
	close(errc)
	for msg := range errc {
		t.Error(msg)
	}
}

// TestGatewayVaultClient: Vault's Go client logs in through mounts whose
// config names a gateway (Gatehouse's gateway_id/gateway_pool_id
// extensions): gateway review, api-mode relay and local mode.
func TestGatewayVaultClient(t *testing.T) {
	e := startGatewayEnv(t, server.Config{PodServiceAccountDir: "-"})
	g := e.startGateway("vault", gwOptions{pool: ""})
	status, body := e.ls.call("POST", "/api/v1/gateway-pools", e.ls.root, map[string]any{"name": "vault-pool"})
	if status != 200 {
		t.Fatalf("pool: %d %v", status, body)
	}
	poolID := body["gatewayPool"].(map[string]any)["id"].(string)
	if status, body := e.ls.call("POST", "/api/v1/gateway-pools/"+poolID+"/memberships", e.ls.root, map[string]any{"gatewayId": g.id()}); status != 200 {
		t.Fatalf("add member: %d %v", status, body)
	}
	reviewer := e.c.ReviewerToken("kube-system", "gatehouse")
	ctx := context.Background()
	cfg := vaultapi.DefaultConfig()
	cfg.Address, cfg.MaxRetries = e.ls.base, 0
	admin, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	admin.SetToken(e.ls.root)
	mounts := map[string]map[string]any{
		"gw-review": {"token_review_mode": "gateway", "gateway_id": g.id()},
		"gw-relay":  {"kubernetes_host": e.c.URL(), "kubernetes_ca_cert": e.c.CAPEM(), "token_reviewer_jwt": reviewer, "gateway_pool_id": poolID},
		"gw-local": {"token_review_mode": "local", "kubernetes_host": e.c.URL(), "kubernetes_ca_cert": e.c.CAPEM(),
			"token_reviewer_jwt": reviewer, "gateway_id": g.id()},
	}
	for m, conf := range mounts {
		if err := admin.Sys().EnableAuthWithOptionsWithContext(ctx, m, &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
			t.Fatalf("enable %s: %v", m, err)
		}
		if _, err := admin.Logical().WriteWithContext(ctx, "auth/"+m+"/config", conf); err != nil {
			t.Fatalf("config %s: %v", m, err)
		}
		if _, err := admin.Logical().WriteWithContext(ctx, "auth/"+m+"/role/web", map[string]any{
			"bound_service_account_names": "web", "bound_service_account_namespaces": "apps"}); err != nil {
			t.Fatalf("role %s: %v", m, err)
		}
	}
	read, err := admin.Logical().ReadWithContext(ctx, "auth/gw-review/config")
	if err != nil || read.Data["token_review_mode"] != "gateway" || read.Data["gateway_id"] != g.id() {
		t.Fatalf("read config: %v %v", read, err)
	}
	jwtFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(jwtFile, []byte(e.c.Token("apps", "web")), 0o600); err != nil {
		t.Fatal(err)
	}
	for m := range mounts {
		wcfg := vaultapi.DefaultConfig()
		wcfg.Address = e.ls.base
		workload, err := vaultapi.NewClient(wcfg)
		if err != nil {
			t.Fatal(err)
		}
		workload.ClearToken()
		k8sAuth, err := vaultk8s.NewKubernetesAuth("web", vaultk8s.WithMountPath(m), vaultk8s.WithServiceAccountTokenPath(jwtFile))
		if err != nil {
			t.Fatal(err)
		}
		sec, err := workload.Auth().Login(ctx, k8sAuth)
		if err != nil || sec.Auth == nil || sec.Auth.Metadata["service_account_name"] != "web" {
			t.Errorf("%s: login through the gateway: %v %+v", m, err, sec)
		}
	}
	// The gateway is in use by mounts: refused.
	status, body = e.ls.call("DELETE", "/api/v2/gateways/"+g.id(), e.ls.root, nil)
	wantError(t, status, body, 409, "GatewayInUse", "Vault mount auth/gw-review")
	// Vault answers the gateway's errors in its own shape.
	g.stop(t)
	e.waitFor("gone", func() bool { return !e.srv.Gateways().Connected(g.id()) })
	_, err = admin.Logical().WriteWithContext(ctx, "auth/gw-review/login", map[string]any{"role": "web", "jwt": e.c.Token("apps", "web")})
	var re *vaultapi.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 503 || len(re.Errors) != 1 || !strings.Contains(re.Errors[0], "not connected") {
		t.Errorf("login with the gateway gone: %v", err)
	}
}

// TestGatewayKilledMidReview: a lone gateway killed while its API server
// holds a review: the login fails fast with 503 GatewayConnectionLost
// (no token), and the server keeps serving.
func TestGatewayKilledMidReview(t *testing.T) {
	e := startGatewayEnv(t, server.Config{})
	g := e.startGateway("lone", gwOptions{})
	id := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": g.id()})
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.c.OnTokenReview(func(kubetest.TokenReviewCall) {
		once.Do(func() { close(held) })
		<-release
	})
	defer close(release)
	type answer struct {
		status int
		body   map[string]any
	}
	res := make(chan answer, 1)
	go func() {
		status, body := e.login(id, e.c.Token("apps", "web"))
		res <- answer{status, body}
	}()
	<-held
	g.stop(t)
	a := <-res
	wantError(t, a.status, a.body, 503, "GatewayConnectionLost", "was lost during the call")
	if status, _ := e.ls.call("GET", "/api/status", "", nil); status != 200 {
		t.Errorf("status after the drop: %d", status)
	}
}

// TestGatewayAdminAPI: pools and members (admin writes, member reads),
// deleting an unused gateway drops its session, deleting a pool leaves its
// members in no pool.
func TestGatewayAdminAPI(t *testing.T) {
	e := startGatewayEnv(t, server.Config{})
	g := e.startGateway("admin", gwOptions{})
	_, memberTok := e.identityToken("reader", "member")

	call := e.ls.call
	status, body := call("POST", "/api/v1/gateway-pools", memberTok, map[string]any{"name": "p1"})
	wantError(t, status, body, 403, "PermissionDenied", "admin role")
	status, body = call("POST", "/api/v1/gateway-pools", e.ls.root, map[string]any{"name": "bad name!"})
	if status != 422 {
		t.Errorf("bad pool name: %d %v", status, body)
	}
	status, body = call("POST", "/api/v1/gateway-pools", e.ls.root, map[string]any{"name": "p1"})
	if status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	poolID := body["gatewayPool"].(map[string]any)["id"].(string)
	if status, body := call("POST", "/api/v1/gateway-pools", e.ls.root, map[string]any{"name": "p1"}); status != 409 {
		t.Errorf("duplicate pool: %d %v", status, body)
	}
	if status, body := call("PATCH", "/api/v1/gateway-pools/"+poolID, e.ls.root, map[string]any{"name": "p2"}); status != 200 || body["gatewayPool"].(map[string]any)["name"] != "p2" {
		t.Errorf("rename: %d %v", status, body)
	}
	status, body = call("POST", "/api/v1/gateway-pools/"+poolID+"/memberships", memberTok, map[string]any{"gatewayId": g.id()})
	wantError(t, status, body, 403, "PermissionDenied", "admin role")
	status, body = call("POST", "/api/v1/gateway-pools/"+poolID+"/memberships", e.ls.root, map[string]any{"gatewayId": g.id()})
	if status != 200 || body["gatewayPool"].(map[string]any)["connectedCount"] != float64(1) {
		t.Fatalf("add member: %d %v", status, body)
	}
	// Members read; the member is live in the pool at once.
	status, body = call("GET", "/api/v1/gateway-pools", memberTok, nil)
	if pools := body["gatewayPools"].([]any); status != 200 || len(pools) != 1 {
		t.Fatalf("list pools: %d %v", status, body)
	}
	id := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayPoolId": poolID})
	if status, body := e.login(id, e.c.Token("apps", "web")); status != 200 {
		t.Fatalf("login through the pool: %d %v", status, body)
	}
	status, body = call("DELETE", "/api/v1/gateway-pools/"+poolID+"/memberships/"+g.id(), e.ls.root, nil)
	if status != 200 || len(body["gatewayPool"].(map[string]any)["gateways"].([]any)) != 0 {
		t.Fatalf("remove member: %d %v", status, body)
	}
	status, body = e.login(id, e.c.Token("apps", "web"))
	wantError(t, status, body, 503, "GatewayNotConnected", "no gateway of pool")
	if status, _ := call("DELETE", "/api/v1/gateway-pools/"+poolID+"/memberships/"+g.id(), e.ls.root, nil); status != 404 {
		t.Errorf("remove a non-member: %d", status)
	}
	// Pool deletion: refused while used, then allowed; members stay.
	call("POST", "/api/v1/gateway-pools/"+poolID+"/memberships", e.ls.root, map[string]any{"gatewayId": g.id()})
	status, body = call("DELETE", "/api/v1/gateway-pools/"+poolID, e.ls.root, nil)
	wantError(t, status, body, 409, "GatewayInUse", "identity "+id)
	if status, body := call("DELETE", kubePath(id), e.ls.root, nil); status != 200 {
		t.Fatalf("revoke Kubernetes Auth: %d %v", status, body)
	}
	if status, body := call("DELETE", "/api/v1/gateway-pools/"+poolID, e.ls.root, nil); status != 200 {
		t.Fatalf("delete pool: %d %v", status, body)
	}
	status, body = call("GET", "/api/v2/gateways/"+g.id(), memberTok, nil)
	if status != 200 || body["gateway"].(map[string]any)["gatewayPoolId"] != nil || body["gateway"].(map[string]any)["connected"] != true {
		t.Errorf("gateway after its pool went: %d %v", status, body)
	}
	// Gateway deletion: members may not; admins may, and the session drops.
	status, body = call("DELETE", "/api/v2/gateways/"+g.id(), memberTok, nil)
	wantError(t, status, body, 403, "PermissionDenied", "admin role")
	if status, body := call("DELETE", "/api/v2/gateways/"+g.id(), e.ls.root, nil); status != 200 {
		t.Fatalf("delete gateway: %d %v", status, body)
	}
	if e.srv.Gateways().Connected(g.id()) {
		t.Error("a deleted gateway is still connected")
	}
	if status, _ := call("GET", "/api/v2/gateways/"+g.id(), e.ls.root, nil); status != 404 {
		t.Errorf("deleted gateway: %d", status)
	}
	// A name is bound to the identity that registered it.
	g2 := e.startGateway("taken", gwOptions{})
	thief := e.launchGateway("taken", gwOptions{})
	e.waitFor("the name thief refused", func() bool {
		return strings.Contains(thief.logs.String(), "belongs to a gateway of another identity")
	})
	if !e.srv.Gateways().Connected(g2.id()) {
		t.Error("the name's owner lost its session")
	}
	// The connect route refuses what is not a gateway's upgrade.
	status, body = call("GET", gateway.ConnectPath, e.ls.root, nil)
	wantError(t, status, body, 400, "BadRequest", "Upgrade")
}

// identityToken creates an identity of role with Universal Auth and logs
// it in.
func (e *gwEnv) identityToken(name, role string) (id, tok string) {
	e.t.Helper()
	status, body := e.ls.call("POST", "/api/v1/identities", e.ls.root, map[string]any{"name": name, "role": role})
	if status != 200 {
		e.t.Fatalf("identity: %d %v", status, body)
	}
	id = body["identity"].(map[string]any)["id"].(string)
	_, body = e.ls.call("POST", uaBase+"/identities/"+id, e.ls.root, map[string]any{})
	clientID := body["identityUniversalAuth"].(map[string]any)["clientId"].(string)
	_, body = e.ls.call("POST", uaBase+"/identities/"+id+"/client-secrets", e.ls.root, map[string]any{})
	status, body = e.ls.call("POST", uaBase+"/login", "", map[string]any{"clientId": clientID, "clientSecret": body["clientSecret"]})
	if status != 200 {
		e.t.Fatalf("login: %d %v", status, body)
	}
	return id, body["accessToken"].(string)
}

// TestGatewayPoolRelayFailover: api mode through a pool: the member
// carrying a relay is killed while the API server holds the review, and
// the request is sent again through the other member.
func TestGatewayPoolRelayFailover(t *testing.T) {
	e := startGatewayEnv(t, server.Config{})
	status, body := e.ls.call("POST", "/api/v1/gateway-pools", e.ls.root, map[string]any{"name": "relays"})
	if status != 200 {
		t.Fatalf("create pool: %d %v", status, body)
	}
	poolID := body["gatewayPool"].(map[string]any)["id"].(string)
	var relaysA, relaysB atomic.Int64
	_, clientID, sec := e.gatewayCredentials("pool-relays")
	a := e.startGateway("ra", gwOptions{pool: "relays", relays: &relaysA, login: gateway.UniversalAuthLogin(clientID, sec)})
	b := e.startGateway("rb", gwOptions{pool: "relays", relays: &relaysB, login: gateway.UniversalAuthLogin(clientID, sec)})
	id := e.kubeIdentity(map[string]any{"tokenReviewMode": "api", "gatewayPoolId": poolID,
		"kubernetesHost": e.c.Host(), "caCert": e.c.CAPEM(), "tokenReviewerJwt": e.c.ReviewerToken("kube-system", "reviewer")})
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.c.OnTokenReview(func(kubetest.TokenReviewCall) {
		first := false
		once.Do(func() { first = true; close(held) })
		if first {
			<-release
		}
	})
	defer close(release)
	res := make(chan int, 1)
	go func() {
		status, _ := e.login(id, e.c.Token("apps", "web"))
		res <- status
	}()
	<-held
	carrier, other := a, &relaysB
	if relaysB.Load() == 1 {
		carrier, other = b, &relaysA
	}
	carrier.stop(t)
	if status := <-res; status != 200 {
		t.Fatalf("login during the relay failover: %d", status)
	}
	if other.Load() != 1 {
		t.Errorf("the other member relayed %d times, want 1", other.Load())
	}
}

// TestGatewayGracefulDrain: a gateway shut down while it holds a review
// lets the review finish (the login succeeds) before closing its session.
func TestGatewayGracefulDrain(t *testing.T) {
	e := startGatewayEnv(t, server.Config{})
	g := e.startGateway("drain", gwOptions{drain: 10 * time.Second})
	id := e.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": g.id()})
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.c.OnTokenReview(func(kubetest.TokenReviewCall) {
		once.Do(func() { close(held); <-release })
	})
	res := make(chan int, 1)
	go func() {
		status, _ := e.login(id, e.c.Token("apps", "web"))
		res <- status
	}()
	<-held
	stopped := make(chan struct{})
	go func() { g.cancel(); <-g.done; close(stopped) }()
	e.waitFor("the drain", func() bool { return strings.Contains(g.logs.String(), "gateway draining") })
	close(release)
	if status := <-res; status != 200 {
		t.Fatalf("the login held during the drain: %d", status)
	}
	<-stopped
}

// TestGatewayHeartbeatDropsDeletedIdentity: without anyone sweeping, the
// heartbeat drops the session of a gateway whose identity is deleted.
func TestGatewayHeartbeatDropsDeletedIdentity(t *testing.T) {
	e := startGatewayEnv(t, server.Config{GatewayHeartbeat: 10 * time.Millisecond})
	identityID, clientID, sec := e.gatewayCredentials("gw-beat")
	g := e.startGateway("beat", gwOptions{login: gateway.UniversalAuthLogin(clientID, sec)})
	e.waitFor("a heartbeat written", func() bool {
		rec, err := e.srv.Store().GetGateway(context.Background(), g.id())
		return err == nil && rec.HeartbeatAt.After(rec.ConnectedAt)
	})
	if status, body := e.ls.call("DELETE", "/api/v1/identities/"+identityID, e.ls.root, nil); status != 200 {
		t.Fatalf("delete identity: %d %v", status, body)
	}
	e.waitFor("the session dropped", func() bool { return !e.srv.Gateways().Connected(g.id()) })
}
