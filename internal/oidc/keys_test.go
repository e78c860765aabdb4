package oidc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newSealKey(t testing.TB) seal.Key {
	k, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testConfig rotates every 4h, publishes 1h ahead, refreshes every minute
// and mints JWTs of at most 1h.
var testConfig = oidc.Config{Issuer: "https://issuer.test", Rotation: 4 * time.Hour, PublishLead: time.Hour, Refresh: time.Minute, MaxTTL: time.Hour}

func newKeys(t testing.TB, st store.Store, k seal.Key, c *clock, cfg oidc.Config) *oidc.Keys {
	t.Helper()
	keys, err := oidc.NewKeys(context.Background(), st, k, cfg, c.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func kids(t *testing.T, keys *oidc.Keys) []string {
	t.Helper()
	body, _ := keys.JWKS()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Use != "sig" || k.Algorithm == "" {
			t.Errorf("published key %s: public %v, use %q, alg %q", k.KeyID, k.IsPublic(), k.Use, k.Algorithm)
		}
		out = append(out, k.KeyID)
	}
	return out
}

func signedBy(t *testing.T, keys *oidc.Keys, now time.Time) string {
	t.Helper()
	_, kid, err := keys.Sign([]byte(`{"x":1}`), now)
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

func TestKeysRotationSchedule(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	st := openStore(t)
	keys := newKeys(t, st, newSealKey(t), c, testConfig)
	first := kids(t, keys)
	if len(first) != 1 {
		t.Fatalf("first start published %v, want one key", first)
	}
	a := first[0]
	if got := signedBy(t, keys, c.Now()); got != a {
		t.Fatalf("first key does not sign at once: got %s", got)
	}

	// Just before the rotation is due: nothing new.
	c.Advance(4*time.Hour - time.Second)
	if err := keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, keys); len(got) != 1 {
		t.Fatalf("rotated early: %v", got)
	}
	// Due: B is published at once but does not sign for an hour.
	c.Advance(time.Second)
	if err := keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got := kids(t, keys)
	if len(got) != 2 || got[0] != a {
		t.Fatalf("after rotation published %v, want [%s, new]", got, a)
	}
	b := got[1]
	if kid := signedBy(t, keys, c.Now().Add(time.Hour-time.Second)); kid != a {
		t.Errorf("B signed before its publish lead ended (kid %s)", kid)
	}
	c.Advance(time.Hour)
	if err := keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if kid := signedBy(t, keys, c.Now()); kid != b {
		t.Errorf("after the lead, signer is %s, want B %s", kid, b)
	}
	// A stays published while anything it signed may be valid: B's
	// activation + refresh + max TTL + leeway.
	c.Advance(time.Minute + time.Hour + oidc.Leeway - time.Second)
	if err := keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, keys); len(got) != 2 {
		t.Fatalf("A unpublished too early: %v", got)
	}
	c.Advance(time.Second)
	if err := keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, keys); len(got) != 1 || got[0] != b {
		t.Fatalf("after A's last JWT expired, published %v, want [%s]", got, b)
	}
	stored, err := st.ListSigningKeys(ctx)
	if err != nil || len(stored) != 1 {
		t.Fatalf("store holds %d keys (%v), want 1", len(stored), err)
	}
}

