package storetest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var gatewayTests = []test{
	{"RoundTrip", testGatewayRoundTrip},
	{"Uniqueness", testGatewayUniqueness},
	{"NotFound", testGatewayNotFound},
	{"Update", testGatewayUpdate},
	{"GoesWithIdentity", testGatewayGoesWithIdentity},
	{"Pools", testGatewayPools},
	{"Users", testGatewayUsers},
}

func newGateway(identityID, name string, sec int) store.Gateway {
	return store.Gateway{ID: newID(), Name: name, IdentityID: identityID, Version: "v1.2.3",
		RemoteAddr: "192.0.2.7:41000", Replica: "https://replica-a.internal:8443", ConnectedAt: at(sec), HeartbeatAt: at(sec + 5),
		CreatedAt: at(sec), UpdatedAt: at(sec + 5)}
}

func testGatewayRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := createIdentity(t, s, newIdentity(at(0)))
	pool := store.GatewayPool{ID: newID(), Name: "prod", CreatedAt: at(1), UpdatedAt: at(2)}
	must(t, s.CreateGatewayPool(ctx, pool))
	g := newGateway(id.ID, "gw-b", 10)
	g.PoolID = pool.ID
	must(t, s.CreateGateway(ctx, g))
	bare := store.Gateway{ID: newID(), Name: "gw-a", IdentityID: id.ID} // never connected, no pool
	must(t, s.CreateGateway(ctx, bare))

	got, err := s.GetGateway(ctx, g.ID)
	must(t, err)
	checkEqual(t, "GetGateway", got, g)
	got, err = s.GetGatewayByName(ctx, "gw-b")
	must(t, err)
	checkEqual(t, "GetGatewayByName", got, g)
	list, err := s.ListGateways(ctx)
	must(t, err)
	checkEqual(t, "ListGateways", list, []store.Gateway{bare, g})
	gotPool, err := s.GetGatewayPool(ctx, pool.ID)
	must(t, err)
	checkEqual(t, "GetGatewayPool", gotPool, pool)
}

func testGatewayUniqueness(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := createIdentity(t, s, newIdentity(at(0)))
	g := newGateway(id.ID, "gw", 1)
	must(t, s.CreateGateway(ctx, g))
	dupName := newGateway(id.ID, "gw", 2)
	wantErr(t, "same name", s.CreateGateway(ctx, dupName), store.ErrAlreadyExists)
	dupID := newGateway(id.ID, "other", 2)
	dupID.ID = g.ID
	wantErr(t, "same id", s.CreateGateway(ctx, dupID), store.ErrAlreadyExists)
	p := store.GatewayPool{ID: newID(), Name: "p", CreatedAt: at(1), UpdatedAt: at(1)}
	must(t, s.CreateGatewayPool(ctx, p))
	wantErr(t, "same pool name", s.CreateGatewayPool(ctx, store.GatewayPool{ID: newID(), Name: "p"}), store.ErrAlreadyExists)
	q := store.GatewayPool{ID: newID(), Name: "q", CreatedAt: at(1), UpdatedAt: at(1)}
	must(t, s.CreateGatewayPool(ctx, q))
	_, err := s.UpdateGatewayPool(ctx, q.ID, func(p *store.GatewayPool) error { p.Name = "p"; return nil })
	wantErr(t, "rename pool onto a taken name", err, store.ErrAlreadyExists)
}

func testGatewayNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetGateway(ctx, newID())
	wantErr(t, "GetGateway", err, store.ErrNotFound)
	_, err = s.GetGatewayByName(ctx, "nope")
	wantErr(t, "GetGatewayByName", err, store.ErrNotFound)
	_, err = s.UpdateGateway(ctx, newID(), func(*store.Gateway) error { return nil })
	wantErr(t, "UpdateGateway", err, store.ErrNotFound)
	wantErr(t, "DeleteGateway", s.DeleteGateway(ctx, newID()), store.ErrNotFound)
	_, err = s.GetGatewayPool(ctx, newID())
	wantErr(t, "GetGatewayPool", err, store.ErrNotFound)
	wantErr(t, "DeleteGatewayPool", s.DeleteGatewayPool(ctx, newID()), store.ErrNotFound)
	_, err = s.UpdateGatewayPool(ctx, newID(), func(*store.GatewayPool) error { return nil })
	wantErr(t, "UpdateGatewayPool", err, store.ErrNotFound)
	// Missing parents.
	wantErr(t, "gateway of an unknown identity", s.CreateGateway(ctx, newGateway(newID(), "x", 1)), store.ErrNotFound)
	id := createIdentity(t, s, newIdentity(at(0)))
	g := newGateway(id.ID, "y", 1)
	g.PoolID = newID()
	wantErr(t, "gateway in an unknown pool", s.CreateGateway(ctx, g), store.ErrNotFound)
	g.PoolID = ""
	must(t, s.CreateGateway(ctx, g))
	_, err = s.UpdateGateway(ctx, g.ID, func(g *store.Gateway) error { g.PoolID = newID(); return nil })
	wantErr(t, "moving a gateway to an unknown pool", err, store.ErrNotFound)
	list, err := s.ListGateways(ctx)
	must(t, err)
	checkEqual(t, "ListGateways", len(list), 1)
	pools, err := s.ListGatewayPools(ctx)
	must(t, err)
	checkEqual(t, "ListGatewayPools of an empty store", pools, []store.GatewayPool{})
}

func testGatewayUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := createIdentity(t, s, newIdentity(at(0)))
	g := newGateway(id.ID, "gw", 1)
	must(t, s.CreateGateway(ctx, g))
	p := store.GatewayPool{ID: newID(), Name: "p", CreatedAt: at(1), UpdatedAt: at(1)}
	must(t, s.CreateGatewayPool(ctx, p))
	want := g
	want.PoolID, want.Version, want.RemoteAddr = p.ID, "v2", "[2001:db8::1]:9"
	want.Replica = "https://replica-b.internal:8443" // a reconnect to another replica overwrites it
	want.ConnectedAt, want.HeartbeatAt, want.UpdatedAt = at(100), at(130), at(130)
	got, err := s.UpdateGateway(ctx, g.ID, func(cur *store.Gateway) error {
		checkEqual(t, "updater sees", *cur, g)
		cur.PoolID, cur.Version, cur.RemoteAddr = want.PoolID, want.Version, want.RemoteAddr
		cur.Replica = want.Replica
		cur.ConnectedAt, cur.HeartbeatAt, cur.UpdatedAt = want.ConnectedAt, want.HeartbeatAt, want.UpdatedAt
		cur.IdentityID, cur.CreatedAt = newID(), at(999) // not written
		return nil
	})
	must(t, err)
	checkEqual(t, "UpdateGateway", got, want)
	read, err := s.GetGateway(ctx, g.ID)
	must(t, err)
	checkEqual(t, "after UpdateGateway", read, want)
	boom := errors.New("boom")
	_, err = s.UpdateGateway(ctx, g.ID, func(cur *store.Gateway) error { cur.Version = "lost"; return boom })
	wantErr(t, "updater error", err, boom)
	read, err = s.GetGateway(ctx, g.ID)
	must(t, err)
	checkEqual(t, "after a failed update", read, want)
}

func testGatewayGoesWithIdentity(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := createIdentity(t, s, newIdentity(at(0)))
	other := createIdentity(t, s, newIdentity(at(0)))
	g := newGateway(id.ID, "gw", 1)
	must(t, s.CreateGateway(ctx, g))
	h := newGateway(other.ID, "gw-other", 1)
	must(t, s.CreateGateway(ctx, h))
	must(t, s.DeleteIdentity(ctx, id.ID, at(50)))
	_, err := s.GetGateway(ctx, g.ID)
	wantErr(t, "gateway of a deleted identity", err, store.ErrNotFound)
	if _, err := s.GetGateway(ctx, h.ID); err != nil {
		t.Fatalf("another identity's gateway: %v", err)
	}
	must(t, s.DeleteGateway(ctx, h.ID))
	_, err = s.GetGateway(ctx, h.ID)
	wantErr(t, "deleted gateway", err, store.ErrNotFound)
}

func testGatewayPools(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := createIdentity(t, s, newIdentity(at(0)))
	b := store.GatewayPool{ID: newID(), Name: "b", CreatedAt: at(1), UpdatedAt: at(1)}
	a := store.GatewayPool{ID: newID(), Name: "a", CreatedAt: at(2), UpdatedAt: at(2)}
	must(t, s.CreateGatewayPool(ctx, b))
	must(t, s.CreateGatewayPool(ctx, a))
	pools, err := s.ListGatewayPools(ctx)
	must(t, err)
	checkEqual(t, "ListGatewayPools", pools, []store.GatewayPool{a, b})
	renamed, err := s.UpdateGatewayPool(ctx, b.ID, func(p *store.GatewayPool) error {
		p.Name, p.UpdatedAt, p.CreatedAt = "c", at(9), at(999)
		return nil
	})
	must(t, err)
	checkEqual(t, "UpdateGatewayPool", renamed, store.GatewayPool{ID: b.ID, Name: "c", CreatedAt: at(1), UpdatedAt: at(9)})
	g := newGateway(id.ID, "member", 3)
	g.PoolID = a.ID
	must(t, s.CreateGateway(ctx, g))
	must(t, s.DeleteGatewayPool(ctx, a.ID))
	got, err := s.GetGateway(ctx, g.ID)
	must(t, err)
	checkEqual(t, "member of a deleted pool", got.PoolID, "")
}

func testGatewayUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	gw, pool := newID(), newID()
	id := createIdentity(t, s, newIdentity(at(0)))
	m := newAuthMethod(id.ID, store.AuthMethodKubernetes, at(1))
	m.Config = json.RawMessage(`{"kubernetesHost":"","tokenReviewMode":"gateway","gatewayId":"` + gw + `"}`)
	createAuthMethod(t, s, m)
	id2 := createIdentity(t, s, newIdentity(at(0)))
	m2 := newAuthMethod(id2.ID, store.AuthMethodKubernetes, at(1))
	m2.Config = json.RawMessage(`{"tokenReviewMode":"api","gatewayPoolId":"` + pool + `"}`)
	createAuthMethod(t, s, m2)
	mount := newMount("k8s-private", at(1))
	mount.Config = json.RawMessage(`{"kubernetesHost":"","gatewayId":"` + gw + `"}`)
	createMount(t, s, mount)
	createMount(t, s, newMount("other", at(1)))

	users, err := s.GatewayUsers(ctx, gw)
	must(t, err)
	checkEqual(t, "users of the gateway", users, []store.GatewayUser{
		{MountPath: "k8s-private"}, {AuthMethodID: m.ID, IdentityID: id.ID}})
	users, err = s.GatewayUsers(ctx, pool)
	must(t, err)
	checkEqual(t, "users of the pool", users, []store.GatewayUser{{AuthMethodID: m2.ID, IdentityID: id2.ID}})
	users, err = s.GatewayUsers(ctx, newID())
	must(t, err)
	checkEqual(t, "users of nothing", users, []store.GatewayUser{})
}
