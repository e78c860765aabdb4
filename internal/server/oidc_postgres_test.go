package server_test

import (
	"context"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
)

// TestOIDCReplicasShareOneKeySet: two replicas on one PostgreSQL publish
// one key set and rotate once between them; a JWT signed by either
// verifies with the keys fetched from the other, before and after a
// rotation.
func TestOIDCReplicasShareOneKeySet(t *testing.T) {
	url := pgtest.URL(t)
	clock := &testClock{t: time.Now().UTC()}
	cfg := server.Config{Storage: url, EncryptionKey: testKey, Now: clock.Now, OIDC: rotatingConfig}
	cfg.OIDC.Issuer = "https://gatehouse.example.com" // the load balancer
	a := newTestServerWith(t, cfg)
	b := newTestServerWith(t, cfg)
	id, tok := a.uaToken("member")
	a.setAudiences(id, "sts.amazonaws.com")

	ctx := context.Background()
	verifierOf := func(ts *testServer) *gooidc.IDTokenVerifier {
		keys := gooidc.NewRemoteKeySet(gooidc.ClientContext(ctx, ts.http.Client()), ts.http.URL+"/.well-known/jwks.json")
		return gooidc.NewVerifier(cfg.OIDC.Issuer, keys, &gooidc.Config{ClientID: "sts.amazonaws.com", Now: clock.Now, SupportedSigningAlgs: []string{"ES256"}})
	}
	fromA, fromB := verifierOf(a), verifierOf(b)
	cross := func(when string) string {
		t.Helper()
		ja, jb := a.exchange(tok, "sts.amazonaws.com"), b.exchange(tok, "sts.amazonaws.com")
		if _, err := fromB.Verify(ctx, ja); err != nil {
			t.Errorf("%s: a's JWT with b's keys: %v", when, err)
		}
		if _, err := fromA.Verify(ctx, jb); err != nil {
			t.Errorf("%s: b's JWT with a's keys: %v", when, err)
		}
		if kidOf(t, ja) != kidOf(t, jb) {
			t.Errorf("%s: the replicas sign with different keys", when)
		}
		return kidOf(t, ja)
	}
	first := cross("before the rotation")

	// Both replicas find the rotation due at the same moment.
	clock.Advance(4 * time.Hour)
	var wg sync.WaitGroup
	for _, ts := range []*testServer{a, b} {
		wg.Go(func() {
			if err := ts.srv.OIDC().Keys().Refresh(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	refresh(t, a)
	refresh(t, b)
	keys, err := a.srv.Store().ListSigningKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("%d keys after both replicas rotated (%v), want 2", len(keys), err)
	}
	ja, _ := a.srv.OIDC().Keys().JWKS()
	jb, _ := b.srv.OIDC().Keys().JWKS()
	if string(ja) != string(jb) {
		t.Error("the replicas publish different key sets")
	}
	if kid := cross("during the publish lead"); kid != first {
		t.Error("the new key signed during its publish lead")
	}
	clock.Advance(time.Hour)
	refresh(t, a)
	refresh(t, b)
	if kid := cross("after the rotation"); kid == first {
		t.Error("the new key does not sign after the lead")
	}
}
