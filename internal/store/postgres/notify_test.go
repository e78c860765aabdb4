package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/internal/store/tokencache"
)

// replica is one process's shared token-check cache over its own Store.
type replica struct {
	cache *tokencache.Store
	up    chan struct{}
}

// newReplica opens a Store on url and caches its token checks, following
// the other replicas' announcements. Its clock never moves, so a kept
// answer never expires: only an announcement can drop it.
func newReplica(t *testing.T, url string) *replica {
	s := openURL(t, url)
	frozen := func() time.Time { return t0 }
	r := &replica{cache: tokencache.NewShared(s, time.Second, 0, frozen, s), up: make(chan struct{}, 8)}
	s.Follow(postgres.Feed{
		Up:     func() { r.cache.SetLive(true); r.up <- struct{}{} },
		Down:   func(error) { r.cache.SetLive(false) },
		Forget: r.cache.Forget,
	})
	select {
	case <-r.up:
	case <-time.After(30 * time.Second):
		t.Fatal("the replica's feed never came up")
	}
	return r
}

// TestReplicasFollowEachOther: a revocation, a renewal and a role change
// made through one replica reach the other replica's cached checks through
// NOTIFY (the caches' clocks are frozen, so their TTL never ends).
func TestReplicasFollowEachOther(t *testing.T) {
	url := pgtest.URL(t)
	a, b := newReplica(t, url), newReplica(t, url)
	ctx := t.Context()

	id := store.Identity{ID: "11111111-1111-4111-8111-111111111111", Name: "app", Role: store.RoleMember, CreatedAt: t0, UpdatedAt: t0}
	mustNil(t, a.cache.CreateIdentity(ctx, id))
	tok := func(n string) store.AccessToken {
		return store.AccessToken{ID: "44444444-4444-4444-8444-44444444444" + n, Hash: hash(n), IdentityID: id.ID,
			AuthMethodType: store.AuthMethodRoot, CreatedAt: t0, LastRenewedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	}
	revoked, renewed := tok("1"), tok("2")
	for _, tk := range []store.AccessToken{revoked, renewed} {
		mustNil(t, a.cache.CreateAccessToken(ctx, tk))
		if _, err := b.cache.GetTokenCheck(ctx, tk.Hash); err != nil {
			t.Fatal(err)
		}
	}
	if b.cache.Len() != 2 {
		t.Fatalf("replica b keeps %d answers, want 2", b.cache.Len())
	}

	// eventually waits for replica b to see what a did.
	eventually := func(what string, seen func(store.TokenCheck) bool, h []byte) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			tc, err := b.cache.GetTokenCheck(ctx, h)
			if err == nil && seen(tc) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica b never saw %s (last answer %+v, %v)", what, tc.Token, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	_, err := a.cache.RevokeAccessTokens(ctx, store.TokenFilter{ID: revoked.ID}, t0)
	mustNil(t, err)
	eventually("the revocation", func(tc store.TokenCheck) bool { return !tc.Token.RevokedAt.IsZero() }, revoked.Hash)

	later := t0.Add(2 * time.Hour)
	_, err = a.cache.RenewAccessToken(ctx, renewed.ID, t0.Add(time.Minute), later)
	mustNil(t, err)
	eventually("the renewal", func(tc store.TokenCheck) bool { return tc.Token.ExpiresAt.Equal(later) }, renewed.Hash)

	_, err = a.cache.UpdateIdentity(ctx, id.ID, func(i *store.Identity) error { i.Role = store.RoleAdmin; return nil })
	mustNil(t, err)
	eventually("the role change", func(tc store.TokenCheck) bool { return tc.IdentityRole == store.RoleAdmin }, renewed.Hash)
}

// TestFollowStopsAtClose: Close ends the feed (Down with the cancellation)
// and returns.
func TestFollowStopsAtClose(t *testing.T) {
	s, err := postgres.Open(t.Context(), pgtest.URL(t))
	mustNil(t, err)
	up, down := make(chan struct{}, 1), make(chan error, 1)
	s.Follow(postgres.Feed{Up: func() { up <- struct{}{} }, Down: func(err error) { down <- err }, Forget: func([]byte) {}})
	<-up
	mustNil(t, s.Close())
	if err := <-down; !errors.Is(err, context.Canceled) {
		t.Errorf("Down(%v) at Close, want context.Canceled", err)
	}
}
