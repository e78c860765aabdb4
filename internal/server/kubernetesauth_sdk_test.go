package server_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	infisical "github.com/infisical/go-sdk"
	sdkerrors "github.com/infisical/go-sdk/packages/errors"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// TestInfisicalGoSDKKubernetesAuthLogin logs in through the Infisical Go
// SDK's Auth().KubernetesAuthLogin against a running server. The SDK reads
// the service-account token from a file (as in a pod, where it is
// /var/run/secrets/kubernetes.io/serviceaccount/token) and posts it, as
// read, to {SiteUrl}/api/v1/auth/kubernetes-auth/login; the returned token
// then works on an authenticated endpoint.
func TestInfisicalGoSDKKubernetesAuthLogin(t *testing.T) {
	ls := startLiveServer(t)
	c := kubetest.New(t)

	status, body := ls.call("POST", "/api/v1/identities", ls.root, map[string]any{"name": "sdk-pod", "role": "member"})
	if status != 200 {
		t.Fatalf("create identity: %d %v", status, body)
	}
	id := body["identity"].(map[string]any)["id"].(string)
	status, body = ls.call("POST", kubePath(id), ls.root, kubeConfig(c, c.ReviewerToken("kube-system", "gatehouse-reviewer"),
		map[string]any{"allowedAudience": "gatehouse", "accessTokenTTL": 900, "accessTokenMaxTTL": 3600}))
	if status != 200 {
		t.Fatalf("attach: %d %v", status, body)
	}

	// The projected token file, with the newline a file usually ends with.
	pod := c.CreatePod("apps", "web-0", "web")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(c.Token("apps", "web", kubetest.Audiences("gatehouse"), kubetest.BoundToPod(pod))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(t.TempDir(), "wrong-token")
	if err := os.WriteFile(wrongFile, []byte(c.Token("prod", "web", kubetest.Audiences("gatehouse"))), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := infisical.NewInfisicalClient(ctx, infisical.Config{
		SiteUrl: ls.base, SilentMode: true, LogWriter: io.Discard, AutoTokenRefresh: infisical.BoolPtr(false),
	})

	// A service account outside the allowed namespaces: the SDK reports
	// the server's 401 and its reason.
	_, err := client.Auth().KubernetesAuthLogin(id, wrongFile)
	var apiErr *sdkerrors.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || !strings.Contains(apiErr.ErrorMessage, `namespace "prod" is not allowed`) {
		t.Fatalf("login with a token of another namespace: %v", err)
	}

	cred, err := client.Auth().KubernetesAuthLogin(id, tokenFile)
	if err != nil {
		t.Fatalf("KubernetesAuthLogin: %v", err)
	}
	if !strings.HasPrefix(cred.AccessToken, "gth_") || cred.TokenType != "Bearer" || cred.ExpiresIn != 900 || cred.AccessTokenMaxTTL != 3600 {
		t.Errorf("credential: type %q expiresIn %d maxTTL %d", cred.TokenType, cred.ExpiresIn, cred.AccessTokenMaxTTL)
	}
	if client.Auth().GetAccessToken() != cred.AccessToken {
		t.Error("the SDK did not keep the token it logged in with")
	}

	status, body = ls.call("GET", "/api/v1/auth/token/lookup", cred.AccessToken, nil)
	if status != 200 {
		t.Fatalf("lookup with the SDK's token: %d %v", status, body)
	}
	tok := body["token"].(map[string]any)
	md := tok["metadata"].(map[string]any)
	if tok["identityId"] != id || tok["authMethod"] != "kubernetes-auth" || md["service_account_namespace"] != "apps" ||
		md["service_account_name"] != "web" || md["pod_name"] != "web-0" {
		t.Errorf("token = %v", tok)
	}
	if status, body = ls.call("GET", "/api/v1/identities/"+id, cred.AccessToken, nil); status != 200 {
		t.Errorf("member reading its identity with the SDK's token: %d %v", status, body)
	}

	if err := client.Auth().RevokeAccessToken(); err != nil {
		t.Fatalf("RevokeAccessToken: %v", err)
	}
	if status, body = ls.call("GET", "/api/v1/auth/token/lookup", cred.AccessToken, nil); status != 401 || body["error"] != "TokenRevoked" {
		t.Errorf("lookup after the SDK revoked the token: %d %v", status, body)
	}
}
