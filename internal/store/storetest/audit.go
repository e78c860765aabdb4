package storetest

import (
	"fmt"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var auditTests = []test{
	{"RoundTrip", testAuditRoundTrip},
	{"List", testAuditList},
	{"ListEmpty", testAuditListEmpty},
	{"Purge", testAuditPurge},
	{"Filter", testAuditFilter},
	{"FilterInvalid", testAuditFilterInvalid},
	{"CountOutcomes", testAuditCountOutcomes},
}

func newAuditEvent(i int) store.AuditEvent {
	return store.AuditEvent{
		ID:         newID(),
		Time:       at(i),
		Type:       "login",
		Success:    true,
		RequestID:  fmt.Sprintf("req-%d", i),
		IdentityID: newID(),
		AuthMethod: string(store.AuthMethodKubernetes),
		ClientIP:   "10.1.2.3",
		Details:    map[string]string{"n": fmt.Sprint(i)},
	}
}

func testAuditRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := store.AuditEvent{
		ID:         newID(),
		Time:       at(1),
		Type:       "auth-method.update",
		Success:    false,
		RequestID:  "req-ünï",
		ActorID:    newID(),
		IdentityID: newID(),
		AuthMethod: string(store.AuthMethodUniversal),
		ClientIP:   "2001:db8::1",
		Reason:     "the client secret is revoked",
		Details:    map[string]string{"field": "accessTokenTTL", "old": "60", "new": "", "ü": "✓"},
	}
	minimal := store.AuditEvent{ID: newID(), Time: at(0), Type: "login", Success: true} // nil Details
	must(t, s.AppendAuditEvent(ctx, full))
	must(t, s.AppendAuditEvent(ctx, minimal))
	got, total, err := s.ListAuditEvents(ctx, 0, 10)
	must(t, err)
	if total != 2 {
		t.Errorf("ListAuditEvents total = %d, want 2", total)
	}
	checkEqual(t, "ListAuditEvents", got, []store.AuditEvent{full, minimal})
}

func testAuditList(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Appended out of order: the list is ordered by Time, newest first.
	var byTime [7]store.AuditEvent
	for _, i := range []int{3, 0, 6, 1, 5, 2, 4} {
		byTime[i] = newAuditEvent(i)
		must(t, s.AppendAuditEvent(ctx, byTime[i]))
	}
	newestFirst := make([]store.AuditEvent, 0, len(byTime))
	for i := len(byTime) - 1; i >= 0; i-- {
		newestFirst = append(newestFirst, byTime[i])
	}
	for _, tc := range []struct {
		offset, limit int
		want          []store.AuditEvent
	}{
		{0, 10, newestFirst},
		{0, 3, newestFirst[0:3]},
		{3, 3, newestFirst[3:6]},
		{6, 3, newestFirst[6:7]},
		{7, 3, nil},
		{100, 3, nil},
	} {
		got, total, err := s.ListAuditEvents(ctx, tc.offset, tc.limit)
		must(t, err)
		what := fmt.Sprintf("ListAuditEvents(%d, %d)", tc.offset, tc.limit)
		if total != len(byTime) {
			t.Errorf("%s: total = %d, want %d", what, total, len(byTime))
		}
		checkEqual(t, what, nonNil(got), nonNil(tc.want))
	}
}

func testAuditListEmpty(t *testing.T, s store.Store) {
	got, total, err := s.ListAuditEvents(t.Context(), 0, 10)
	must(t, err)
	if len(got) != 0 || total != 0 {
		t.Errorf("ListAuditEvents of an empty store = %v, %d; want none, 0", got, total)
	}
}

// testAuditPurge: PurgeAuditEvents deletes exactly the events older than
// its cutoff (audit retention).
func testAuditPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	var events []store.AuditEvent
	for i := range 7 {
		events = append(events, newAuditEvent(i))
		must(t, s.AppendAuditEvent(ctx, events[i]))
	}
	n, err := s.PurgeAuditEvents(ctx, at(3))
	must(t, err)
	if n != 3 {
		t.Errorf("PurgeAuditEvents(at(3)) = %d, want 3", n)
	}
	got, total, err := s.ListAuditEvents(ctx, 0, 10)
	must(t, err)
	if total != 4 {
		t.Errorf("after the purge: total = %d, want 4", total)
	}
	checkEqual(t, "ListAuditEvents after the purge", got, []store.AuditEvent{events[6], events[5], events[4], events[3]})
	if n, err = s.PurgeAuditEvents(ctx, at(3)); err != nil || n != 0 {
		t.Errorf("a second purge = %d, %v; want 0, nil", n, err)
	}
	if n, err = s.PurgeAuditEvents(ctx, at(100)); err != nil || n != 4 {
		t.Errorf("purging everything = %d, %v; want 4, nil", n, err)
	}
}
