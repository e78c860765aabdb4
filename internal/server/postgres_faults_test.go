package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
)

// Issue 11, items 8 to 12, against a real PostgreSQL that the test freezes,
// stops and restarts.

// storeTimeoutUnderTest is short, so that the tests take seconds, but long
// enough that a loaded machine (-race, parallel packages) answers the
// setup's store calls within it.
const storeTimeoutUnderTest = 2 * time.Second

// waitFor polls cond until it holds, failing after a generous while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A frozen database is a fast 503 with Retry-After for logins and token
// checks on both APIs; a login that timed out spent nothing of its
// single-use secret; the server recovers by itself when the database
// resumes; the outage is logged once, not once per request.
func TestPostgresFrozenOverHTTP(t *testing.T) {
	pg := pgtest.StartServer(t)
	var logs syncBuffer
	ts := newTestServerWith(t, server.Config{Storage: pg.URL(), EncryptionKey: testKey, StoreTimeout: storeTimeoutUnderTest,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	id, clientID := ts.newUA(nil)
	single, _ := ts.createSecret(id, map[string]any{"numUsesLimit": 1})
	other, _ := ts.createSecret(id, nil)
	r := ts.uaLogin(clientID, other, nil)
	if r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	tok := r.body["accessToken"].(string)
	login := func() (result, http.Header) {
		return ts.send("POST", uaBase+"/login", nil, map[string]string{"clientId": clientID, "clientSecret": single})
	}

	pg.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			pg.Thaw()
		}
	}()
	cases := []struct {
		name  string
		vault bool
		req   func() (result, http.Header)
	}{
		{"universal auth login", false, login},
		{"infisical token lookup", false, func() (result, http.Header) {
			return ts.send("GET", "/api/v1/auth/token/lookup", map[string]string{"Authorization": "Bearer " + tok}, nil)
		}},
		{"vault lookup-self", true, func() (result, http.Header) {
			return ts.send("GET", "/v1/auth/token/lookup-self", map[string]string{"X-Vault-Token": tok}, nil)
		}},
	}
	// All at once, as clients would.
	type answer struct {
		r    result
		h    http.Header
		took time.Duration
	}
	answers := make([]answer, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			start := time.Now()
			r, h := c.req()
			answers[i] = answer{r, h, time.Since(start)}
		})
	}
	wg.Wait()
	for i, c := range cases {
		a := answers[i]
		if a.took > 20*time.Second {
			t.Errorf("%s on a frozen database took %v (store timeout %v)", c.name, a.took, storeTimeoutUnderTest)
		}
		t.Run(c.name, func(t *testing.T) { unavailableOK(t, a.r, a.h, c.vault) })
	}
	if r := ts.do("GET", "/readyz", "", nil); r.status != 503 {
		t.Errorf("/readyz with the database frozen: %d %s", r.status, r.raw)
	}
	pg.Thaw()
	thawed = true

	// The single-use secret was not spent by the login that timed out.
	var last result
	waitFor(t, "a login after the database resumed", func() bool {
		last, _ = login()
		return last.status != 503
	})
	if last.status != 200 {
		t.Fatalf("login with the single-use secret after the outage: %d %s", last.status, last.raw)
	}
	waitFor(t, "/readyz after the outage", func() bool { return ts.do("GET", "/readyz", "", nil).status == 200 })

	out := logs.String()
	if n := strings.Count(out, `msg="store unavailable`); n != 1 {
		t.Errorf("the outage was logged %d times at its start, want once:\n%s", n, out)
	}
	if !strings.Contains(out, `msg="store available again"`) {
		t.Errorf("the end of the outage was not logged:\n%s", out)
	}
	if n := strings.Count(out, "level=ERROR"); n != 0 {
		t.Errorf("%d ERROR lines during a store outage, want 0:\n%s", n, out)
	}
}

// A stopped database: 503 (connection refused), and recovery without a
// restart of Gatehouse when it is back.
func TestPostgresStoppedOverHTTP(t *testing.T) {
	pg := pgtest.StartServer(t)
	ts := newTestServerWith(t, server.Config{Storage: pg.URL(), EncryptionKey: testKey, StoreTimeout: storeTimeoutUnderTest})
	id, clientID := ts.newUA(nil)
	secret, _ := ts.createSecret(id, nil)
	login := func() (result, http.Header) {
		return ts.send("POST", uaBase+"/login", nil, map[string]string{"clientId": clientID, "clientSecret": secret})
	}
	pg.Stop()
	r, h := login()
	unavailableOK(t, r, h, false)
	if r := ts.do("GET", "/readyz", "", nil); r.status != 503 {
		t.Errorf("/readyz with the database stopped: %d %s", r.status, r.raw)
	}
	pg.Start()
	waitFor(t, "a login after the database restarted", func() bool { r, _ := login(); return r.status == 200 })
	waitFor(t, "/readyz after the restart", func() bool { return ts.do("GET", "/readyz", "", nil).status == 200 })
}

// A replica started while the database is down retries (logging each
// attempt, without the password) and comes up by itself once it is back;
// with no patience it gives up at once, saying the store is unavailable.
func TestReplicaStartsDuringPostgresOutage(t *testing.T) {
	pg := pgtest.StartServer(t)
	pg.Stop()
	url := strings.Replace(pg.URL(), "postgres@", "postgres:hunter2@", 1)

	start := time.Now()
	_, err := server.New(t.Context(), server.Config{Storage: url, EncryptionKey: testKey, Out: io.Discard})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("start with the database down and no --store-connect-timeout: %v, want store.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("giving up at once took %v", d)
	}

	var logs syncBuffer
	type started struct {
		srv *server.Server
		err error
	}
	done := make(chan started, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		srv, err := server.New(ctx, server.Config{Storage: url, EncryptionKey: testKey, Out: io.Discard,
			StoreConnectTimeout: 5 * time.Minute, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		done <- started{srv, err}
	}()
	waitFor(t, "a retry to be logged", func() bool { return strings.Contains(logs.String(), "store unavailable; retrying") })
	pg.Start()
	var s started
	select {
	case s = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the replica did not come up after the database was back")
	}
	if s.err != nil {
		t.Fatalf("start during an outage: %v", s.err)
	}
	defer s.srv.Close()
	if out := logs.String(); strings.Contains(out, "hunter2") || !strings.Contains(out, "REDACTED") {
		t.Errorf("retry logs do not redact the password:\n%s", out)
	}
	hs := httptest.NewServer(s.srv.Handler())
	defer hs.Close()
	resp, err := hs.Client().Get(hs.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/readyz of the replica: %d", resp.StatusCode)
	}
}
