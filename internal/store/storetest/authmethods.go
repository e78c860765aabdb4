package storetest

import (
	"encoding/json"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var authMethodTests = []test{
	{"RoundTrip", testAuthMethodRoundTrip},
	{"LookupKey", testAuthMethodLookupKey},
	{"List", testAuthMethodList},
	{"Update", testAuthMethodUpdate},
	{"UpdateMissing", testAuthMethodUpdateMissing},
	{"UpdaterError", testAuthMethodUpdaterError},
	{"UpdateLookupKeyTaken", testAuthMethodUpdateLookupKeyTaken},
}

func testAuthMethodRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := createIdentity(t, s, newIdentity(at(0)))

	full := newAuthMethod(id.ID, store.AuthMethodUniversal, at(1))
	full.Config = json.RawMessage(`{ "accessTokenTrustedIps": [ {"ipAddress": "10.0.0.0/8"} ],
		"clientSecretTrustedIps": [], "n": 1.5, "nested": {"x": null, "y": true}, "s": "ünï \"q\"" }`)
	full.SealedSecret = []byte{0, 1, 2, 0xff, 0, 0x80, 'x', 0}
	full.TokenPolicy = store.TokenPolicy{TTL: 60, MaxTTL: 120, Period: 30, NumUsesLimit: 7,
		TrustedIPs: []string{"10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32"}}
	full.UpdatedAt = at(2)

	minimal := store.AuthMethod{ // no lookup key, nil secret, nil trusted IPs, zero UpdatedAt
		ID:         newID(),
		IdentityID: id.ID,
		Type:       store.AuthMethodKubernetes,
		Config:     json.RawMessage(`{}`),
		CreatedAt:  at(3),
	}

	for _, m := range []store.AuthMethod{full, minimal} {
		createAuthMethod(t, s, m)
		got, err := s.GetAuthMethod(ctx, m.ID)
		must(t, err)
		checkEqual(t, "GetAuthMethod", got, m)
		if m.SealedSecret == nil && got.SealedSecret != nil {
			t.Errorf("GetAuthMethod: SealedSecret = %x, want nil", got.SealedSecret)
		}
		got, err = s.GetAuthMethodByIdentity(ctx, id.ID, m.Type)
		must(t, err)
		checkEqual(t, "GetAuthMethodByIdentity", got, m)
	}
	got, err := s.GetAuthMethodByLookupKey(ctx, full.Type, full.LookupKey)
	must(t, err)
	checkEqual(t, "GetAuthMethodByLookupKey", got, full)
}

func testAuthMethodLookupKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createIdentity(t, s, newIdentity(at(0)))
	b := createIdentity(t, s, newIdentity(at(1)))
	c := createIdentity(t, s, newIdentity(at(2)))
	ua := createAuthMethod(t, s, newAuthMethod(a.ID, store.AuthMethodUniversal, at(3)))

	// The same key under another type is another key.
	kube := newAuthMethod(a.ID, store.AuthMethodKubernetes, at(4))
	kube.LookupKey = ua.LookupKey
	createAuthMethod(t, s, kube)
	got, err := s.GetAuthMethodByLookupKey(ctx, store.AuthMethodUniversal, ua.LookupKey)
	must(t, err)
	checkEqual(t, "GetAuthMethodByLookupKey(universal)", got, ua)
	got, err = s.GetAuthMethodByLookupKey(ctx, store.AuthMethodKubernetes, ua.LookupKey)
	must(t, err)
	checkEqual(t, "GetAuthMethodByLookupKey(kubernetes)", got, kube)

	// Any number of methods may have no key, and no key finds nothing.
	for _, id := range []store.Identity{b, c} {
		m := newAuthMethod(id.ID, store.AuthMethodUniversal, at(5))
		m.LookupKey = ""
		createAuthMethod(t, s, m)
	}
	_, err = s.GetAuthMethodByLookupKey(ctx, store.AuthMethodUniversal, "")
	wantErr(t, "GetAuthMethodByLookupKey with an empty key", err, store.ErrNotFound)
}

func testAuthMethodList(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createIdentity(t, s, newIdentity(at(0)))
	b := createIdentity(t, s, newIdentity(at(1)))
	// Universal first: the list is ordered by type, not by insertion.
	ua := createAuthMethod(t, s, newAuthMethod(a.ID, store.AuthMethodUniversal, at(2)))
	kube := createAuthMethod(t, s, newAuthMethod(a.ID, store.AuthMethodKubernetes, at(3)))
	createAuthMethod(t, s, newAuthMethod(b.ID, store.AuthMethodUniversal, at(4)))
	empty := createIdentity(t, s, newIdentity(at(5)))

	got, err := s.ListAuthMethods(ctx, a.ID)
	must(t, err)
	checkEqual(t, "ListAuthMethods", got, []store.AuthMethod{kube, ua})
	got, err = s.ListAuthMethods(ctx, empty.ID)
	must(t, err)
	if len(got) != 0 {
		t.Errorf("ListAuthMethods of an identity without methods = %v, want none", got)
	}
}

func testAuthMethodUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := createIdentity(t, s, newIdentity(at(0)))
	orig := newAuthMethod(id.ID, store.AuthMethodUniversal, at(1))
	orig.SealedSecret = []byte("sealed-v1")
	createAuthMethod(t, s, orig)

	want := orig
	want.LookupKey = newID()
	want.Config = json.RawMessage(`{"b": [1, 2], "a": "x"}`)
	want.SealedSecret = []byte("sealed-v2")
	want.TokenPolicy = store.TokenPolicy{TTL: 10, MaxTTL: 20, Period: 5, NumUsesLimit: 3, TrustedIPs: []string{"127.0.0.1/32"}}
	want.UpdatedAt = at(100)
	calls := 0
	got, err := s.UpdateAuthMethod(ctx, orig.ID, func(cur *store.AuthMethod) error {
		calls++
		checkEqual(t, "auth method passed to the updater", *cur, orig)
		cur.LookupKey, cur.Config, cur.SealedSecret = want.LookupKey, want.Config, want.SealedSecret
		cur.TokenPolicy, cur.UpdatedAt = want.TokenPolicy, want.UpdatedAt
		return nil
	})
	must(t, err)
	if calls != 1 {
		t.Errorf("updater called %d times, want 1", calls)
	}
	checkEqual(t, "UpdateAuthMethod result", got, want)
	read, err := s.GetAuthMethod(ctx, orig.ID)
	must(t, err)
	checkEqual(t, "GetAuthMethod after update", read, want)
	read, err = s.GetAuthMethodByLookupKey(ctx, want.Type, want.LookupKey)
	must(t, err)
	checkEqual(t, "GetAuthMethodByLookupKey(new key)", read, want)
	_, err = s.GetAuthMethodByLookupKey(ctx, orig.Type, orig.LookupKey)
	wantErr(t, "GetAuthMethodByLookupKey(old key)", err, store.ErrNotFound)

	// Removing the sealed secret and the trusted IPs.
	want.SealedSecret = nil
	want.TokenPolicy.TrustedIPs = []string{}
	got, err = s.UpdateAuthMethod(ctx, orig.ID, func(cur *store.AuthMethod) error {
		cur.SealedSecret, cur.TokenPolicy.TrustedIPs = nil, nil
		return nil
	})
	must(t, err)
	checkEqual(t, "UpdateAuthMethod clearing", got, want)
	if got.SealedSecret != nil {
		t.Errorf("SealedSecret = %x after clearing, want nil", got.SealedSecret)
	}
}

func testAuthMethodUpdateMissing(t *testing.T, s store.Store) {
	id := createIdentity(t, s, newIdentity(at(0)))
	createAuthMethod(t, s, newAuthMethod(id.ID, store.AuthMethodKubernetes, at(1)))
	called := false
	_, err := s.UpdateAuthMethod(t.Context(), newID(), func(*store.AuthMethod) error {
		called = true
		return nil
	})
	wantErr(t, "UpdateAuthMethod of a missing method", err, store.ErrNotFound)
	if called {
		t.Error("the updater was called for a missing method")
	}
}

func testAuthMethodUpdaterError(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := createIdentity(t, s, newIdentity(at(0)))
	orig := createAuthMethod(t, s, newAuthMethod(id.ID, store.AuthMethodUniversal, at(1)))
	_, err := s.UpdateAuthMethod(ctx, orig.ID, func(cur *store.AuthMethod) error {
		cur.LookupKey = newID()
		cur.Config = json.RawMessage(`{"half":"written"}`)
		cur.TokenPolicy.TrustedIPs = append(cur.TokenPolicy.TrustedIPs, "10.0.0.0/8")
		return errUpdater
	})
	if err != errUpdater {
		t.Errorf("UpdateAuthMethod with a failing updater: got error %v, want the updater's error as is", err)
	}
	got, err := s.GetAuthMethod(ctx, orig.ID)
	must(t, err)
	checkEqual(t, "auth method after a failed update", got, orig)
	got, err = s.GetAuthMethodByLookupKey(ctx, orig.Type, orig.LookupKey)
	must(t, err)
	checkEqual(t, "auth method by its old key after a failed update", got, orig)
}

func testAuthMethodUpdateLookupKeyTaken(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createIdentity(t, s, newIdentity(at(0)))
	b := createIdentity(t, s, newIdentity(at(1)))
	ma := createAuthMethod(t, s, newAuthMethod(a.ID, store.AuthMethodUniversal, at(2)))
	mb := createAuthMethod(t, s, newAuthMethod(b.ID, store.AuthMethodUniversal, at(3)))
	_, err := s.UpdateAuthMethod(ctx, mb.ID, func(cur *store.AuthMethod) error {
		cur.LookupKey = ma.LookupKey
		return nil
	})
	wantErr(t, "UpdateAuthMethod to a taken lookup key", err, store.ErrAlreadyExists)
	got, err := s.GetAuthMethod(ctx, mb.ID)
	must(t, err)
	checkEqual(t, "auth method after a refused update", got, mb)
	got, err = s.GetAuthMethodByLookupKey(ctx, ma.Type, ma.LookupKey)
	must(t, err)
	checkEqual(t, "owner of the key after a refused update", got, ma)
}
