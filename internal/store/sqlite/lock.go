package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrLocked: another process (a running server, or `operator
// generate-root`) has the database open.
var ErrLocked = errors.New("sqlite: the database is in use by another Gatehouse process (is a server running on it?)")

// ErrNoStore: OpenExisting found no database, or one without Gatehouse's
// schema.
var ErrNoStore = errors.New("sqlite: no Gatehouse store there")

// lockPath is the lock file of the database at path: <path>.lock. Open
// holds an exclusive advisory lock (flock) on it until Close, so that one
// process at a time uses the file: a server's token-check cache is only
// right while no one else writes.
func lockPath(path string) string { return path + ".lock" }

// OpenExisting opens the database at path like Open, but refuses (with
// ErrNoStore in the chain) a file that does not exist or has no Gatehouse
// schema, instead of creating one: for maintenance commands, where a
// mistyped path must not become a new empty store.
func OpenExisting(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist", ErrNoStore, abs)
		}
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a file", ErrNoStore, abs)
	}
	if err := checkSchema(ctx, abs); err != nil {
		return nil, err
	}
	return Open(ctx, abs)
}

// checkSchema makes sure the file has Gatehouse's schema, reading it
// without creating or changing anything.
func checkSchema(ctx context.Context, abs string) error {
	db, err := sql.Open("sqlite", dsn(abs, true)+"&mode=ro")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('schema_migrations', 'meta', 'access_tokens')`).Scan(&n)
	if err != nil {
		return fmt.Errorf("%w: %s is not a readable SQLite database: %w", ErrNoStore, abs, err)
	}
	if n != 3 {
		return fmt.Errorf("%w: %s has no Gatehouse schema", ErrNoStore, abs)
	}
	return nil
}
