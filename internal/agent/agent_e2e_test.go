package agent_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/internal/agent"
	"github.com/gatehouse-dev/gatehouse/internal/client"
	"github.com/gatehouse-dev/gatehouse/internal/client/clienttest"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// eventually polls cond until it holds, failing after a generous bound (a
// loaded machine must not fail the test; nothing here asserts timing).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// metric is the value of a metric (with the label kind=kind when kind is
// not empty) in reg.
func metric(t *testing.T, reg *prometheus.Registry, name, kind string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if kind != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != kind) {
				continue
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}

// lifecycle is one API's setup for TestAgentLifecycle.
type lifecycle struct {
	api    client.API
	setup  func(s *clienttest.Server, c *kubetest.Cluster) client.Credentials
	revoke func(s *clienttest.Server, tok string)
}

// TestAgentLifecycle runs the agent against a real server and the test
// Kubernetes API server with a 3 s TTL and a 7 s max TTL, through
// renewals; a re-login at max TTL with the rotated JWT; a revoked token;
// the server down and back; a deleted service account (failures reported,
// retried, the sink never written with a bad token); and a stop that
// revokes the token.
func TestAgentLifecycle(t *testing.T) {
	for name, tc := range map[string]lifecycle{
		"infisical": {api: client.Infisical, setup: func(s *clienttest.Server, c *kubetest.Cluster) client.Credentials {
			return client.Credentials{Method: client.Kubernetes, IdentityID: s.KubeIdentity(c, 3, 7)}
		}},
		"vault": {api: client.Vault, setup: func(s *clienttest.Server, c *kubetest.Cluster) client.Credentials {
			s.VaultRole(c, "k8s", "app", 3, 7)
			return client.Credentials{Method: client.Kubernetes, Role: "app"}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testAgentLifecycle(t, tc)
		})
	}
}

