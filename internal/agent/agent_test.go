package agent_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/internal/agent"
	"github.com/gatehouse-dev/gatehouse/internal/client"
	"github.com/gatehouse-dev/gatehouse/internal/client/clienttest"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// closedAddress is a loopback URL nothing listens on.
func closedAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// recordingSleep records the waits asked for and stops the agent after n.
type recordingSleep struct {
	mu     sync.Mutex
	waits  []time.Duration
	n      int
	cancel context.CancelFunc
}

func (r *recordingSleep) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	if len(r.waits) >= r.n {
		r.cancel()
	}
	r.mu.Unlock()
	return ctx.Err()
}

// TestAgentBackoff: failed logins (a server that is not there) are retried
// after exponentially growing waits, capped, with jitter over the upper
// half; the clock and the wait are injected, so nothing here waits.
func TestAgentBackoff(t *testing.T) {
	for name, jitter := range map[string]float64{"no jitter": 0, "most jitter": 0.999} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rec := &recordingSleep{n: 10, cancel: cancel}
			reg := prometheus.NewRegistry()
			a, err := agent.New(agent.Config{
				Client: &client.Client{Address: closedAddress(t), HTTP: &http.Client{Timeout: 5 * time.Second}},
				Credentials: func() (client.Credentials, error) {
					return client.Credentials{Method: client.Universal, ClientID: "id", ClientSecret: "s"}, nil
				},
				Sinks:    []agent.Sink{agent.FileSink{Path: filepath.Join(t.TempDir(), "token")}},
				Registry: reg, Sleep: rec.sleep, Jitter: func() float64 { return jitter },
				RetryMin: time.Second, RetryMax: 30 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Run(ctx); err != nil {
				t.Fatalf("Run = %v", err)
			}
			want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30, 30, 30}
			for i, w := range want {
				full := w * time.Second
				if got, lo := rec.waits[i], full/2; got < lo || got > full {
					t.Errorf("wait %d = %v, want within [%v, %v]", i, got, lo, full)
				}
			}
			if got := metric(t, reg, "gatehouse_agent_failures_total", agent.KindLoginUnavailable); got != 10 {
				t.Errorf("login_unavailable failures = %v, want 10", got)
			}
		})
	}
}

// TestAgentExitAfterAuth: an init container's agent writes the token and
// returns; one that never logs in returns ErrNotAuthenticated, and a
// sink's file is never created.
func TestAgentExitAfterAuth(t *testing.T) {
	srv := clienttest.Start(t)
	clientID, secret := srv.UniversalIdentity(60, 120)
	sink := filepath.Join(t.TempDir(), "token")
	cfg := agent.Config{
		Client: &client.Client{Address: srv.URL(), HTTP: &http.Client{Timeout: 5 * time.Second}},
		Credentials: func() (client.Credentials, error) {
			return client.Credentials{Method: client.Universal, ClientID: clientID, ClientSecret: secret}, nil
		},
		Sinks:         []agent.Sink{agent.FileSink{Path: sink}},
		ExitAfterAuth: true, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	tok, err := os.ReadFile(sink)
	if err != nil || !srv.TokenValid(string(tok)) {
		t.Fatalf("sink = %q, %v: not a valid token", tok, err)
	}
	if fi, _ := os.Stat(sink); fi.Mode().Perm() != 0o600 {
		t.Errorf("sink mode %v, want 0600 (the default)", fi.Mode())
	}

	// A wrong secret: refused every time; the agent stops with
	// ErrNotAuthenticated when told to, having written nothing.
	other := filepath.Join(t.TempDir(), "token")
	cfg.Sinks = []agent.Sink{agent.FileSink{Path: other}}
	cfg.Credentials = func() (client.Credentials, error) {
		return client.Credentials{Method: client.Universal, ClientID: clientID, ClientSecret: "wrong"}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	cfg.Registry = reg
	cfg.Sleep = func(ctx context.Context, d time.Duration) error {
		if metric(t, reg, "gatehouse_agent_failures_total", agent.KindLoginRefused) >= 3 {
			cancel()
		}
		return ctx.Err()
	}
	if a, err = agent.New(cfg); err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); !errors.Is(err, agent.ErrNotAuthenticated) {
		t.Fatalf("Run = %v, want ErrNotAuthenticated", err)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("a refused login created the sink: %v", err)
	}
	if st := a.Status(); st.LastError == "" || strings.Contains(st.LastError, "wrong") {
		t.Errorf("last error %q: want the refusal, without the secret", st.LastError)
	}
}

// TestAgentDoesNotSendExpiredJWT: a JWT file whose token has expired (the
// kubelet has not rotated it yet) is not replayed to the server: the
// failure is counted as jwt_expired and no TokenReview is made.
func TestAgentDoesNotSendExpiredJWT(t *testing.T) {
	srv := clienttest.Start(t)
	c := kubetest.New(t)
	id := srv.KubeIdentity(c, 60, 120)
	reviewsBefore := c.TokenReviewCount()
	jwt := c.Token("apps", "web") // expires within hours; the agent's clock is two days on
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := prometheus.NewRegistry()
	sleeps := 0 // Run's goroutine only
	a, err := agent.New(agent.Config{
		Client: &client.Client{Address: srv.URL(), HTTP: &http.Client{Timeout: 5 * time.Second}},
		Credentials: func() (client.Credentials, error) {
			return client.Credentials{Method: client.Kubernetes, IdentityID: id, JWT: jwt}, nil
		},
		Sinks:    []agent.Sink{agent.FileSink{Path: filepath.Join(t.TempDir(), "token")}},
		Registry: reg,
		Now:      func() time.Time { return time.Now().Add(48 * time.Hour) },
		Sleep: func(ctx context.Context, d time.Duration) error {
			sleeps++
			if sleeps >= 5 || metric(t, reg, "gatehouse_agent_failures_total", agent.KindJWTExpired) >= 2 {
				cancel()
			}
			return ctx.Err()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n := c.TokenReviewCount() - reviewsBefore; n != 0 {
		t.Errorf("%d TokenReviews: the expired JWT was sent", n)
	}
}
