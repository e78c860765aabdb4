package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	infisical "github.com/infisical/go-sdk"
	sdkerrors "github.com/infisical/go-sdk/packages/errors"

	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// liveServer is a real `gatehouse server` listening on a loopback port.
type liveServer struct {
	t      *testing.T
	base   string
	root   string
	client *http.Client // http.DefaultClient when nil
}

// startLiveServer runs server.New, Listen and Serve in-process on
// 127.0.0.1:0, and stops it (gracefully) when the test ends.
func startLiveServer(t *testing.T) *liveServer {
	t.Helper()
	var out bytes.Buffer
	srv, err := server.New(context.Background(), server.Config{
		Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"), Listen: "127.0.0.1:0", Out: &out,
	})
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
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
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
	if ls.root == "" {
		t.Fatal("the server printed no root token")
	}
	return ls
}

// call sends a JSON request and decodes the JSON answer.
func (ls *liveServer) call(method, path, tok string, body any) (int, map[string]any) {
	ls.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, ls.base+path, rd)
	if err != nil {
		ls.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	client := ls.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		ls.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestInfisicalGoSDKUniversalAuthLogin logs in through the Infisical Go
// SDK's Auth().UniversalAuthLogin against a running server (the SDK posts
// to {SiteUrl}/api/v1/auth/universal-auth/login), uses the token, and
// revokes it through the SDK (POST /api/v1/auth/token/revoke).
func TestInfisicalGoSDKUniversalAuthLogin(t *testing.T) {
	ls := startLiveServer(t)

	status, body := ls.call("POST", "/api/v1/identities", ls.root, map[string]any{"name": "sdk-app", "role": "member"})
	if status != 200 {
		t.Fatalf("create identity: %d %v", status, body)
	}
	id := body["identity"].(map[string]any)["id"].(string)
	status, body = ls.call("POST", uaBase+"/identities/"+id, ls.root, map[string]any{"accessTokenTTL": 900, "accessTokenMaxTTL": 3600})
	if status != 200 {
		t.Fatalf("attach: %d %v", status, body)
	}
	clientID := body["identityUniversalAuth"].(map[string]any)["clientId"].(string)
	status, body = ls.call("POST", uaBase+"/identities/"+id+"/client-secrets", ls.root, map[string]any{"description": "sdk"})
	if status != 200 {
		t.Fatalf("create client secret: %d %v", status, body)
	}
	clientSecret := body["clientSecret"].(string)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the SDK's token-refresh goroutine
	client := infisical.NewInfisicalClient(ctx, infisical.Config{SiteUrl: ls.base, SilentMode: true, LogWriter: io.Discard})

	// A wrong secret: the SDK reports the server's 401 and message.
	_, err := client.Auth().UniversalAuthLogin(clientID, neverStored(t))
	var apiErr *sdkerrors.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.ErrorMessage != "invalid credentials" || !strings.HasPrefix(apiErr.ReqId, "req-") {
		t.Fatalf("login with a wrong secret: %v", err)
	}

	cred, err := client.Auth().UniversalAuthLogin(clientID, clientSecret)
	if err != nil {
		t.Fatalf("UniversalAuthLogin: %v", err)
	}
	if !strings.HasPrefix(cred.AccessToken, "gth_") || cred.TokenType != "Bearer" || cred.ExpiresIn != 900 || cred.AccessTokenMaxTTL != 3600 {
		t.Errorf("credential: type %q expiresIn %d maxTTL %d", cred.TokenType, cred.ExpiresIn, cred.AccessTokenMaxTTL)
	}
	if got := client.Auth().GetAccessToken(); got != cred.AccessToken {
		t.Error("the SDK did not keep the token it logged in with")
	}

	status, body = ls.call("GET", "/api/v1/auth/token/lookup", cred.AccessToken, nil)
	if status != 200 {
		t.Fatalf("lookup with the SDK's token: %d %v", status, body)
	}
	if tok := body["token"].(map[string]any); tok["identityId"] != id || tok["authMethod"] != "universal-auth" {
		t.Errorf("token = %v", tok)
	}
	// The token carries the identity's role: a member may read identities.
	if status, body = ls.call("GET", "/api/v1/identities/"+id, cred.AccessToken, nil); status != 200 {
		t.Errorf("member reading its identity: %d %v", status, body)
	}

	if err := client.Auth().RevokeAccessToken(); err != nil {
		t.Fatalf("RevokeAccessToken: %v", err)
	}
	if status, body = ls.call("GET", "/api/v1/auth/token/lookup", cred.AccessToken, nil); status != 401 || body["error"] != "TokenRevoked" {
		t.Errorf("lookup after the SDK revoked the token: %d %v", status, body)
	}
}
