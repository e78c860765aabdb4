package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
)

// TestGenerateRootPostgres: generate-root refuses a PostgreSQL database
// without Gatehouse's schema; on a replica's store it says the store is
// shared, and a running replica accepts the new token, and drops revoked
// ones, at once.
func TestGenerateRootPostgres(t *testing.T) {
	url := pgtest.URL(t)
	if _, err := server.GenerateRoot(t.Context(), url, false, nil, nil); err == nil || !strings.Contains(err.Error(), "does not create a store") {
		t.Fatalf("GenerateRoot on an empty database: %v", err)
	}
	ts := newTestServerWith(t, server.Config{Storage: url, EncryptionKey: testKey})
	if r := ts.do("GET", "/api/v1/identities", ts.root, nil); r.status != 200 {
		t.Fatalf("bootstrap root token: %d", r.status)
	}
	res, err := server.GenerateRoot(t.Context(), url, true, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Shared || res.Revoked != 1 {
		t.Errorf("result = %+v, want Shared and 1 revoked", res)
	}
	if r := ts.do("GET", "/api/v1/identities", res.Token.Reveal(), nil); r.status != 200 {
		t.Errorf("the running replica refused the new root token: %d", r.status)
	}
	deadline := time.Now().Add(30 * time.Second)
	for ts.do("GET", "/api/v1/identities", ts.root, nil).status == 200 {
		if time.Now().After(deadline) {
			t.Fatal("the running replica still accepts the revoked root token")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
