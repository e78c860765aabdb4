package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// apiCall sends a JSON request to a running server and decodes the answer.
func apiCall(t *testing.T, method, url, tok string, body any) (int, map[string]any) {
	t.Helper()
	return apiCallWith(t, http.DefaultClient, method, url, tok, body)
}

// apiCallWith is apiCall through client (e.g. one that trusts a test CA).
func apiCallWith(t *testing.T, client *http.Client, method, url, tok string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// waitStatus polls url until it answers want (a wait for a state; it
// fails only after 30 s).
func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	waitStatusWith(t, http.DefaultClient, url, want)
}

// waitStatusWith is waitStatus through client.
func waitStatusWith(t *testing.T, client *http.Client, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d", url, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// enrolGateway creates an identity that may act as a gateway, with
// Universal Auth and a client secret.
func enrolGateway(t *testing.T, client *http.Client, base, root, name string) (identityID, clientID, clientSecret string) {
	t.Helper()
	status, body := apiCallWith(t, client, "POST", base+"/api/v1/identities", root, map[string]any{"name": name, "role": "no-access",
		"metadata": []map[string]string{{"key": gateway.MetadataKey, "value": "true"}}})
	if status != 200 {
		t.Fatalf("identity: %d %v", status, body)
	}
	identityID = body["identity"].(map[string]any)["id"].(string)
	status, body = apiCallWith(t, client, "POST", base+"/api/v1/auth/universal-auth/identities/"+identityID, root, map[string]any{})
	if status != 200 {
		t.Fatalf("UA: %d %v", status, body)
	}
	clientID = body["identityUniversalAuth"].(map[string]any)["clientId"].(string)
	status, body = apiCallWith(t, client, "POST", base+"/api/v1/auth/universal-auth/identities/"+identityID+"/client-secrets", root, map[string]any{})
	if status != 200 {
		t.Fatalf("secret: %d %v", status, body)
	}
	return identityID, clientID, body["clientSecret"].(string)
}

// TestGatewayCommand runs `gatehouse server --dev` and `gatehouse gateway`
// (the real commands, in-process) against the test Kubernetes API server:
// the gateway enrols with Universal Auth, becomes ready, reviews a pod's
// login with its own service account and shows it in its metrics; killed,
// logins answer 503; restarted, they work again.
func TestGatewayCommand(t *testing.T) {
	const root = "gateway-test-root-token"
	addr := freeAddr(t)
	base := "http://" + addr
	srvOut, stopServer := startCommand(t, "server", "--dev", "--dev-root-token="+root, "--listen", addr)
	waitHealthy(t, addr)
	c := kubetest.New(t)

	gwIdentity, clientID, clientSecret := enrolGateway(t, http.DefaultClient, base, root, "gw")
	dir := t.TempDir()
	secretFile, tokenFile := filepath.Join(dir, "client-secret"), filepath.Join(dir, "token")
	if err := os.WriteFile(secretFile, []byte(clientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(c.ReviewerToken("gatehouse", "gateway")), 0o600); err != nil {
		t.Fatal(err)
	}
	health := freeAddr(t)
	args := []string{"gateway", "--server", base, "--client-id", clientID, "--client-secret-file", secretFile,
		"--name", "cmd-gw", "--kube-host", c.URL(), "--kube-ca-file", c.CAFile(), "--kube-token-file", tokenFile,
		"--listen", health, "--backoff-min", "10ms", "--backoff-max", "100ms", "--log-level", "debug"}
	gwOut, stopGateway := startCommand(t, args...)
	waitStatus(t, "http://"+health+"/readyz", 200)

	status, body := apiCall(t, "GET", base+"/api/v2/gateways", root, nil)
	gws, _ := body["gateways"].([]any)
	if status != 200 || len(gws) != 1 {
		t.Fatalf("gateways: %d %v", status, body)
	}
	gw := gws[0].(map[string]any)
	if gw["name"] != "cmd-gw" || gw["identityId"] != gwIdentity || gw["connected"] != true || gw["remoteAddress"] != "127.0.0.1" {
		t.Errorf("gateway record: %v", gw)
	}
	gwID := gw["id"].(string)

	status, body = apiCall(t, "POST", base+"/api/v1/identities", root, map[string]any{"name": "app", "role": "member"})
	if status != 200 {
		t.Fatalf("identity: %d %v", status, body)
	}
	app := body["identity"].(map[string]any)["id"].(string)
	status, body = apiCall(t, "POST", base+"/api/v1/auth/kubernetes-auth/identities/"+app, root, map[string]any{
		"tokenReviewMode": "gateway", "gatewayId": gwID, "allowedNamespaces": "apps", "allowedNames": "", "allowedAudience": ""})
	if status != 200 {
		t.Fatalf("attach: %d %v", status, body)
	}
	login := func() (int, map[string]any) {
		return apiCall(t, "POST", base+"/api/v1/auth/kubernetes-auth/login", "", map[string]any{"identityId": app, "jwt": c.Token("apps", "web")})
	}
	if status, body := login(); status != 200 || body["accessToken"] == nil {
		t.Fatalf("login through the gateway: %d %v", status, body)
	}
	resp, err := http.Get("http://" + health + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"gatehouse_gateway_connected 1", `gatehouse_gateway_calls_total{kind="review",result="201"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// Killed: logins answer 503 with the gateway's error name.
	if err := stopGateway(); err != nil {
		t.Fatalf("gateway exit: %v\n%s", err, gwOut.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body = login()
		// Until the server has seen the session end, a login may still
		// meet it: answered, or cut (503 GatewayConnectionLost).
		if body["error"] == "GatewayNotConnected" || time.Now().After(deadline) {
			break
		}
		if status != 200 && body["error"] != "GatewayConnectionLost" {
			t.Fatalf("login while the gateway stops: %d %v", status, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if status != 503 || body["error"] != "GatewayNotConnected" {
		t.Fatalf("login with the gateway gone: %d %v", status, body)
	}
	// Restarted: the same record, logins work again.
	_, stopGateway = startCommand(t, args...)
	waitStatus(t, "http://"+health+"/readyz", 200)
	if status, body := login(); status != 200 {
		t.Fatalf("login after the restart: %d %v", status, body)
	}
	if status, body = apiCall(t, "GET", base+"/api/v2/gateways", root, nil); len(body["gateways"].([]any)) != 1 {
		t.Errorf("the restart made another record: %v", body)
	}
	if err := stopGateway(); err != nil {
		t.Fatal(err)
	}
	if err := stopServer(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, srvOut.String())
	}
	for _, out := range []string{gwOut.String(), srvOut.String()} {
		if strings.Contains(out, clientSecret) || strings.Contains(out, root) || strings.Contains(out, "gth_") {
			t.Error("a secret reached the logs")
		}
	}
}
