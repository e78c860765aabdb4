package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var metaTests = []test{
	{"Ping", testPing},
	{"GetMissing", testMetaGetMissing},
	{"PutIfAbsent", testMetaPutIfAbsent},
	{"PutIfAbsentRace", testMetaPutIfAbsentRace},
}

func testPing(t *testing.T, s store.Store) {
	must(t, s.Ping(t.Context()))
}

func testMetaGetMissing(t *testing.T, s store.Store) {
	_, err := s.GetMeta(t.Context(), "cluster-id")
	wantErr(t, "GetMeta of an unset key", err, store.ErrNotFound)
}

func testMetaPutIfAbsent(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok, err := s.PutMetaIfAbsent(ctx, "cluster-id", "first")
	must(t, err)
	if !ok {
		t.Fatal("first PutMetaIfAbsent reported false")
	}
	ok, err = s.PutMetaIfAbsent(ctx, "cluster-id", "second")
	must(t, err)
	if ok {
		t.Error("second PutMetaIfAbsent reported true")
	}
	v, err := s.GetMeta(ctx, "cluster-id")
	must(t, err)
	if v != "first" {
		t.Errorf("GetMeta = %q, want the first value %q", v, "first")
	}
	// Keys are independent.
	ok, err = s.PutMetaIfAbsent(ctx, "other", "")
	must(t, err)
	if !ok {
		t.Error("PutMetaIfAbsent of another key reported false")
	}
	v, err = s.GetMeta(ctx, "other")
	must(t, err)
	if v != "" {
		t.Errorf("GetMeta(other) = %q, want the empty value", v)
	}
}

func testMetaPutIfAbsentRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 20
	won := make([]bool, n)
	errs := concurrently(n, func(i int) error {
		ok, err := s.PutMetaIfAbsent(ctx, "root-token-created", fmt.Sprint(i))
		won[i] = ok
		return err
	})
	winner := -1
	for i := range n {
		must(t, errs[i])
		if won[i] {
			if winner >= 0 {
				t.Fatalf("racers %d and %d both won", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no racer won")
	}
	v, err := s.GetMeta(ctx, "root-token-created")
	must(t, err)
	if v != fmt.Sprint(winner) {
		t.Errorf("GetMeta = %q, want the winner's value %q", v, fmt.Sprint(winner))
	}
}

var identityTests = []test{
	{"RoundTrip", testIdentityRoundTrip},
	{"Update", testIdentityUpdate},
	{"UpdateMissing", testIdentityUpdateMissing},
	{"UpdaterError", testIdentityUpdaterError},
	{"List", testIdentityList},
	{"ListEmpty", testIdentityListEmpty},
	{"Delete", testIdentityDelete},
}

func testIdentityRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := newIdentity(at(0))
	full.Name = "büild-agent ✓"
	full.Role = store.RoleAdmin
	full.HasDeleteProtection = true
	full.Metadata = []store.MetadataEntry{{Key: "z", Value: "last key first"}, {Key: "a", Value: ""}, {Key: "ünï", Value: "cödé"}}
	minimal := store.Identity{ID: newID(), Name: "m", Role: store.RoleNoAccess, CreatedAt: at(1)} // nil Metadata, zero UpdatedAt
	for _, id := range []store.Identity{full, minimal} {
		createIdentity(t, s, id)
		got, err := s.GetIdentity(ctx, id.ID)
		must(t, err)
		checkEqual(t, "GetIdentity", got, id)
	}
}

func testIdentityUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := createIdentity(t, s, newIdentity(at(0)))
	want := orig
	want.Name = "renamed"
	want.Role = store.RoleAdmin
	want.HasDeleteProtection = true
	want.Metadata = []store.MetadataEntry{{Key: "new", Value: "entry"}}
	want.UpdatedAt = at(100)
	calls := 0
	got, err := s.UpdateIdentity(ctx, orig.ID, func(cur *store.Identity) error {
		calls++
		checkEqual(t, "identity passed to the updater", *cur, orig)
		cur.Name, cur.Role, cur.HasDeleteProtection = want.Name, want.Role, want.HasDeleteProtection
		cur.Metadata, cur.UpdatedAt = want.Metadata, want.UpdatedAt
		return nil
	})
	must(t, err)
	if calls != 1 {
		t.Errorf("updater called %d times, want 1", calls)
	}
	checkEqual(t, "UpdateIdentity result", got, want)
	read, err := s.GetIdentity(ctx, orig.ID)
	must(t, err)
	checkEqual(t, "GetIdentity after update", read, want)

	// Clearing metadata stores it empty, not nil.
	want.Metadata = []store.MetadataEntry{}
	got, err = s.UpdateIdentity(ctx, orig.ID, func(cur *store.Identity) error {
		cur.Metadata = nil
		return nil
	})
	must(t, err)
	checkEqual(t, "UpdateIdentity clearing metadata", got, want)
}

