package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/client/clienttest"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// runCLI runs the command line in-process and answers its standard
// output, standard error and exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		errb.WriteString("Error: " + err.Error() + "\n")
		return out.String(), errb.String(), exitCode(err)
	}
	return out.String(), errb.String(), 0
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLogin runs gatehouse login against a real server and the test
// Kubernetes API server: each method on each API, the JSON format and
// --out.
func TestLogin(t *testing.T) {
	srv := clienttest.Start(t)
	c := kubetest.New(t)
	dir := t.TempDir()
	jwtFile := writeFile(t, dir, "jwt", c.Token("apps", "web")+"\n")
	id := srv.KubeIdentity(c, 60, 120)
	srv.VaultRole(c, "kubernetes", "app", 60, 120)
	clientID, secret := srv.UniversalIdentity(60, 120)
	secretFile := writeFile(t, dir, "secret", secret)

	cases := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"kubernetes infisical", []string{"--method", "kubernetes", "--identity-id", id, "--jwt-file", jwtFile}, nil},
		{"kubernetes vault", []string{"--api", "vault", "--method", "kubernetes", "--role", "app", "--jwt-file", jwtFile}, nil},
		{"universal secret file", []string{"--method", "universal", "--client-id", clientID, "--client-secret-file", secretFile}, nil},
		{"universal from env", []string{"--method", "universal"}, map[string]string{"GATEHOUSE_CLIENT_ID": clientID, "GATEHOUSE_CLIENT_SECRET": secret}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := append([]string{"login", "--address", srv.URL()}, tc.args...)
			out, errOut, code := runCLI(t, args...)
			tok := strings.TrimSpace(out)
			if code != 0 || !srv.TokenValid(tok) {
				t.Fatalf("exit %d, token %q: %s", code, tok, errOut)
			}

			out, errOut, code = runCLI(t, append(args, "--format", "json")...)
			var v struct {
				Token     string `json:"token"`
				TTL       int64  `json:"ttl"`
				ExpiresAt string `json:"expiresAt"`
			}
			if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 {
				t.Fatalf("exit %d, %v: %s %s", code, err, out, errOut)
			}
			if !srv.TokenValid(v.Token) || v.TTL < 55 || v.TTL > 60 || v.ExpiresAt == "" {
				t.Errorf("json = %s", out)
			}

			file := filepath.Join(t.TempDir(), "token")
			out, errOut, code = runCLI(t, append(args, "--out", file)...)
			if code != 0 || out != "" {
				t.Fatalf("--out: exit %d, stdout %q: %s", code, out, errOut)
			}
			fi, err := os.Stat(file)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("--out file: %v, %v", fi, err)
			}
			if b, _ := os.ReadFile(file); !srv.TokenValid(string(b)) {
				t.Errorf("--out file holds %q", b)
			}
		})
	}
}

// TestLoginFailures: bad flags are usage errors (exit 2); an unreachable
// server exits 3; a refusal exits 4 with the server's reason; no secret
// reaches the output.
func TestLoginFailures(t *testing.T) {
	srv := clienttest.Start(t)
	c := kubetest.New(t)
	dir := t.TempDir()
	jwt := c.Token("other-ns", "web") // a namespace no identity or role allows
	jwtFile := writeFile(t, dir, "jwt", jwt)
	id := srv.KubeIdentity(c, 60, 120)
	srv.VaultRole(c, "kubernetes", "app", 60, 120)
	clientID, _ := srv.UniversalIdentity(60, 120)
	closed := closedURL(t)

	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"unknown flag", []string{"--address", srv.URL(), "--bogus"}, 2, "unknown flag"},
		{"no address", []string{"--method", "universal", "--client-id", "x", "--client-secret", "y"}, 2, "--address is required"},
		{"address not a URL", []string{"--address", "gatehouse:8080", "--method", "universal", "--client-id", "x", "--client-secret", "y"}, 2, "http:// or https://"},
		{"no method", []string{"--address", srv.URL()}, 2, "--method is required"},
		{"bad method", []string{"--address", srv.URL(), "--method", "github"}, 2, "want kubernetes or universal"},
		{"bad api", []string{"--address", srv.URL(), "--api", "aws", "--method", "kubernetes"}, 2, "want infisical or vault"},
		{"kubernetes without identity", []string{"--address", srv.URL(), "--method", "kubernetes"}, 2, "--identity-id"},
		{"vault without role", []string{"--address", srv.URL(), "--api", "vault", "--method", "kubernetes"}, 2, "--role"},
		{"universal on vault", []string{"--address", srv.URL(), "--api", "vault", "--method", "universal", "--client-id", "x", "--client-secret", "y"}, 2, "Infisical API method"},
		{"universal without secret", []string{"--address", srv.URL(), "--method", "universal", "--client-id", "x"}, 2, "--client-secret"},
		{"bad format", []string{"--address", srv.URL(), "--method", "universal", "--client-id", "x", "--client-secret", "y", "--format", "yaml"}, 2, "want token or json"},
		{"missing jwt file", []string{"--address", srv.URL(), "--method", "kubernetes", "--identity-id", id, "--jwt-file", filepath.Join(dir, "none")}, 1, "reading the service-account JWT"},
		{"unreachable", []string{"--address", closed, "--method", "universal", "--client-id", clientID, "--client-secret", "s3cret-value"}, 3, "unreachable"},
		{"refused universal", []string{"--address", srv.URL(), "--method", "universal", "--client-id", clientID, "--client-secret", "s3cret-value"}, 4, "401"},
		{"refused kubernetes infisical", []string{"--address", srv.URL(), "--method", "kubernetes", "--identity-id", id, "--jwt-file", jwtFile}, 4, "refused by the server"},
		{"refused kubernetes vault", []string{"--address", srv.URL(), "--api", "vault", "--method", "kubernetes", "--role", "app", "--jwt-file", jwtFile}, 4, "namespace"},
		{"wrong vault mount", []string{"--address", srv.URL(), "--api", "vault", "--mount", "nope", "--method", "kubernetes", "--role", "app", "--jwt-file", jwtFile}, 4, "refused by the server"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, append([]string{"login"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.contains) {
				t.Errorf("exit %d (want %d), stderr %q (want it to say %q)", code, tc.code, errOut, tc.contains)
			}
			if out != "" {
				t.Errorf("stdout %q on a failure", out)
			}
			for _, s := range []string{"s3cret-value", jwt} {
				if strings.Contains(errOut, s) {
					t.Errorf("a secret reached the output: %s", errOut)
				}
			}
		})
	}
}

// TestLoginTLS: the server's certificate is verified unless told
// otherwise: with no --ca-cert a self-signed server is unreachable; with
// its CA the login works.
func TestLoginTLS(t *testing.T) {
	srv := clienttest.Start(t)
	clientID, secret := srv.UniversalIdentity(60, 120)
	tlsSrv := httptest.NewTLSServer(srv.Handler())
	defer tlsSrv.Close()
	ca := writeFile(t, t.TempDir(), "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})))
	args := []string{"login", "--address", tlsSrv.URL, "--method", "universal", "--client-id", clientID, "--client-secret", secret}
	if _, errOut, code := runCLI(t, args...); code != 3 || !strings.Contains(errOut, "certificate") {
		t.Errorf("without --ca-cert: exit %d, %s", code, errOut)
	}
	out, errOut, code := runCLI(t, append(args, "--ca-cert", ca)...)
	if code != 0 || !srv.TokenValid(strings.TrimSpace(out)) {
		t.Errorf("with --ca-cert: exit %d, %s", code, errOut)
	}
}
