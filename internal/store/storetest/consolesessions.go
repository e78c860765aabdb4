package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The web console's sessions: kept by the hash of their cookie, live until
// ExpiresAt, deleted at sign-out and by the sweeper, bounded per identity
// (also under concurrent creates), and refused alike by every store when
// malformed.
var consoleSessionTests = []test{
	{"RoundTrip", testConsoleSessionRoundTrip},
	{"Expiry", testConsoleSessionExpiry},
	{"BoundPerIdentity", testConsoleSessionBound},
	{"ConcurrentBound", testConsoleSessionConcurrentBound},
	{"Refused", testConsoleSessionRefused},
	{"Unavailable", testConsoleSessionUnavailable},
}

func newConsoleSession(identityID string, created time.Time) store.ConsoleSession {
	return store.ConsoleSession{
		IDHash:      newHash(),
		SealedToken: []byte("\x01sealed-token-bytes\x00\xff"),
		Name:        "ci-runner",
		IdentityID:  identityID,
		Admin:       true,
		CreatedAt:   created,
		ExpiresAt:   created.Add(8 * time.Hour),
	}
}

// liveSessions counts which of cs are still found at now.
func liveSessions(t *testing.T, s store.Store, now time.Time, cs ...store.ConsoleSession) []bool {
	t.Helper()
	out := make([]bool, len(cs))
	for i, c := range cs {
		_, err := s.GetConsoleSession(t.Context(), c.IDHash, now)
		switch {
		case err == nil:
			out[i] = true
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("get console session %d: %v", i, err)
		}
	}
	return out
}

func testConsoleSessionRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newConsoleSession(newID(), at(0))
	a.Name = oddControl
	root := newConsoleSession("", at(1))
	root.Name, root.Admin, root.Root = "root", true, true
	member := newConsoleSession(newID(), at(2))
	member.Admin = false
	// A time with nanoseconds is kept to the microsecond, truncated.
	member.ExpiresAt = at(100).Add(999)
	for _, c := range []store.ConsoleSession{a, root, member} {
		must(t, s.CreateConsoleSession(ctx, c, 10))
	}
	for _, c := range []store.ConsoleSession{a, root, member} {
		got, err := s.GetConsoleSession(ctx, c.IDHash, at(3))
		must(t, err)
		checkEqual(t, "console session", got, c)
		if got.CreatedAt.Location() != time.UTC || got.ExpiresAt.Location() != time.UTC {
			t.Errorf("times not in UTC: %v %v", got.CreatedAt, got.ExpiresAt)
		}
	}
	got, err := s.GetConsoleSession(ctx, member.IDHash, at(3))
	must(t, err)
	if !got.ExpiresAt.Equal(at(100)) {
		t.Errorf("expiry %v, want %v (truncated to the microsecond)", got.ExpiresAt, at(100))
	}

	dup := newConsoleSession(newID(), at(4))
	dup.IDHash = a.IDHash
	wantErr(t, "duplicate id hash", s.CreateConsoleSession(ctx, dup, 10), store.ErrAlreadyExists)

	// Sign-out: gone at once; deleting again or an unknown hash is fine.
	must(t, s.DeleteConsoleSession(ctx, a.IDHash))
	_, err = s.GetConsoleSession(ctx, a.IDHash, at(3))
	wantErr(t, "after delete", err, store.ErrNotFound)
	must(t, s.DeleteConsoleSession(ctx, a.IDHash))
	must(t, s.DeleteConsoleSession(ctx, newHash()))
	_, err = s.GetConsoleSession(ctx, newHash(), at(3))
	wantErr(t, "unknown hash", err, store.ErrNotFound)
	if live := liveSessions(t, s, at(3), root, member); !live[0] || !live[1] {
		t.Errorf("the other sessions after a delete: %v", live)
	}
}

func testConsoleSessionExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	short := newConsoleSession(newID(), at(0))
	short.ExpiresAt = at(10)
	long := newConsoleSession(newID(), at(0))
	long.ExpiresAt = at(20)
	must(t, s.CreateConsoleSession(ctx, short, 10))
	must(t, s.CreateConsoleSession(ctx, long, 10))
	// Live until ExpiresAt, dead from it on (to the microsecond).
	if live := liveSessions(t, s, at(10).Add(-time.Microsecond), short); !live[0] {
		t.Error("dead a microsecond before its expiry")
	}
	if live := liveSessions(t, s, at(10), short, long); live[0] || !live[1] {
		t.Errorf("at the first expiry: live %v, want [false true]", live)
	}
	// An expired session is still stored until the sweep, but never read.
	n, err := s.PurgeConsoleSessions(ctx, at(9))
	must(t, err)
	if n != 0 {
		t.Errorf("purge before any expiry: %d", n)
	}
	n, err = s.PurgeConsoleSessions(ctx, at(10))
	must(t, err)
	if n != 1 {
		t.Errorf("purge at the first expiry: %d, want 1", n)
	}
	if live := liveSessions(t, s, at(15), long); !live[0] {
		t.Error("the purge deleted a live session")
	}
	n, err = s.PurgeConsoleSessions(ctx, at(10))
	must(t, err)
	if n != 0 {
		t.Errorf("second purge: %d", n)
	}

	// Creating a session deletes those expired at its creation, of any
	// identity: a later purge finds nothing.
	later := newConsoleSession(newID(), at(20))
	must(t, s.CreateConsoleSession(ctx, later, 10))
	n, err = s.PurgeConsoleSessions(ctx, at(20))
	must(t, err)
	if n != 0 {
		t.Errorf("purge after a create at the expiry: %d, want 0", n)
	}
}

func testConsoleSessionBound(t *testing.T, s store.Store) {
	ctx := t.Context()
	id, other := newID(), newID()
	var mine, theirs, roots []store.ConsoleSession
	for i := range 3 {
		c := newConsoleSession(other, at(i))
		must(t, s.CreateConsoleSession(ctx, c, 3))
		theirs = append(theirs, c)
		r := newConsoleSession("", at(i))
		r.Root = true
		must(t, s.CreateConsoleSession(ctx, r, 3))
		roots = append(roots, r)
	}
	for i := range 5 {
		c := newConsoleSession(id, at(10+i))
		must(t, s.CreateConsoleSession(ctx, c, 3))
		mine = append(mine, c)
	}
	now := at(20)
	checkEqual(t, "the identity's sessions (oldest dropped)", liveSessions(t, s, now, mine...), []bool{false, false, true, true, true})
	checkEqual(t, "another identity's sessions", liveSessions(t, s, now, theirs...), []bool{true, true, true})
	checkEqual(t, "root sessions", liveSessions(t, s, now, roots...), []bool{true, true, true})

	// Root sessions are one identity too; a smaller max drops more.
	r := newConsoleSession("", at(30))
	must(t, s.CreateConsoleSession(ctx, r, 2))
	checkEqual(t, "root sessions, max 2", liveSessions(t, s, at(30), append(roots, r)...), []bool{false, false, true, true})
	one := newConsoleSession(id, at(31))
	must(t, s.CreateConsoleSession(ctx, one, 1))
	checkEqual(t, "max 1", liveSessions(t, s, at(31), append(mine, one)...), []bool{false, false, false, false, false, true})
}

