package storetest

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var clientSecretTests = []test{
	{"RoundTrip", testClientSecretRoundTrip},
	{"List", testClientSecretList},
}

// uaMethod creates an identity with a Universal Auth method.
func uaMethod(t *testing.T, s store.Store) store.AuthMethod {
	t.Helper()
	id := createIdentity(t, s, newIdentity(at(0)))
	return createAuthMethod(t, s, newAuthMethod(id.ID, store.AuthMethodUniversal, at(1)))
}

func testClientSecretRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	full := newClientSecret(m.ID, at(2))
	full.Description = "ünïcode ✓ description"
	full.NumUses, full.NumUsesLimit, full.TTL = 2, 5, 3600
	full.RevokedAt = at(4)
	full.UpdatedAt = at(3)
	minimal := store.ClientSecret{ID: newID(), AuthMethodID: m.ID, Hash: newHash(), CreatedAt: at(5)}
	for _, cs := range []store.ClientSecret{full, minimal} {
		createClientSecret(t, s, cs)
		got, err := s.GetClientSecret(ctx, cs.ID)
		must(t, err)
		checkEqual(t, "GetClientSecret", got, cs)
		got, err = s.GetClientSecretByHash(ctx, cs.Hash)
		must(t, err)
		checkEqual(t, "GetClientSecretByHash", got, cs)
	}
}

func testClientSecretList(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	id2 := createIdentity(t, s, newIdentity(at(2)))
	other := createAuthMethod(t, s, newAuthMethod(id2.ID, store.AuthMethodUniversal, at(3)))
	none := createAuthMethod(t, s, newAuthMethod(id2.ID, store.AuthMethodKubernetes, at(4)))

	// Created out of order: the list is ordered by CreatedAt.
	var byAge [3]store.ClientSecret
	for _, i := range []int{2, 0, 1} {
		byAge[i] = createClientSecret(t, s, newClientSecret(m.ID, at(10+i)))
	}
	otherSecret := createClientSecret(t, s, newClientSecret(other.ID, at(5)))

	got, err := s.ListClientSecrets(ctx, m.ID)
	must(t, err)
	checkEqual(t, "ListClientSecrets", got, byAge[:])
	got, err = s.ListClientSecrets(ctx, other.ID)
	must(t, err)
	checkEqual(t, "ListClientSecrets(other method)", got, []store.ClientSecret{otherSecret})
	got, err = s.ListClientSecrets(ctx, none.ID)
	must(t, err)
	if len(got) != 0 {
		t.Errorf("ListClientSecrets of a method without secrets = %v, want none", got)
	}
}
