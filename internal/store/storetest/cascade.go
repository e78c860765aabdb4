package storetest

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var cascadeTests = []test{
	{"DeleteIdentity", testDeleteIdentityCascade},
	{"DeleteIdentityFreesKeys", testDeleteIdentityFreesKeys},
	{"DeleteAuthMethod", testDeleteAuthMethodCascade},
	{"RevokeClientSecret", testRevokeClientSecretCascade},
}

// aTokens are the live tokens of identity a in the world.
var aTokens = []string{"aKube", "aUA1", "aUA1b", "aUA2", "aUANoSecret"}

func testDeleteIdentityCascade(t *testing.T, s store.Store) {
	w := buildWorld(t, s)
	want := w.snapshot(t, s)
	now := at(1000)
	must(t, s.DeleteIdentity(t.Context(), w.identities["a"].ID, now))
	// a, its methods and their secrets are gone; its live tokens are
	// revoked now, its revoked ones keep their time; b, c and the root
	// token are untouched.
	want.identityGone(w, "a")
	want.tokensRevoked(now, aTokens...)
	want.check(t, "after DeleteIdentity", w.snapshot(t, s))
}

// testDeleteIdentityFreesKeys checks that deleting really removes the
// rows: the identity's ID, its lookup key and its secrets' hashes can be
// used again.
func testDeleteIdentityFreesKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := buildWorld(t, s)
	must(t, s.DeleteIdentity(ctx, w.identities["a"].ID, at(1000)))
	id := newIdentity(at(1001))
	id.ID = w.identities["a"].ID
	createIdentity(t, s, id)
	m := newAuthMethod(id.ID, store.AuthMethodUniversal, at(1002))
	m.LookupKey = w.methods["aUA"].LookupKey
	createAuthMethod(t, s, m)
	cs := newClientSecret(m.ID, at(1003))
	cs.Hash = w.secrets["aSecret1"].Hash
	createClientSecret(t, s, cs)
	got, err := s.GetAuthMethodByLookupKey(ctx, m.Type, m.LookupKey)
	must(t, err)
	checkEqual(t, "new method with the old lookup key", got, m)
	gotCS, err := s.GetClientSecretByHash(ctx, cs.Hash)
	must(t, err)
	checkEqual(t, "new secret with the old hash", gotCS, cs)
	methods, err := s.ListAuthMethods(ctx, id.ID)
	must(t, err)
	checkEqual(t, "methods of the new identity", methods, []store.AuthMethod{m})
}

func testDeleteAuthMethodCascade(t *testing.T, s store.Store) {
	w := buildWorld(t, s)
	want := w.snapshot(t, s)
	now := at(1000)
	must(t, s.DeleteAuthMethod(t.Context(), w.methods["aUA"].ID, now))
	// aUA and its secrets are gone, its live tokens revoked; the identity
	// and its Kubernetes method and tokens are untouched.
	want.methodGone(w, "aUA")
	want.tokensRevoked(now, "aUA1", "aUA1b", "aUA2", "aUANoSecret")
	want.check(t, "after DeleteAuthMethod", w.snapshot(t, s))

	err := s.DeleteAuthMethod(t.Context(), w.methods["aUA"].ID, at(1001))
	wantErr(t, "DeleteAuthMethod twice", err, store.ErrNotFound)
	want.check(t, "after DeleteAuthMethod twice", w.snapshot(t, s))
}

func testRevokeClientSecretCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := buildWorld(t, s)
	want := w.snapshot(t, s)
	now := at(1000)
	got, err := s.RevokeClientSecret(ctx, w.secrets["aSecret1"].ID, now)
	must(t, err)
	read, err := s.GetClientSecret(ctx, got.ID)
	must(t, err)
	checkEqual(t, "RevokeClientSecret result", got, read)
	// The secret is revoked and so are the live tokens minted with it;
	// aSecret2's token and the token minted without a secret are not.
	want.secretRevoked(w, "aSecret1", now)
	want.tokensRevoked(now, "aUA1", "aUA1b")
	want.check(t, "after RevokeClientSecret", w.snapshot(t, s))

	// Revoking again is harmless and keeps the first revocation time.
	got, err = s.RevokeClientSecret(ctx, w.secrets["aSecret1"].ID, at(2000))
	must(t, err)
	if !got.RevokedAt.Equal(now) {
		t.Errorf("RevokedAt = %v after revoking twice, want the first time %v", got.RevokedAt, now)
	}
	want.check(t, "after RevokeClientSecret twice", w.snapshot(t, s))
}
