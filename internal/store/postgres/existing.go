package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrNoStore: OpenExisting found no Gatehouse schema in the database.
var ErrNoStore = errors.New("postgres: no Gatehouse store there")

// OpenExisting opens the database like Open, but refuses (ErrNoStore in
// the chain) one without Gatehouse's schema instead of creating it: for
// maintenance commands, where a mistyped URL must not become a new empty
// store.
func OpenExisting(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, errors.New("postgres: invalid connection URL (details withheld: they could show the password)")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	var ok bool
	err = conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL
		AND to_regclass('meta') IS NOT NULL AND to_regclass('access_tokens') IS NOT NULL`).Scan(&ok)
	conn.Close(ctx)
	if err != nil {
		return nil, wrapErr("check schema", err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: database %q has no Gatehouse schema", ErrNoStore, cfg.Database)
	}
	return Open(ctx, url)
}
