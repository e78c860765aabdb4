package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// appendFilterEvents stores a mixed log: logins of two identities that
// succeed and fail, and one other event type.
func appendFilterEvents(t *testing.T, s store.Store) (alice, bob string, evs []store.AuditEvent) {
	alice, bob = newID(), newID()
	mk := func(sec int, typ, id string, ok bool) store.AuditEvent {
		e := newAuditEvent(sec)
		e.Type, e.IdentityID, e.Success = typ, id, ok
		if !ok {
			e.Reason = "wrong secret"
		}
		must(t, s.AppendAuditEvent(t.Context(), e))
		return e
	}
	evs = []store.AuditEvent{
		mk(0, "login", alice, true),          // 0
		mk(10, "login", alice, false),        // 1
		mk(20, "login", bob, true),           // 2
		mk(30, "identity.create", bob, true), // 3
		mk(40, "login", alice, false),        // 4
		mk(3600, "login", bob, false),        // 5
	}
	return alice, bob, evs
}

func testAuditFilter(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob, evs := appendFilterEvents(t, s)
	cases := []struct {
		name string
		f    store.AuditFilter
		want []int // indexes into evs, newest first
	}{
		{"all", store.AuditFilter{}, []int{5, 4, 3, 2, 1, 0}},
		{"type", store.AuditFilter{Type: "identity.create"}, []int{3}},
		{"identity", store.AuditFilter{IdentityID: alice}, []int{4, 1, 0}},
		{"success", store.AuditFilter{Outcome: store.AuditOutcomeSuccess}, []int{3, 2, 0}},
		{"failure", store.AuditFilter{Outcome: store.AuditOutcomeFailure}, []int{5, 4, 1}},
		{"since inclusive", store.AuditFilter{Since: at(20)}, []int{5, 4, 3, 2}},
		{"until exclusive", store.AuditFilter{Until: at(20)}, []int{1, 0}},
		{"all of them", store.AuditFilter{Type: "login", IdentityID: bob, Outcome: store.AuditOutcomeFailure,
			Since: at(1), Until: at(4000)}, []int{5}},
		{"nothing", store.AuditFilter{IdentityID: newID()}, nil},
	}
	for _, c := range cases {
		got, total, err := s.FilterAuditEvents(ctx, c.f, 0, 0)
		must(t, err)
		want := []store.AuditEvent{}
		for _, i := range c.want {
			want = append(want, evs[i])
		}
		if total != len(want) {
			t.Errorf("%s: total = %d, want %d", c.name, total, len(want))
		}
		checkEqual(t, c.name, got, want)
	}
	// Paging: the total is of all matches, past the end too.
	got, total, err := s.FilterAuditEvents(ctx, store.AuditFilter{Type: "login"}, 1, 2)
	must(t, err)
	if total != 5 {
		t.Errorf("paged total = %d, want 5", total)
	}
	checkEqual(t, "page", got, []store.AuditEvent{evs[4], evs[2]})
	got, total, err = s.FilterAuditEvents(ctx, store.AuditFilter{Type: "login"}, 50, 2)
	must(t, err)
	if total != 5 || len(got) != 0 {
		t.Errorf("past the end: %d events, total %d; want 0, 5", len(got), total)
	}
}

func testAuditFilterInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, _, err := s.FilterAuditEvents(ctx, store.AuditFilter{Outcome: "maybe"}, 0, 10)
	wantErr(t, "unknown outcome", err, store.ErrInvalid)
	_, _, err = s.FilterAuditEvents(ctx, store.AuditFilter{Type: "lo\x00gin"}, 0, 10)
	wantErr(t, "NUL in a type", err, store.ErrInvalid)
	_, err = s.CountAuditOutcomes(ctx, store.AuditFilter{Since: at(10), Until: at(0)}, time.Second)
	wantErr(t, "since after until", err, store.ErrInvalid)
	_, err = s.CountAuditOutcomes(ctx, store.AuditFilter{Since: at(0)}, time.Second)
	wantErr(t, "no until", err, store.ErrInvalid)
	_, err = s.CountAuditOutcomes(ctx, store.AuditFilter{Since: at(0), Until: at(10)}, 0)
	wantErr(t, "zero bucket", err, store.ErrInvalid)
	_, err = s.CountAuditOutcomes(ctx, store.AuditFilter{Since: at(0), Until: at(store.MaxAuditBuckets + 1)}, time.Second)
	wantErr(t, "too many buckets", err, store.ErrInvalid)
}

func testAuditCountOutcomes(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, _, _ := appendFilterEvents(t, s)
	// Buckets of 15 s from at(0) to at(45): [0,15) [15,30) [30,45).
	got, err := s.CountAuditOutcomes(ctx, store.AuditFilter{Type: "login", Since: at(0), Until: at(45)}, 15*time.Second)
	must(t, err)
	want := []store.AuditCount{
		{Start: at(0), Succeeded: 1, Failed: 1},
		{Start: at(15), Succeeded: 1},
		{Start: at(30), Failed: 1}, // identity.create at 30 is another type
	}
	checkEqual(t, "logins per 15 s", got, want)
	// An identity; a last bucket cut short by until; empty buckets present.
	got, err = s.CountAuditOutcomes(ctx, store.AuditFilter{IdentityID: alice, Since: at(5), Until: at(3605)}, time.Hour)
	must(t, err)
	checkEqual(t, "alice per hour", got, []store.AuditCount{{Start: at(5), Failed: 2}})
	got, err = s.CountAuditOutcomes(ctx, store.AuditFilter{Since: at(-7200), Until: at(3601)}, time.Hour)
	must(t, err)
	checkEqual(t, "everything per hour", got, []store.AuditCount{
		{Start: at(-7200)}, {Start: at(-3600)}, {Start: at(0), Succeeded: 3, Failed: 2}, {Start: at(3600), Failed: 1},
	})
}
