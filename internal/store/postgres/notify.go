package postgres

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// tokenChecksChannel is the NOTIFY channel on which replicas announce the
// token-check answers their writes made stale (internal/store/tokencache).
const tokenChecksChannel = "gatehouse_token_checks"

// Announce tells every process listening (Follow) that the answer for the
// token with hash is stale; nil hash: every answer. The payload is the
// hash in hex, or empty.
func (s *Store) Announce(ctx context.Context, hash []byte) error {
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, tokenChecksChannel, hex.EncodeToString(hash)); err != nil {
		return wrapErr("announce", err)
	}
	return nil
}

// Feed receives the announcements of every process sharing the store.
type Feed struct {
	// Up is called when the feed is listening (again): announcements made
	// before may have been missed.
	Up func()
	// Down is called when it stops listening, with the cause.
	Down func(error)
	// Forget is called with each announcement's hash (nil: everything).
	Forget func(hash []byte)
}

// Follow listens for announcements on a connection of its own, outside
// the pool, until Close: it reconnects after a failure, waiting from
// followRetryMin doubling up to followRetryMax, and calls f's functions
// from one goroutine.
func (s *Store) Follow(f Feed) {
	s.followers.Go(func() { s.follow(s.closing, f) })
}

const (
	followRetryMin = 100 * time.Millisecond
	followRetryMax = 5 * time.Second
)

func (s *Store) follow(ctx context.Context, f Feed) {
	wait := followRetryMin
	for {
		err := s.listen(ctx, f, func() { wait = followRetryMin })
		f.Down(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, followRetryMax)
	}
}

// listen connects, LISTENs and hands every notification to f until the
// connection fails or ctx ends; up is called once listening.
func (s *Store) listen(ctx context.Context, f Feed, up func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("postgres: follow: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+tokenChecksChannel); err != nil {
		return fmt.Errorf("postgres: follow: listen: %w", err)
	}
	up()
	f.Up()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("postgres: follow: %w", err)
		}
		hash, err := hex.DecodeString(n.Payload)
		if err != nil || len(hash) == 0 {
			hash = nil // everything
		}
		f.Forget(hash)
	}
}
