package server_test

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.RunMain(m) }

func TestPostgresUseLimitOverHTTP(t *testing.T) {
	ts := newTestServerWith(t, server.Config{Storage: pgtest.URL(t), EncryptionKey: testKey})
	tok, _ := ts.methodToken(store.TokenPolicy{NumUsesLimit: 10})
	if got := concurrentUses(t, []*testServer{ts}, tok, 200); got != 10 {
		t.Fatalf("%d requests succeeded, want exactly 10", got)
	}
}

// TestTwoReplicasShareOnePostgres runs two Gatehouse servers on one
// PostgreSQL database, as replicas behind a load balancer would: use limits
// hold across both, and a revocation on one reaches the other's cached
// checks (through NOTIFY; at worst within the cache's 1 s TTL).
func TestTwoReplicasShareOnePostgres(t *testing.T) {
	url := pgtest.URL(t)
	a := newTestServerWith(t, server.Config{Storage: url, EncryptionKey: testKey})
	b := newTestServerWith(t, server.Config{Storage: url, EncryptionKey: testKey})

	tok, _ := a.methodToken(store.TokenPolicy{NumUsesLimit: 10})
	if got := concurrentUses(t, []*testServer{a, b}, tok, 200); got != 10 {
		t.Fatalf("%d requests succeeded across two replicas, want exactly 10", got)
	}

	other, _ := a.methodToken(store.TokenPolicy{})
	if r := b.do("GET", "/api/v1/auth/token/lookup", other, nil); r.status != 200 {
		t.Fatalf("replica b does not accept a token issued on a: %d %s", r.status, r.raw)
	}
	if r := a.do("POST", "/api/v1/auth/token/revoke", "", map[string]string{"accessToken": other}); r.status != 200 {
		t.Fatalf("revoke on a: %d %s", r.status, r.raw)
	}
	deadline := time.Now().Add(30 * time.Second)
	for b.do("GET", "/api/v1/auth/token/lookup", other, nil).status == 200 {
		if time.Now().After(deadline) {
			t.Fatal("replica b never saw the revocation made on a")
		}
		time.Sleep(5 * time.Millisecond)
	}
	errorBodyOK(t, b.do("GET", "/api/v1/auth/token/lookup", other, nil), 401, "TokenRevoked")
}

func TestPostgresNeedsAnEncryptionKey(t *testing.T) {
	_, err := server.New(t.Context(), server.Config{Storage: pgtest.URL(t)})
	if err == nil {
		t.Fatal("a PostgreSQL server started without an encryption key")
	}
}
