package bounded

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The web console's sessions: each call bounded like every other.

func (b *Store) CreateConsoleSession(ctx context.Context, s store.ConsoleSession, max int) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.CreateConsoleSession(ctx, s, max) })
}

func (b *Store) GetConsoleSession(ctx context.Context, idHash []byte, now time.Time) (store.ConsoleSession, error) {
	return call(ctx, b, func(ctx context.Context) (store.ConsoleSession, error) {
		return b.s.GetConsoleSession(ctx, idHash, now)
	})
}

func (b *Store) DeleteConsoleSession(ctx context.Context, idHash []byte) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.DeleteConsoleSession(ctx, idHash) })
}

func (b *Store) PurgeConsoleSessions(ctx context.Context, now time.Time) (int64, error) {
	return call(ctx, b, func(ctx context.Context) (int64, error) { return b.s.PurgeConsoleSessions(ctx, now) })
}
