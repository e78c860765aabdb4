package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/buildinfo"
	"github.com/gatehouse-dev/gatehouse/internal/logtest"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
)

// syncBuffer is a log sink the code under test and the test may share.
type syncBuffer = logtest.Buffer

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startCommand runs the gatehouse command line in-process until the test
// ends, and returns its output.
func startCommand(t *testing.T, args ...string) (*syncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	cmd := newRootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(out)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("server did not stop")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return out, stop
}

func waitHealthy(t *testing.T, addr string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("server at %s never became healthy", addr)
}

func TestDevServerAcceptsItsRootToken(t *testing.T) {
	addr := freeAddr(t)
	out, stop := startCommand(t, "server", "--dev", "--dev-root-token=s3cret-dev-value", "--listen", addr)
	waitHealthy(t, addr)
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/auth/token/lookup-self", nil)
	req.Header.Set("X-Vault-Token", "s3cret-dev-value")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("root token lookup-self = %d", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "s3cret-dev-value") {
		t.Errorf("the root token reached the output:\n%s", out.String())
	}
}

func TestFirstStartPrintsRootTokenAndGenerateRootRecovers(t *testing.T) {
	dir := t.TempDir()
	storage := "sqlite://" + filepath.Join(dir, "g.db")
	addr := freeAddr(t)
	t.Setenv("GATEHOUSE_LISTEN", addr) // flags have GATEHOUSE_* equivalents
	out, stop := startCommand(t, "server", "--storage", storage)
	waitHealthy(t, addr)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "gth_") {
		t.Fatalf("first start did not print a root token:\n%s", out.String())
	}

	cmd := newRootCommand()
	var stdout, stderr bytes.Buffer
	cmd.SetArgs([]string{"operator", "generate-root", "--storage", storage})
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	root := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(root, "gth_") {
		t.Fatalf("generate-root printed %q", root)
	}

	_, stop = startCommand(t, "server", "--storage", storage)
	waitHealthy(t, addr)
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/identities", nil)
	req.Header.Set("Authorization", "Bearer "+root)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("recovered root token: %d", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestBadFlags(t *testing.T) {
	cases := [][]string{
		{"server", "--dev", "--listen", "0.0.0.0:0"},
		{"server", "--dev-root-token", "x"},
		{"server", "--tls-cert", "a.pem"},
		{"server", "--log-format", "xml"},
		{"server", "--trusted-proxies", "10.0.0.0/33"},
		{"server", "--storage", "mysql://x"},
		{"server", "--kube-timeout", "0s"},
		{"server", "--kube-review-cache-ttl", "11m"},
		{"server", "--kube-review-cache-ttl", "-1s"},
		{"server", "--login-rate-limit", "-1"},
		{"server", "--login-rate-limit", "NaN"},
		{"server", "--login-rate-burst", "0"},
		{"server", "--audit-retention", "-1h"},
	}
	for _, args := range cases {
		cmd := newRootCommand()
		cmd.SetArgs(args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		if err := cmd.Execute(); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestVersion: `gatehouse --version` and `gatehouse version` print the
// version, commit and Go version stamped into the build.
func TestVersion(t *testing.T) {
	old := buildinfo.Version
	buildinfo.Version = "v9.9.9-test"
	t.Cleanup(func() { buildinfo.Version = old })
	want := buildinfo.Get().String() + "\n"
	if !strings.Contains(want, "v9.9.9-test") || !strings.Contains(want, runtime.Version()) {
		t.Fatalf("build info %q lacks the version or Go version", want)
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		cmd := newRootCommand()
		var out bytes.Buffer
		cmd.SetArgs(args)
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if out.String() != want {
			t.Errorf("%v printed %q, want %q", args, out.String(), want)
		}
	}
}

// TestFailedStartCreatesNothing: a server that cannot listen (port in use,
// bad address) or load its certificate fails before it creates a store, a
// key or a root token.
func TestFailedStartCreatesNothing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := map[string][]string{
		"port in use":         {"--listen", busy.Addr().String()},
		"bad address":         {"--listen", "nonsense"},
		"missing TLS files":   {"--listen", "127.0.0.1:0", "--tls-cert", "missing.pem", "--tls-key", "missing.pem"},
		"dev and port in use": {"--dev", "--listen", busy.Addr().String()},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := newRootCommand()
			var out bytes.Buffer
			cmd.SetArgs(append([]string{"server", "--storage", "sqlite://" + filepath.Join(dir, "g.db")}, args...))
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			if err := cmd.Execute(); err == nil {
				t.Fatalf("the server started:\n%s", out.String())
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("a failed start created %v", entries)
			}
			if strings.Contains(out.String(), "gth_") || strings.Contains(out.String(), "Root token") {
				t.Errorf("a failed start printed a root token:\n%s", out.String())
			}
		})
	}
}

// runCommand runs the command line to completion.
func runCommand(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// rootTokenStatus is the status of an API call made with tok.
func rootTokenStatus(t *testing.T, addr, tok string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/identities", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestGenerateRootRefusesMissingStore: a mistyped --storage is refused and
// nothing is created.
func TestGenerateRootRefusesMissingStore(t *testing.T) {
	dir := t.TempDir()
	for _, storage := range []string{"sqlite://" + filepath.Join(dir, "typo.db"), "sqlite://" + filepath.Join(dir, "sub", "typo.db")} {
		stdout, stderr, err := runCommand(t, "operator", "generate-root", "--storage", storage)
		if err == nil || !strings.Contains(err.Error(), "does not create a store") {
			t.Errorf("%s: err = %v", storage, err)
		}
		if strings.Contains(stdout+stderr, "gth_") {
			t.Errorf("%s: a token was printed", storage)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("generate-root created %v", entries)
	}
}

// TestGenerateRoot: generate-root refuses a store a running server holds;
// with the server stopped it issues an audited root token, older root
// tokens stay valid, and --revoke-others revokes them.
func TestGenerateRoot(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "g.db")
	storage := "sqlite://" + dbPath
	addr := freeAddr(t)
	out, stop := startCommand(t, "server", "--storage", storage, "--listen", addr)
	waitHealthy(t, addr)
	var first string
	for _, f := range strings.Fields(out.String()) {
		if strings.HasPrefix(f, "gth_") {
			first = f
		}
	}
	if first == "" {
		t.Fatalf("no root token printed:\n%s", out.String())
	}
	if _, _, err := runCommand(t, "operator", "generate-root", "--storage", storage); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("generate-root while the server runs: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, err := runCommand(t, "operator", "generate-root", "--storage", storage)
	if err != nil {
		t.Fatal(err)
	}
	second := strings.TrimSpace(stdout)
	if !strings.Contains(stderr, "Older root tokens stay valid") {
		t.Errorf("stderr does not say older tokens stay valid:\n%s", stderr)
	}
	stdout, stderr, err = runCommand(t, "operator", "generate-root", "--storage", storage, "--revoke-others")
	if err != nil {
		t.Fatal(err)
	}
	third := strings.TrimSpace(stdout)
	if !strings.Contains(stderr, "Revoked 2 other root token(s)") {
		t.Errorf("stderr = %s", stderr)
	}

	st, err := sqlite.Open(t.Context(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	events, _, err := st.ListAuditEvents(t.Context(), 0, 100)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var created, revoked int
	for _, e := range events {
		if e.ActorID == "operator" && e.Type == "root-token.create" {
			created++
		}
		if e.ActorID == "operator" && e.Type == "token.revoke" && e.Details["root_tokens_revoked"] == "2" {
			revoked++
		}
	}
	if created != 2 || revoked != 1 {
		t.Errorf("audit log: %d root-token.create and %d token.revoke by operator, want 2 and 1: %+v", created, revoked, events)
	}

	_, stop = startCommand(t, "server", "--storage", storage, "--listen", addr)
	waitHealthy(t, addr)
	for tok, want := range map[string]int{first: 401, second: 401, third: 200} {
		if got := rootTokenStatus(t, addr, tok); got != want {
			t.Errorf("root token %s…: %d, want %d", tok[:8], got, want)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestRootTokenFileFlag: with --root-token-file and JSON logs, the token
// is only in the file and every line of output is JSON.
func TestRootTokenFileFlag(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "root-token")
	addr := freeAddr(t)
	out, stop := startCommand(t, "server", "--storage", "sqlite://"+filepath.Join(dir, "g.db"), "--listen", addr,
		"--log-format", "json", "--root-token-file", file)
	waitHealthy(t, addr)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(tok, "gth_") || strings.Contains(out.String(), tok) {
		t.Errorf("file %q; output:\n%s", raw, out.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("not a JSON line: %q", line)
		}
	}
}