// TestKeysReplicasRotateOnce: replicas on one store that rotate at the
// same moment add one key between them, and publish the same set.
func TestKeysReplicasRotateOnce(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	st := openStore(t)
	k := newSealKey(t)
	var replicas []*oidc.Keys
	for range 4 {
		replicas = append(replicas, newKeys(t, st, k, c, testConfig))
	}
	c.Advance(4 * time.Hour)
	var wg sync.WaitGroup
	for _, r := range replicas {
		wg.Go(func() {
			if err := r.Refresh(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, r := range replicas {
		r.Refresh(ctx) // a replica that refreshed before the winner added its key
	}
	stored, err := st.ListSigningKeys(ctx)
	if err != nil || len(stored) != 2 {
		t.Fatalf("store holds %d keys (%v), want 2", len(stored), err)
	}
	want, _ := replicas[0].JWKS()
	for i, r := range replicas {
		if got, _ := r.JWKS(); !bytes.Equal(got, want) {
			t.Errorf("replica %d publishes another set", i)
		}
	}
}

// TestKeysSealedAtRest: the store holds the private key sealed; another
// server key cannot open it.
func TestKeysSealedAtRest(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	st := openStore(t)
	newKeys(t, st, newSealKey(t), c, testConfig)
	stored, err := st.ListSigningKeys(ctx)
	if err != nil || len(stored) != 1 {
		t.Fatalf("%d keys, %v", len(stored), err)
	}
	if stored[0].Algorithm != oidc.ES256 {
		t.Errorf("default algorithm %s, want ES256", stored[0].Algorithm)
	}
	if _, err := oidc.NewKeys(ctx, st, newSealKey(t), testConfig, c.Now, nil); err == nil {
		t.Fatal("a replica with another server key loaded the signing keys")
	}
}

// TestKeysStaleReplicaStopsSigning: a replica that could not reload for a
// whole publish lead refuses to sign.
func TestKeysStaleReplicaStopsSigning(t *testing.T) {
	c := newClock()
	keys := newKeys(t, openStore(t), newSealKey(t), c, testConfig)
	if _, _, err := keys.Sign([]byte(`{}`), c.Now().Add(time.Hour)); err != nil {
		t.Fatalf("signing within the lead: %v", err)
	}
	if _, _, err := keys.Sign([]byte(`{}`), c.Now().Add(time.Hour+time.Second)); err == nil {
		t.Fatal("a stale replica signed")
	}
}

// TestKeysRS256 and an algorithm switch: the new algorithm's key is
// published before it signs, and the old one retires after it.
func TestKeysAlgorithmSwitch(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	st := openStore(t)
	k := newSealKey(t)
	es := newKeys(t, st, k, c, testConfig)
	esKid := signedBy(t, es, c.Now())
	cfg := testConfig
	cfg.Algorithm = oidc.RS256
	rs := newKeys(t, st, k, c, cfg)
	if got := kids(t, rs); len(got) != 2 {
		t.Fatalf("published %v, want the ES256 and the new RS256 key", got)
	}
	if kid := signedBy(t, rs, c.Now()); kid != esKid {
		t.Errorf("RS256 key signed before its lead; signer %s", kid)
	}
	c.Advance(time.Hour)
	rs.Refresh(ctx)
	jwt, _, err := rs.Sign([]byte(`{}`), c.Now())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.ParseSigned(jwt, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || sig.Signatures[0].Header.Algorithm != "RS256" {
		t.Fatalf("not RS256 after the lead: %v", err)
	}
	c.Advance(time.Minute + time.Hour + oidc.Leeway)
	rs.Refresh(ctx)
	if got := kids(t, rs); len(got) != 1 || got[0] == esKid {
		t.Fatalf("ES256 key not retired: %v", got)
	}
}

func TestConfigRefused(t *testing.T) {
	for _, cfg := range []oidc.Config{
		{Algorithm: "HS256"},
		{Rotation: time.Hour, PublishLead: time.Hour},
		{PublishLead: time.Minute, Refresh: time.Hour},
	} {
		if _, err := oidc.NewKeys(context.Background(), openStore(t), newSealKey(t), cfg, time.Now, nil); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// listBarrier holds the first n ListSigningKeys calls until all n have
// read, so that every replica starting together sees an empty store.
type listBarrier struct {
	store.Store
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func (b *listBarrier) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := b.Store.ListSigningKeys(ctx)
	b.mu.Lock()
	if b.waiting < 0 {
		b.mu.Unlock()
		return keys, err
	}
	b.waiting--
	if b.waiting == 0 {
		b.waiting = -1
		close(b.release)
	}
	b.mu.Unlock()
	<-b.release
	return keys, err
}

// TestKeysReplicasStartTogether: replicas starting at once on an empty
// store (all of them finding it empty) create one key between them, and
// every one of them can sign with it at once.
func TestKeysReplicasStartTogether(t *testing.T) {
	c := newClock()
	const n = 4
	st := &listBarrier{Store: openStore(t), waiting: n, release: make(chan struct{})}
	k := newSealKey(t)
	keys := make([]*oidc.Keys, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			keys[i], err = oidc.NewKeys(context.Background(), st, k, testConfig, c.Now, nil)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	stored, err := st.ListSigningKeys(context.Background())
	if err != nil || len(stored) != 1 {
		t.Fatalf("%d keys (%v), want 1", len(stored), err)
	}
	for i, ks := range keys {
		if _, kid, err := ks.Sign([]byte(`{}`), c.Now()); err != nil || kid != stored[0].ID {
			t.Errorf("replica %d cannot sign with the shared key: %q %v", i, kid, err)
		}
	}
}
