package tokencache

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The web console's sessions are not part of any token check (the console
// checks its token through the API, which goes through this cache like
// any caller): none of these calls can change a kept answer, and none is
// kept.

func (c *Store) CreateConsoleSession(ctx context.Context, s store.ConsoleSession, max int) error {
	return c.s.CreateConsoleSession(ctx, s, max)
}

func (c *Store) GetConsoleSession(ctx context.Context, idHash []byte, now time.Time) (store.ConsoleSession, error) {
	return c.s.GetConsoleSession(ctx, idHash, now)
}

func (c *Store) DeleteConsoleSession(ctx context.Context, idHash []byte) error {
	return c.s.DeleteConsoleSession(ctx, idHash)
}

func (c *Store) PurgeConsoleSessions(ctx context.Context, now time.Time) (int64, error) {
	return c.s.PurgeConsoleSessions(ctx, now)
}
