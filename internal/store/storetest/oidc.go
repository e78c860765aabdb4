package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var oidcTests = []test{
	{"SigningKeyRoundTrip", testSigningKeyRoundTrip},
	{"SigningKeyDue", testSigningKeyDue},
	{"SigningKeyRotationRace", testSigningKeyRotationRace},
	{"SigningKeyDelete", testSigningKeyDelete},
	{"ExchangeAudiences", testExchangeAudiences},
	{"ExchangeAudiencesCascade", testExchangeAudiencesCascade},
	{"ExchangeAudiencesInvalidUTF8", testExchangeAudiencesInvalidUTF8},
	{"OIDCRoles", testOIDCRoles},
}

func newSigningKey(alg string, created time.Time) store.SigningKey {
	return store.SigningKey{
		ID:            newID(),
		Algorithm:     alg,
		SealedPrivate: []byte{1, 0, 's', 'e', 'a', 'l', 0xff},
		CreatedAt:     created,
		ActiveAt:      created.Add(time.Hour),
	}
}

func testSigningKeyRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	checkEqual(t, "no keys", keys, []store.SigningKey{})
	b := newSigningKey("RS256", at(10))
	b.ActiveAt = at(10) // active at once: listed first
	a := newSigningKey("ES256", at(0))
	for _, k := range []store.SigningKey{a, b} {
		added, err := s.AddSigningKeyIfDue(ctx, k, time.Time{})
		must(t, err)
		if !added {
			t.Fatalf("first %s key not added", k.Algorithm)
		}
	}
	keys, err = s.ListSigningKeys(ctx)
	must(t, err)
	checkEqual(t, "keys", keys, []store.SigningKey{b, a})
	dup := newSigningKey("RS256", at(20))
	dup.ID = a.ID
	_, err = s.AddSigningKeyIfDue(ctx, dup, at(15))
	wantErr(t, "duplicate id", err, store.ErrAlreadyExists)
	empty := newSigningKey("ES256", at(30))
	empty.SealedPrivate = nil
	_, err = s.AddSigningKeyIfDue(ctx, empty, at(29))
	wantErr(t, "no key material", err, store.ErrInvalid)
}

// testSigningKeyDue: a key is added only when no key of its algorithm was
// created after notAfter.
func testSigningKeyDue(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := newSigningKey("ES256", at(0))
	if added, err := s.AddSigningKeyIfDue(ctx, first, time.Time{}); err != nil || !added {
		t.Fatalf("first key: added %v, err %v", added, err)
	}
	for _, c := range []struct {
		notAfter time.Time
		alg      string
		want     bool
	}{
		{time.Time{}, "ES256", false}, // one exists
		{at(-1), "ES256", false},      // created after -1
		{at(0), "RS256", true},        // another algorithm
		{at(0), "ES256", true},        // not created after 0: due
	} {
		k := newSigningKey(c.alg, at(100))
		added, err := s.AddSigningKeyIfDue(ctx, k, c.notAfter)
		must(t, err)
		if added != c.want {
			t.Errorf("%s notAfter %v: added %v, want %v", c.alg, c.notAfter, added, c.want)
		}
	}
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	if len(keys) != 3 {
		t.Errorf("got %d keys, want 3", len(keys))
	}
}

// testSigningKeyRotationRace: of many callers rotating at once, exactly one
// adds a key, round after round.
func testSigningKeyRotationRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.AddSigningKeyIfDue(ctx, newSigningKey("ES256", at(0)), time.Time{})
	must(t, err)
	const n, rounds = 8, 25
	for r := 1; r <= rounds; r++ {
		added := make([]bool, n)
		errs := concurrently(n, func(i int) error {
			var err error
			// Every key of the previous round is older than at(1000*r-1).
			added[i], err = s.AddSigningKeyIfDue(ctx, newSigningKey("ES256", at(1000*r+i)), at(1000*r-1))
			return err
		})
		count := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d, caller %d: %v", r, i, errs[i])
			}
			if added[i] {
				count++
			}
		}
		if count != 1 {
			t.Fatalf("round %d: %d callers added a key, want exactly 1", r, count)
		}
	}
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	if len(keys) != rounds+1 {
		t.Errorf("got %d keys, want %d", len(keys), rounds+1)
	}
}

func testSigningKeyDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := newSigningKey("ES256", at(0))
	_, err := s.AddSigningKeyIfDue(ctx, k, time.Time{})
	must(t, err)
	must(t, s.DeleteSigningKey(ctx, k.ID))
	must(t, s.DeleteSigningKey(ctx, k.ID)) // absent: no error
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	checkEqual(t, "after delete", keys, []store.SigningKey{})
}

func testExchangeAudiences(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := createIdentity(t, s, newIdentity(at(0)))
	got, name, err := s.ExchangeAudiences(ctx, id.ID)
	must(t, err)
	checkEqual(t, "none set", got, []string{})
	checkEqual(t, "identity name", name, id.Name)
	want := []string{"sts.amazonaws.com", "https://*.example.com", "ünïcode"}
	must(t, s.SetExchangeAudiences(ctx, id.ID, want, at(1)))
	got, _, err = s.ExchangeAudiences(ctx, id.ID)
	must(t, err)
	checkEqual(t, "set", got, want)
	must(t, s.SetExchangeAudiences(ctx, id.ID, nil, at(2)))
	got, _, err = s.ExchangeAudiences(ctx, id.ID)
	must(t, err)
	checkEqual(t, "cleared", got, []string{})

	missing := newID()
	_, _, err = s.ExchangeAudiences(ctx, missing)
	wantErr(t, "get for a missing identity", err, store.ErrNotFound)
	err = s.SetExchangeAudiences(ctx, missing, []string{"x"}, at(3))
	wantErr(t, "set for a missing identity", err, store.ErrNotFound)
	err = s.SetExchangeAudiences(ctx, id.ID, []string{"a\x00b"}, at(3))
	wantErr(t, "NUL in an audience", err, store.ErrInvalid)
}

func testExchangeAudiencesCascade(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := createIdentity(t, s, newIdentity(at(0)))
	must(t, s.SetExchangeAudiences(ctx, id.ID, []string{"a"}, at(1)))
	must(t, s.DeleteIdentity(ctx, id.ID, at(2)))
	_, _, err := s.ExchangeAudiences(ctx, id.ID)
	wantErr(t, "after delete", err, store.ErrNotFound)
	// The identity's id can be used again without a stale list.
	again := newIdentity(at(3))
	again.ID = id.ID
	createIdentity(t, s, again)
	got, _, err := s.ExchangeAudiences(ctx, id.ID)
	must(t, err)
	checkEqual(t, fmt.Sprintf("recreated %s", id.ID), got, []string{})
}

func testExchangeAudiencesInvalidUTF8(t *testing.T, s store.Store) {
	id := createIdentity(t, s, newIdentity(at(0)))
	err := s.SetExchangeAudiences(context.Background(), id.ID, []string{"a\xffb"}, at(1))
	wantErr(t, "invalid UTF-8 in an audience", err, store.ErrInvalid)
}

func testOIDCRoles(t *testing.T, s store.Store) {
	ctx := context.Background()
	roles, err := s.ListOIDCRoles(ctx)
	must(t, err)
	checkEqual(t, "none", roles, []store.OIDCRole{})
	b := store.OIDCRole{Name: "b", Audience: "sts.amazonaws.com", TTL: 600, CreatedAt: at(0), UpdatedAt: at(0)}
	a := store.OIDCRole{Name: "a", Audience: "https://api.example.com", TTL: 60, CreatedAt: at(1), UpdatedAt: at(1)}
	must(t, s.PutOIDCRole(ctx, b))
	must(t, s.PutOIDCRole(ctx, a))
	got, err := s.GetOIDCRole(ctx, "b")
	must(t, err)
	checkEqual(t, "get", got, b)
	// Replace: CreatedAt stays.
	b2 := store.OIDCRole{Name: "b", Audience: "other", TTL: 30, CreatedAt: at(5), UpdatedAt: at(5)}
	must(t, s.PutOIDCRole(ctx, b2))
	b2.CreatedAt = at(0)
	roles, err = s.ListOIDCRoles(ctx)
	must(t, err)
	checkEqual(t, "list", roles, []store.OIDCRole{a, b2})
	must(t, s.DeleteOIDCRole(ctx, "a"))
	must(t, s.DeleteOIDCRole(ctx, "a"))
	_, err = s.GetOIDCRole(ctx, "a")
	wantErr(t, "deleted", err, store.ErrNotFound)
	err = s.PutOIDCRole(ctx, store.OIDCRole{Name: "n\x00ul", Audience: "x", TTL: 1, CreatedAt: at(0), UpdatedAt: at(0)})
	wantErr(t, "NUL in a name", err, store.ErrInvalid)
}