func testAgentLifecycle(t *testing.T, tc lifecycle) {
	srv := clienttest.Start(t)
	c := kubetest.New(t)
	base := tc.setup(srv, c)
	dir := t.TempDir()
	jwtFile, sink, envFile := filepath.Join(dir, "jwt"), filepath.Join(dir, "token"), filepath.Join(dir, "token.env")
	writeJWT := func(jwt string) {
		t.Helper()
		if err := agent.WriteFileAtomic(jwtFile, []byte(jwt), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	jwt1 := c.Token("apps", "web")
	writeJWT(jwt1)
	reg := prometheus.NewRegistry()
	cl := &client.Client{Address: srv.URL(), API: tc.api, Mount: "k8s", HTTP: &http.Client{Timeout: 5 * time.Second}}
	a, err := agent.New(agent.Config{
		Client: cl,
		Credentials: func() (client.Credentials, error) {
			b, err := os.ReadFile(jwtFile)
			cr := base
			cr.JWT = string(b)
			return cr, err
		},
		Sinks: []agent.Sink{
			agent.FileSink{Path: sink, Mode: 0o640},
			agent.TemplateSink{Path: envFile, Mode: 0o600, Template: template.Must(template.New("env").Parse("GATEHOUSE_TOKEN={{.Token}}\n"))},
		},
		Registry: reg, RetryMin: 50 * time.Millisecond, RetryMax: 400 * time.Millisecond,
		RequestTimeout: 5 * time.Second, RevokeOnExit: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	health := httptest.NewServer(a.Handler())
	defer health.Close()
	healthz := func() int {
		resp, err := http.Get(health.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 && !strings.Contains(string(b), "no token yet") {
			t.Logf("healthz: %d %s", resp.StatusCode, b)
		}
		return resp.StatusCode
	}
	if code := healthz(); code != 503 {
		t.Errorf("healthz before a login = %d, want 503", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	// Every token the sink ever holds must be one the server issued and
	// that was valid when written: watch the sink throughout.
	seen := map[string]bool{}
	check := func() string {
		t.Helper()
		tok := readFile(t, sink)
		if tok == "" {
			return ""
		}
		if !strings.HasPrefix(tok, "gth_") {
			t.Fatalf("the sink holds %q, not a token", tok)
		}
		if env := readFile(t, envFile); !seen[tok] && env != "" && !strings.HasPrefix(env, "GATEHOUSE_TOKEN=gth_") {
			t.Fatalf("the env file holds %q", env)
		}
		seen[tok] = true
		return tok
	}

	// 1. First login.
	eventually(t, "first token", func() bool { return check() != "" })
	t1 := check()
	if !srv.TokenValid(t1) {
		t.Fatal("the first token does not look up")
	}
	if fi, err := os.Stat(sink); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("sink mode = %v, %v; want 0640", fi.Mode(), err)
	}
	// (the sinks are written just before the agent takes the token as its
	// own, so /healthz may lag the file by a moment)
	eventually(t, "healthz 200 with a token", func() bool { return healthz() == 200 })

	// 2. The kubelet rotates the projected JWT; the agent renews, then at
	// the max TTL logs in again with the new JWT (never the first).
	jwt2 := c.Token("apps", "web")
	writeJWT(jwt2)
	eventually(t, "a renewal", func() bool { check(); return metric(t, reg, "gatehouse_agent_renewals_total", "") >= 1 })
	eventually(t, "a re-login at max TTL", func() bool { return check() != t1 })
	t2 := check()
	if last, ok := c.LastTokenReview(); !ok || last.Token != jwt2 {
		t.Fatal("the re-login did not send the rotated JWT")
	}
	if !srv.TokenValid(t2) {
		t.Fatal("the re-login's token does not look up")
	}

	// 3. The token is revoked: the next renewal is refused and the agent
	// logs in again.
	srv.RevokeToken(t2)
	eventually(t, "a new token after revocation", func() bool { return check() != t2 })
	if metric(t, reg, "gatehouse_agent_failures_total", agent.KindRenewRefused) < 1 {
		t.Error("the refused renewal was not counted")
	}
	t3 := check()

	// 4. The server goes away for a while, then comes back: the agent
	// counts the failures, keeps the last good token in the sink, and
	// carries on with a valid token.
	srv.Down()
	eventually(t, "failures while the server is down", func() bool {
		return metric(t, reg, "gatehouse_agent_failures_total", agent.KindRenewUnavailable)+
			metric(t, reg, "gatehouse_agent_failures_total", agent.KindLoginUnavailable) >= 2
	})
	if got := check(); got != t3 {
		t.Fatal("the sink changed while the server was down")
	}
	srv.Up()
	successBefore := metric(t, reg, "gatehouse_agent_last_success_timestamp_seconds", "")
	eventually(t, "a success after the server came back", func() bool {
		check()
		return metric(t, reg, "gatehouse_agent_last_success_timestamp_seconds", "") > successBefore
	})
	t4 := check()
	if !srv.TokenValid(t4) {
		t.Fatal("the token after the outage does not look up")
	}

	// 5. The service account is deleted and the token revoked: every login
	// is refused; the agent reports it, keeps retrying and never writes.
	c.DeleteServiceAccount("apps", "web")
	srv.RevokeToken(t4)
	refusedBefore := metric(t, reg, "gatehouse_agent_failures_total", agent.KindLoginRefused)
	eventually(t, "refused logins", func() bool {
		return metric(t, reg, "gatehouse_agent_failures_total", agent.KindLoginRefused) >= refusedBefore+3
	})
	if got := check(); got != t4 {
		t.Fatal("the sink was written while every login was refused")
	}
	if st := a.Status(); !strings.Contains(st.LastError, "login_refused") {
		t.Errorf("last error = %q", st.LastError)
	}
	// The account is created again (a new UID) and its new token
	// projected: the agent recovers by itself.
	writeJWT(c.Token("apps", "web"))
	eventually(t, "recovery", func() bool { return check() != t4 })
	t5 := check()
	if !srv.TokenValid(t5) {
		t.Fatal("the recovered token does not look up")
	}

	// 6. Stop: Run returns nil and, with RevokeOnExit, the token is revoked.
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	done <- nil
	if srv.TokenValid(t5) {
		t.Error("the token is still valid after a stop with RevokeOnExit")
	}
	body := scrape(t, health.URL+"/metrics")
	for _, m := range []string{"gatehouse_agent_last_success_timestamp_seconds", "gatehouse_agent_token_expiry_timestamp_seconds", `gatehouse_agent_failures_total{kind="login_refused"}`} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	for tok := range seen {
		if strings.Contains(body, tok) {
			t.Error("a token reached /metrics")
		}
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
