// Package postgres is the PostgreSQL Store, for several Gatehouse replicas
// sharing one database. It uses pgx with a connection pool; the schema is
// migrated at Open (see migrate.go).
//
// Counters are checked and incremented in one UPDATE, read-modify-write
// updaters lock the row (SELECT ... FOR UPDATE) in a transaction, and
// multi-table operations are one transaction, so any number of processes can
// share the database.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	pool *pgxpool.Pool
	// closing ends the followers (Follow) at Close.
	closing   context.Context
	stop      context.CancelFunc
	followers sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// Defaults applied when the URL does not set them. Pool sizes and lifetimes
// are pgxpool's (pool_max_conns etc. in the URL override them).
const (
	defaultConnectTimeout  = 10 * time.Second
	defaultApplicationName = "gatehouse"
)

// Open connects to the database at url (a postgres:// URL or key=value
// connection string, with pgxpool's pool_* parameters), checks that it
// answers and brings the schema up to date.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors can quote the whole string, password included.
		return nil, errors.New("postgres: invalid connection URL (details withheld: they could show the password)")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = defaultApplicationName
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		if unavailable(err) {
			return nil, fmt.Errorf("postgres: connect: %w: %w", store.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, markUnavailable("migrate", err)
	}
	closing, stop := context.WithCancel(context.Background())
	return &Store{pool: pool, closing: closing, stop: stop}, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return markUnavailable("ping", err)
	}
	return nil
}

// Close stops the followers and closes the pool, waiting for connections
// in use to be returned.
func (s *Store) Close() error {
	s.stop()
	s.followers.Wait()
	s.pool.Close()
	return nil
}

// GetMeta returns a server-level setting.
func (s *Store) GetMeta(ctx context.Context, key string) (string, error) {
	var value string
	err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&value)
	if err != nil {
		return "", wrapErr("get meta", err)
	}
	return value, nil
}

// PutMetaIfAbsent sets key unless it is set; of racing callers one wins.
func (s *Store) PutMetaIfAbsent(ctx context.Context, key, value string) (bool, error) {
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, value)
	if err != nil {
		return false, wrapErr("put meta", err)
	}
	return tag.RowsAffected() == 1, nil
}

// wrapErr names the operation and turns PostgreSQL's answers into the
// store's sentinels: no row is ErrNotFound, a unique violation
// ErrAlreadyExists and a foreign-key violation (the parent is missing)
// ErrNotFound; a connection-level failure (unavailable) is
// store.ErrUnavailable.
func wrapErr(op string, err error) error {
	if unavailable(err) {
		return markUnavailable(op, err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("postgres: %s: %w (%s)", op, store.ErrAlreadyExists, pgErr.ConstraintName)
		case "23503": // foreign_key_violation
			return fmt.Errorf("postgres: %s: %w (%s)", op, store.ErrNotFound, pgErr.ConstraintName)
		case "22021", // character_not_in_repertoire: NUL or invalid UTF-8 in text
			"22P05": // untranslatable_character: \u0000 in jsonb
			return fmt.Errorf("postgres: %s: %w (SQLSTATE %s)", op, store.ErrInvalid, pgErr.Code)
		}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// inTx runs fn in a transaction, committed when fn returns nil. fn's error
// comes back as is, so updater errors reach the caller untouched.
// A connection-level failure (at BEGIN, COMMIT or inside fn) comes back
// marked store.ErrUnavailable. When ctx ends before COMMIT is sent, pgx
// rolls back (the connection is closed), so nothing is committed after the
// caller's deadline.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return markUnavailable("transaction", pgx.BeginFunc(ctx, s.pool, fn))
}

// updateRow is every Update method's read-modify-write, in one
// transaction: read (and lock) the current row, let update change it (its
// error aborts and is returned as is) and store it with write, which
// returns the row as stored. op names the operation in errors.
func updateRow[T any](ctx context.Context, s *Store, op string, read func(pgx.Tx) (T, error), update func(*T) error, write func(pgx.Tx, T) (T, error)) (T, error) {
	var out T
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := read(tx)
		if err != nil {
			return wrapErr(op, err)
		}
		if err := update(&cur); err != nil {
			return err
		}
		if out, err = write(tx, cur); err != nil {
			return wrapErr(op, err)
		}
		return nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// errZeroNow: a revocation at the zero time would be stored as NULL and
// leave the tokens live.
var errZeroNow = errors.New("revocation time is zero")

// checkNow refuses a zero revocation time.
func checkNow(op string, now time.Time) error {
	if now.IsZero() {
		return fmt.Errorf("postgres: %s: %w", op, errZeroNow)
	}
	return nil
}

// timeArg is t as a timestamptz parameter: NULL for the zero time.
// PostgreSQL keeps microseconds.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// timeDest scans a nullable timestamptz: NULL is the zero time, anything
// else comes back in UTC.
type timeDest struct{ t *time.Time }

func (d timeDest) ScanTimestamptz(v pgtype.Timestamptz) error {
	switch {
	case !v.Valid:
		*d.t = time.Time{}
	case v.InfinityModifier != pgtype.Finite:
		return errors.New("infinite timestamp")
	default:
		*d.t = v.Time.UTC()
	}
	return nil
}

// jsonArg marshals v for a jsonb parameter.
func jsonArg(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// configArg is a JSON document as a json parameter: NULL when empty.
func configArg(c json.RawMessage) any {
	if len(c) == 0 {
		return nil
	}
	return []byte(c)
}

// bytesArg is a byte string (a sealed secret) as a bytea parameter: NULL
// when empty.
func bytesArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// limitArg is a LIMIT parameter: NULL (no limit) unless limit is positive.
func limitArg(limit int) any {
	if limit <= 0 {
		return nil
	}
	return limit
}

func offsetArg(offset int) int {
	return max(offset, 0)
}

// page reads a listing query whose last column is count(*) OVER (); when
// the page is empty (offset past the end) the total is counted apart, by
// countQuery with args but their last two (the query's offset and limit).
func page[T any](ctx context.Context, s *Store, op, query, countQuery string, args []any,
	scan func(pgx.Row, ...any) (T, error)) ([]T, int, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, 0, wrapErr(op, err)
	}
	defer rows.Close()
	items := []T{}
	total := 0
	for rows.Next() {
		item, err := scan(rows, &total)
		if err != nil {
			return nil, 0, wrapErr(op, err)
		}
		items = append(items, item)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrapErr(op, err)
	}
	if len(items) == 0 {
		if err := s.pool.QueryRow(ctx, countQuery, args[:len(args)-2]...).Scan(&total); err != nil {
			return nil, 0, wrapErr(op, err)
		}
	}
	return items, total, nil
}

// list reads every row of a query.
func list[T any](ctx context.Context, s *Store, op, query string, args []any,
	scan func(pgx.Row, ...any) (T, error)) ([]T, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	items := []T{}
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		items = append(items, item)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, err)
	}
	return items, nil
}
