package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// walFrames is the number of frames in the WAL, from a PASSIVE checkpoint
// (which changes nothing a test looks at).
func walFrames(t *testing.T, s *Store) int64 {
	t.Helper()
	var busy, frames, done int64
	if err := s.write.QueryRowContext(t.Context(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &done); err != nil {
		t.Fatal(err)
	}
	return frames
}

// TestCheckpointRestartsWAL: after a checkpoint the next write starts the
// WAL over (without it, 200 writes stay in the WAL: too few for SQLite's
// own checkpoint), nothing is lost, and the write connection keeps its
// normal busy wait.
func TestCheckpointRestartsWAL(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := store.AccessToken{ID: "t", Hash: []byte("h"), AuthMethodType: store.AuthMethodRoot, CreatedAt: now, LastRenewedAt: now, NumUsesLimit: 1 << 40}
	if err := s.CreateAccessToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if _, err := s.UseAccessToken(ctx, tok.ID, now); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetTokenCheck(ctx, tok.Hash); err != nil {
			t.Fatal(err)
		}
	}
	before := walFrames(t, s)
	if before < 200 {
		t.Fatalf("WAL has %d frames after 200 writes", before)
	}

	if err := s.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseAccessToken(ctx, tok.ID, now); err != nil {
		t.Fatal(err)
	}
	if after := walFrames(t, s); after >= before {
		t.Errorf("WAL has %d frames after a checkpoint and one write, %d before: it was not restarted", after, before)
	}
	var bt int
	if err := s.write.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&bt); err != nil {
		t.Fatal(err)
	}
	if bt != int(busyTimeout.Milliseconds()) {
		t.Errorf("write connection's busy_timeout is %d after a checkpoint, want %d", bt, busyTimeout.Milliseconds())
	}
	got, err := s.GetAccessToken(ctx, tok.ID)
	if err != nil || got.NumUses != 201 {
		t.Errorf("after the checkpoint: %d uses, %v; want 201", got.NumUses, err)
	}
}

// TestCloseTwice: Close stops the checkpoint loop once and may be called
// again.
func TestCloseTwice(t *testing.T) {
	s := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.checkpoint(context.Background()); err == nil {
		t.Error("checkpoint on a closed store succeeded")
	}
}
