package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// A database another process holds locked past the busy timeout, and a
// deadline exceeded, are store.ErrUnavailable: a 503 to retry, not a 500.
func TestBusyAndDeadlineAreUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "gatehouse.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Another process's writer, with no busy wait of its own.
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	ctx := t.Context()
	conn, err := s.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	_, busyErr := other.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('k', 'v')`)
	conn.ExecContext(ctx, "ROLLBACK")
	conn.Close()
	if busyErr == nil {
		t.Fatal("a write while another connection holds the write lock succeeded")
	}
	if !errors.Is(mapErr(busyErr), store.ErrUnavailable) {
		t.Errorf("SQLITE_BUSY mapped to %v, want store.ErrUnavailable", mapErr(busyErr))
	}

	dctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	if _, err := s.GetMeta(dctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetMeta past its deadline: %v, want store.ErrUnavailable", err)
	}
	// A client gone (cancelled) is not an outage.
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	if _, err := s.GetMeta(cctx, "k"); err == nil || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetMeta cancelled: %v, want an error that is not store.ErrUnavailable", err)
	}
	// A constraint violation is the client's, not an outage.
	_, err = s.write.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('a', '1'), ('a', '2')`)
	if errors.Is(mapErr(err), store.ErrUnavailable) {
		t.Errorf("duplicate key mapped to %v", mapErr(err))
	}
}
