package bounded_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/logtest"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/bounded"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

// lockedBuffer is a log sink the code under test and the test may share.
type lockedBuffer = logtest.Buffer

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The wrapper changes no answer of a working store.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return bounded.New(openSQLite(t), bounded.Config{})
	})
}

// stalled is a store whose GetMeta waits until its context ends, as a call
// to a frozen database does; failWith, when set, is every GetIdentity's
// answer.
type stalled struct {
	store.Store
	mu       sync.Mutex
	failWith error
}

func (s *stalled) GetMeta(ctx context.Context, key string) (string, error) {
	<-ctx.Done()
	return "", fmt.Errorf("backend: %w", ctx.Err())
}

func (s *stalled) GetIdentity(ctx context.Context, id string) (store.Identity, error) {
	s.mu.Lock()
	err := s.failWith
	s.mu.Unlock()
	if err != nil {
		return store.Identity{}, err
	}
	return s.Store.GetIdentity(ctx, id)
}

func (s *stalled) set(err error) { s.mu.Lock(); s.failWith = err; s.mu.Unlock() }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// A stalled call ends at the store timeout with store.ErrUnavailable, even
// when the caller's context has no deadline (an audit write after the
// client has gone); a caller's earlier deadline wins.
func TestStalledCallIsBounded(t *testing.T) {
	b := bounded.New(&stalled{Store: openSQLite(t)}, bounded.Config{Timeout: 50 * time.Millisecond})
	defer b.Close()
	start := time.Now()
	_, err := b.GetMeta(context.WithoutCancel(t.Context()), "k")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("stalled call: %v, want store.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stalled call took %v with a 50ms store timeout", d)
	}

	long := bounded.New(&stalled{Store: openSQLite(t)}, bounded.Config{Timeout: time.Hour})
	defer long.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := long.GetMeta(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("stalled call past the caller's deadline: %v, want store.ErrUnavailable", err)
	}

	// A caller that gave up (cancelled) is not an outage.
	fresh := bounded.New(&stalled{Store: openSQLite(t)}, bounded.Config{Timeout: time.Hour})
	defer fresh.Close()
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	if _, err := fresh.GetMeta(ctx, "k"); errors.Is(err, store.ErrUnavailable) || err == nil {
		t.Fatalf("cancelled call: %v, want a non-unavailable error", err)
	}
	if fresh.Down() {
		t.Error("a cancelled call started an outage")
	}
}

// An outage is logged once when it starts and once when it ends, with the
// number of failed calls; the failures between are not logged at WARN or
// above, and a store that fails now and then stays one outage.
func TestOutageLoggedOnce(t *testing.T) {
	var logs lockedBuffer
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	st := &stalled{Store: openSQLite(t)}
	b := bounded.New(st, bounded.Config{Timeout: time.Second, Settle: 2 * time.Second, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn - 4}))})
	defer b.Close()
	ctx := t.Context()
	if err := b.CreateIdentity(ctx, store.Identity{ID: "00000000-0000-0000-0000-000000000001", Name: "a", Role: store.RoleMember}); err != nil {
		t.Fatal(err)
	}
	if b.Down() {
		t.Fatal("down before any failure")
	}
	down := fmt.Errorf("backend: connection refused: %w", store.ErrUnavailable)
	st.set(down)
	for range 100 {
		if _, err := b.GetIdentity(ctx, "00000000-0000-0000-0000-000000000001"); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("GetIdentity: %v", err)
		}
		clk.Advance(10 * time.Millisecond)
	}
	if !b.Down() {
		t.Fatal("not down after 100 unavailable answers")
	}
	// Answers in between (a pool with a few connections left) do not
	// end the outage before it settles.
	st.set(nil)
	if _, err := b.GetIdentity(ctx, "00000000-0000-0000-0000-000000000001"); err != nil {
		t.Fatal(err)
	}
	if !b.Down() {
		t.Error("an answer 10ms after the last failure ended the outage")
	}
	st.set(down)
	b.GetIdentity(ctx, "00000000-0000-0000-0000-000000000001")
	st.set(nil)
	clk.Advance(3 * time.Second)
	// Not found is an answer: the store is back.
	if _, err := b.GetIdentity(ctx, "00000000-0000-0000-0000-0000000000ff"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	if b.Down() {
		t.Error("still down after the store answered past the settle time")
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Errorf("%d WARN lines for one outage, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "level=ERROR"); n != 0 {
		t.Errorf("%d ERROR lines for one outage, want 0:\n%s", n, out)
	}
	if !strings.Contains(out, "store available again") || !strings.Contains(out, "failed_calls=101") {
		t.Errorf("no end-of-outage line with failed_calls=101:\n%s", out)
	}
}

// Background work may ask for a longer bound than a request's.
func TestWithTimeout(t *testing.T) {
	b := bounded.New(&stalled{Store: openSQLite(t)}, bounded.Config{Timeout: time.Hour})
	defer b.Close()
	start := time.Now()
	_, err := b.GetMeta(bounded.WithTimeout(t.Context(), 50*time.Millisecond), "k")
	if !errors.Is(err, store.ErrUnavailable) || time.Since(start) > 10*time.Second {
		t.Errorf("GetMeta with a 50ms bound: %v after %v", err, time.Since(start))
	}
}