func testConsoleSessionConcurrentBound(t *testing.T, s store.Store) {
	const n, max = 8, 3
	id := newID()
	cs := make([]store.ConsoleSession, n)
	for i := range cs {
		cs[i] = newConsoleSession(id, at(i))
	}
	for i, err := range concurrently(n, func(i int) error { return s.CreateConsoleSession(t.Context(), cs[i], max) }) {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	live := 0
	for _, l := range liveSessions(t, s, at(n), cs...) {
		if l {
			live++
		}
	}
	if live != max {
		t.Errorf("%d live sessions after %d concurrent creates, want %d", live, n, max)
	}
}

func testConsoleSessionRefused(t *testing.T, s store.Store) {
	ctx := t.Context()
	kept := newConsoleSession(newID(), at(0))
	must(t, s.CreateConsoleSession(ctx, kept, 1))
	change := func(f func(*store.ConsoleSession)) store.ConsoleSession {
		c := newConsoleSession(kept.IdentityID, at(1))
		f(&c)
		return c
	}
	long := strings.Repeat("é", store.MaxConsoleSessionText/2) // exactly the limit in bytes
	for _, tc := range []struct {
		name string
		c    store.ConsoleSession
		max  int
	}{
		{"short hash", change(func(c *store.ConsoleSession) { c.IDHash = c.IDHash[:31] }), 5},
		{"long hash", change(func(c *store.ConsoleSession) { c.IDHash = append(c.IDHash, 0) }), 5},
		{"no sealed token", change(func(c *store.ConsoleSession) { c.SealedToken = nil }), 5},
		{"sealed token too long", change(func(c *store.ConsoleSession) {
			c.SealedToken = make([]byte, store.MaxConsoleSessionSealed+1)
		}), 5},
		{"NUL in name", change(func(c *store.ConsoleSession) { c.Name = nul }), 5},
		{"invalid UTF-8 in name", change(func(c *store.ConsoleSession) { c.Name = badUTF8 }), 5},
		{"NUL in identity id", change(func(c *store.ConsoleSession) { c.IdentityID = nul }), 5},
		{"invalid UTF-8 in identity id", change(func(c *store.ConsoleSession) { c.IdentityID = badUTF8 }), 5},
		{"name too long", change(func(c *store.ConsoleSession) { c.Name = long + "x" }), 5},
		{"identity id too long", change(func(c *store.ConsoleSession) { c.IdentityID = long + "x" }), 5},
		{"no creation time", change(func(c *store.ConsoleSession) { c.CreatedAt = time.Time{} }), 5},
		{"expires at creation", change(func(c *store.ConsoleSession) { c.ExpiresAt = c.CreatedAt }), 5},
		{"max 0", change(func(*store.ConsoleSession) {}), 0},
	} {
		wantErr(t, "create: "+tc.name, s.CreateConsoleSession(ctx, tc.c, tc.max), store.ErrInvalid)
		if _, err := s.GetConsoleSession(ctx, tc.c.IDHash, at(2)); err == nil {
			t.Errorf("%s: a refused session was stored", tc.name)
		}
	}
	// Nothing refused dropped the kept session (max 1 would have).
	if live := liveSessions(t, s, at(2), kept); !live[0] {
		t.Error("a refused create dropped a session")
	}
	// At the limits: accepted.
	edge := change(func(c *store.ConsoleSession) {
		c.Name, c.IdentityID = long, long
		c.SealedToken = make([]byte, store.MaxConsoleSessionSealed)
	})
	must(t, s.CreateConsoleSession(ctx, edge, 5))
	got, err := s.GetConsoleSession(ctx, edge.IDHash, at(2))
	must(t, err)
	checkEqual(t, "session at the limits", got, edge)

	_, err = s.GetConsoleSession(ctx, kept.IDHash[:16], at(2))
	wantErr(t, "get: short hash", err, store.ErrInvalid)
	_, err = s.GetConsoleSession(ctx, kept.IDHash, time.Time{})
	wantErr(t, "get: zero now", err, store.ErrInvalid)
	wantErr(t, "delete: short hash", s.DeleteConsoleSession(ctx, kept.IDHash[:16]), store.ErrInvalid)
	_, err = s.PurgeConsoleSessions(ctx, time.Time{})
	wantErr(t, "purge: zero now", err, store.ErrInvalid)
	if live := liveSessions(t, s, at(2), kept); !live[0] {
		t.Error("a refused call changed the store")
	}
}

// testConsoleSessionUnavailable: every session call past its deadline is
// store.ErrUnavailable and changes nothing.
func testConsoleSessionUnavailable(t *testing.T, s store.Store) {
	kept := newConsoleSession(newID(), at(0))
	must(t, s.CreateConsoleSession(t.Context(), kept, 1))
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	fresh := newConsoleSession(kept.IdentityID, at(1))
	for _, c := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Create", func(ctx context.Context) error { return s.CreateConsoleSession(ctx, fresh, 1) }},
		{"Get", func(ctx context.Context) error { _, err := s.GetConsoleSession(ctx, kept.IDHash, at(2)); return err }},
		{"Delete", func(ctx context.Context) error { return s.DeleteConsoleSession(ctx, kept.IDHash) }},
		{"Purge", func(ctx context.Context) error { _, err := s.PurgeConsoleSessions(ctx, at(1e6)); return err }},
	} {
		wantErr(t, c.name+" past its deadline", c.call(expired), store.ErrUnavailable)
	}
	checkEqual(t, "after the failed calls", liveSessions(t, s, at(2), kept, fresh), []bool{true, false})
}
