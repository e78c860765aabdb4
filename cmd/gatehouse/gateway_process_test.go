package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	vaultk8s "github.com/hashicorp/vault/api/auth/kubernetes"
	infisical "github.com/infisical/go-sdk"
	sdkerrors "github.com/infisical/go-sdk/packages/errors"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/tlstest"
)

// process is a gatehouse command run as a process of its own (this test
// binary, as TestMain lets it).
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	once sync.Once
}

func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), "GATEHOUSE_TEST_RUN_MAIN=1")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	return p
}

// kill ends the process at once (SIGKILL: no drain, no goodbye) and waits
// for it to be gone.
func (p *process) kill() {
	p.once.Do(func() { _ = p.cmd.Process.Kill() })
	<-p.done
}

// TestGatewayProcesses: `gatehouse server` (HTTPS, its SQLite store) and
// `gatehouse gateway` each run as a process of their own beside the test
// Kubernetes API server, and the real clients log in through the gateway:
// the Infisical Go SDK and Vault's Go client, in gateway mode (the
// gateway's own token reviews), api mode (the gateway relays, the stored
// reviewer JWT reviews) and local mode (the signing keys read through
// the gateway). The gateway process is then killed (SIGKILL): logins that
// need it answer 503 GatewayNotConnected and issue nothing; started again, it
// serves under the same record and logins work again.
func TestGatewayProcesses(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := tlstest.SelfSigned(t, []net.IP{net.IPv4(127, 0, 0, 1)}, nil)
	caPEM, _ := os.ReadFile(certFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	defer client.CloseIdleConnections()

	addr := freeAddr(t)
	base := "https://" + addr
	rootFile := filepath.Join(dir, "root-token")
	srv := startProcess(t, "server", "--listen", addr, "--storage", "sqlite://"+filepath.Join(dir, "gatehouse.db"),
		"--tls-cert", certFile, "--tls-key", keyFile, "--root-token-file", rootFile, "--log-level", "warn", "--ui=false")
	waitStatusWith(t, client, base+"/healthz", 200)
	rootTok, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	root := strings.TrimSpace(string(rootTok))
	call := func(method, path, tok string, body any) (int, map[string]any) {
		t.Helper()
		return apiCallWith(t, client, method, base+path, tok, body)
	}
	c := kubetest.New(t)

	// The gateway's identity, with Universal Auth.
	_, clientID, clientSecret := enrolGateway(t, client, base, root, "proc-gw")
	secretFile := writeFile(t, dir, "client-secret", clientSecret)
	gwToken := c.ReviewerToken("gatehouse", "gateway")
	gwTokenFile := writeFile(t, dir, "gw-token", gwToken)

	health := freeAddr(t)
	gwArgs := []string{"gateway", "--server", base, "--server-ca-file", certFile, "--client-id", clientID,
		"--client-secret-file", secretFile, "--name", "proc-gw", "--kube-host", c.URL(), "--kube-ca-file", c.CAFile(),
		"--kube-token-file", gwTokenFile, "--listen", health, "--backoff-min", "10ms", "--backoff-max", "200ms", "--log-level", "warn"}
	gw := startProcess(t, gwArgs...)
	logs := []*process{srv, gw}
	waitStatus(t, "http://"+health+"/readyz", 200)
	status, body := call("GET", "/api/v2/gateways", root, nil)
	gws, _ := body["gateways"].([]any)
	if status != 200 || len(gws) != 1 || gws[0].(map[string]any)["connected"] != true {
		t.Fatalf("gateways: %d %v\n%s", status, body, gw.out.String())
	}
	gwID := gws[0].(map[string]any)["id"].(string)

	// Infisical: one identity per mode.
	reviewer := c.ReviewerToken("kube-system", "gatehouse-reviewer")
	kubeIdentity := func(name string, conf map[string]any) string {
		t.Helper()
		status, body := call("POST", "/api/v1/identities", root, map[string]any{"name": name, "role": "member"})
		if status != 200 {
			t.Fatalf("identity: %d %v", status, body)
		}
		id := body["identity"].(map[string]any)["id"].(string)
		conf["allowedNamespaces"], conf["allowedNames"], conf["allowedAudience"] = "apps", "", ""
		if status, body := call("POST", "/api/v1/auth/kubernetes-auth/identities/"+id, root, conf); status != 200 {
			t.Fatalf("attach %s: %d %v", name, status, body)
		}
		return id
	}
	modes := []struct {
		name string
		id   string
		jwt  string
	}{
		{"gateway", kubeIdentity("review", map[string]any{"tokenReviewMode": "gateway", "gatewayId": gwID}),
			c.Token("apps", "web")},
		{"api (relay)", kubeIdentity("relay", map[string]any{"tokenReviewMode": "api", "gatewayId": gwID,
			"kubernetesHost": c.URL(), "caCert": c.CAPEM(), "tokenReviewerJwt": reviewer}), c.Token("apps", "web")},
		{"local", kubeIdentity("local", map[string]any{"tokenReviewMode": "local", "gatewayId": gwID,
			"kubernetesHost": c.URL(), "caCert": c.CAPEM(), "tokenReviewerJwt": reviewer}),
			c.Token("apps", "web", kubetest.Audiences(c.Issuer()))},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sdk := infisical.NewInfisicalClient(ctx, infisical.Config{SiteUrl: base, CaCertificate: string(caPEM), SilentMode: true,
		LogWriter: io.Discard, AutoTokenRefresh: infisical.BoolPtr(false)})
	sdkLogin := func(id, jwt string) (string, error) {
		f := writeFile(t, t.TempDir(), "jwt", jwt)
		cred, err := sdk.Auth().KubernetesAuthLogin(id, f)
		return cred.AccessToken, err
	}
	for _, m := range modes {
		reviews := c.TokenReviewCount()
		tok, err := sdkLogin(m.id, m.jwt)
		if err != nil || !strings.HasPrefix(tok, "gth_") {
			t.Fatalf("Infisical SDK, %s mode through the gateway process: %q, %v\n%s", m.name, tok, err, gw.out.String())
		}
		last, _ := c.LastTokenReview()
		switch m.name {
		case "gateway":
			if last.Bearer != gwToken {
				t.Error("gateway mode: the review's bearer is not the gateway's own token")
			}
		case "api (relay)":
			if last.Bearer != reviewer {
				t.Error("api mode: the review's bearer is not the stored reviewer JWT")
			}
		case "local":
			if c.TokenReviewCount() != reviews || len(c.DiscoveryCalls()) == 0 {
				t.Errorf("local mode: %d reviews (want none), %d key reads (want some)", c.TokenReviewCount()-reviews, len(c.DiscoveryCalls()))
			}
		}
	}

	// Vault: one mount per mode, the workload logging in with its token file.
	vcfg := vaultapi.DefaultConfig()
	vcfg.Address, vcfg.MaxRetries = base, 0
	if err := vcfg.ConfigureTLS(&vaultapi.TLSConfig{CACert: certFile}); err != nil {
		t.Fatal(err)
	}
	admin, err := vaultapi.NewClient(vcfg)
	if err != nil {
		t.Fatal(err)
	}
	admin.SetToken(root)
	mounts := map[string]map[string]any{
		"gw-review": {"token_review_mode": "gateway", "gateway_id": gwID},
		"gw-relay":  {"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": reviewer, "gateway_id": gwID},
		"gw-local": {"token_review_mode": "local", "kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(),
			"token_reviewer_jwt": reviewer, "gateway_id": gwID},
	}
	jwtFile := writeFile(t, dir, "workload-jwt", c.Token("apps", "web"))
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
		workload, err := vaultapi.NewClient(vcfg)
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
			t.Fatalf("Vault client, mount %s through the gateway process: %v %+v\n%s", m, err, sec, gw.out.String())
		}
	}

	// Killed outright: the server sees the connection end, and logins
	// answer 503 with the gateway's error name, issuing nothing.
	gw.kill()
	login := func(id, jwt string) (int, map[string]any) {
		t.Helper()
		return call("POST", "/api/v1/auth/kubernetes-auth/login", "", map[string]any{"identityId": id, "jwt": jwt})
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, body = login(modes[0].id, modes[0].jwt)
		if body["error"] == "GatewayNotConnected" {
			break
		}
		// Until the server has seen the connection end, a login may still
		// be cut on it (503 GatewayConnectionLost).
		if status != 503 || body["error"] != "GatewayConnectionLost" || time.Now().After(deadline) {
			t.Fatalf("login with the gateway process killed: %d %v", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Local mode keeps the keys it read (read again after 10 minutes, used
	// up to an hour when that fails): its logins need no gateway meanwhile.
	for _, m := range modes {
		status, body = login(m.id, m.jwt)
		if m.name == "local" {
			if status != 200 {
				t.Errorf("local mode with the gateway gone, keys kept: %d %v", status, body)
			}
		} else if status != 503 || body["error"] != "GatewayNotConnected" || body["accessToken"] != nil {
			t.Errorf("%s mode with the gateway gone: %d %v", m.name, status, body)
		}
	}
	var apiErr *sdkerrors.APIError
	if _, err := sdkLogin(modes[0].id, modes[0].jwt); !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
		t.Errorf("Infisical SDK with the gateway gone: %v", err)
	}

	// Started again: the same record, and every mode logs in.
	gw = startProcess(t, gwArgs...)
	logs = append(logs, gw)
	waitStatus(t, "http://"+health+"/readyz", 200)
	for _, m := range modes {
		if tok, err := sdkLogin(m.id, m.jwt); err != nil || !strings.HasPrefix(tok, "gth_") {
			t.Errorf("%s mode after the gateway's restart: %v", m.name, err)
		}
	}
	if status, body = call("GET", "/api/v2/gateways", root, nil); len(body["gateways"].([]any)) != 1 {
		t.Errorf("the restart made another record: %v", body)
	}

	for _, p := range logs {
		p.kill()
		for _, secret := range []string{clientSecret, root, "gth_", reviewer} {
			if strings.Contains(p.out.String(), secret) {
				t.Errorf("%s logged a secret", p.cmd.Args[1])
			}
		}
	}
}