func testIdentityUpdateMissing(t *testing.T, s store.Store) {
	createIdentity(t, s, newIdentity(at(0)))
	called := false
	_, err := s.UpdateIdentity(t.Context(), newID(), func(*store.Identity) error {
		called = true
		return nil
	})
	wantErr(t, "UpdateIdentity of a missing identity", err, store.ErrNotFound)
	if called {
		t.Error("the updater was called for a missing identity")
	}
}

// errUpdater is what the suite's failing updaters return.
var errUpdater = errors.New("storetest: updater refuses")

func testIdentityUpdaterError(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := createIdentity(t, s, newIdentity(at(0)))
	_, err := s.UpdateIdentity(ctx, orig.ID, func(cur *store.Identity) error {
		cur.Name = "half-written"
		cur.Metadata = append(cur.Metadata, store.MetadataEntry{Key: "x", Value: "y"})
		return errUpdater
	})
	if err != errUpdater {
		t.Errorf("UpdateIdentity with a failing updater: got error %v, want the updater's error as is", err)
	}
	got, err := s.GetIdentity(ctx, orig.ID)
	must(t, err)
	checkEqual(t, "identity after a failed update", got, orig)
}

func testIdentityList(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Created out of order: the list is ordered by CreatedAt, not by
	// insertion.
	var byAge [5]store.Identity
	for _, i := range []int{3, 0, 4, 1, 2} {
		id := newIdentity(at(i))
		id.Name = fmt.Sprintf("identity-%d", i)
		byAge[i] = createIdentity(t, s, id)
	}
	for _, tc := range []struct {
		offset, limit int
		want          []store.Identity
	}{
		{0, 10, byAge[:]},
		{0, 2, byAge[0:2]},
		{2, 2, byAge[2:4]},
		{4, 2, byAge[4:5]},
		{5, 2, nil},
		{10, 2, nil},
	} {
		got, total, err := s.ListIdentities(ctx, tc.offset, tc.limit)
		must(t, err)
		what := fmt.Sprintf("ListIdentities(%d, %d)", tc.offset, tc.limit)
		if total != 5 {
			t.Errorf("%s: total = %d, want 5", what, total)
		}
		checkEqual(t, what, nonNil(got), nonNil(tc.want))
	}
}

func testIdentityListEmpty(t *testing.T, s store.Store) {
	got, total, err := s.ListIdentities(t.Context(), 0, 10)
	must(t, err)
	if len(got) != 0 || total != 0 {
		t.Errorf("ListIdentities of an empty store = %v, %d; want none, 0", got, total)
	}
}

func testIdentityDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	keep := createIdentity(t, s, newIdentity(at(0)))
	del := createIdentity(t, s, newIdentity(at(1)))
	must(t, s.DeleteIdentity(ctx, del.ID, at(100)))
	_, err := s.GetIdentity(ctx, del.ID)
	wantErr(t, "GetIdentity after DeleteIdentity", err, store.ErrNotFound)
	err = s.DeleteIdentity(ctx, del.ID, at(101))
	wantErr(t, "DeleteIdentity twice", err, store.ErrNotFound)
	got, total, err := s.ListIdentities(ctx, 0, 10)
	must(t, err)
	if total != 1 {
		t.Errorf("ListIdentities total = %d after deleting one of two, want 1", total)
	}
	checkEqual(t, "ListIdentities after delete", got, []store.Identity{keep})
}
