// Package sqlite is the embedded SQLite backend of store.Store, Gatehouse's
// default: one file on disk, no database server to run.
//
// Driver: modernc.org/sqlite. It is SQLite's C source translated to pure Go,
// so there is no cgo: `go build` works on a fresh machine without a C
// toolchain and the binary cross-compiles with GOOS/GOARCH alone. It is
// actively maintained, tracks upstream SQLite releases and passes SQLite's
// own test suite.
//
// Concurrency. SQLite lets one connection write at a time; a second writer
// gets SQLITE_BUSY. The store therefore opens two pools on the same file:
//
//   - write: exactly one connection (SetMaxOpenConns(1)). Every statement or
//     transaction that writes goes through it, so concurrent writers in this
//     process queue inside database/sql (honouring their contexts) instead of
//     failing. Write transactions start with BEGIN IMMEDIATE (the DSN's
//     _txlock=immediate), taking the write lock up front so a
//     read-modify-write transaction is never refused the lock halfway.
//     busy_timeout makes us wait, rather than fail, while another process
//     (an operator command on the same file) holds the lock.
//   - read: several connections with query_only set. In WAL mode readers
//     neither block the writer nor each other, and each new read sees every
//     write committed before it began.
//
// Updater functions run inside the write transaction, on the single write
// connection: they must not call the store, or they would wait for that
// connection forever.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// busyTimeout is how long a connection waits for another process's lock.
const busyTimeout = 5 * time.Second

// Store is the SQLite implementation of store.Store.
type Store struct {
	write *sql.DB // one connection: all writes
	read  *sql.DB // query_only connections: reads
	stmts *stmts  // the hot paths' prepared statements

	writes          chan *pendingWrite // to groupWriter (groupcommit.go)
	closing         chan struct{}      // closed by Close: stops the goroutines below
	checkpointsDone chan struct{}      // closed when checkpointLoop returns
	lock            *os.File           // holds the flock of <path>.lock (lock.go); nil where unsupported
	writerDone      chan struct{}      // closed when groupWriter returns
	closeOnce       sync.Once
	closeErr        error
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path, creating its
// parent directory with mode 0700, and applies any pending schema
// migration.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: creating database directory: %w", err)
	}
	lock, err := lockFile(abs)
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, abs)
	if err != nil {
		closeLock(lock)
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func open(ctx context.Context, abs string) (*Store, error) {
	// Create the file ourselves so that it (and the -wal and -shm files,
	// which SQLite creates with the main file's mode) is private: it holds
	// token hashes and sealed secrets.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: opening database file: %w", err)
	}

	write, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if _, err := migrate(ctx, write, migrations); err != nil {
		write.Close()
		return nil, err
	}

	read, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	st, err := prepareStmts(ctx, read, write)
	if err != nil {
		write.Close()
		read.Close()
		return nil, err
	}
	s := &Store{
		write: write, read: read, stmts: st,
		writes: make(chan *pendingWrite), closing: make(chan struct{}),
		checkpointsDone: make(chan struct{}), writerDone: make(chan struct{}),
	}
	go s.checkpointLoop(s.closing, s.checkpointsDone)
	go s.groupWriter(s.writerDone)
	return s, nil
}

// closeLock releases the database's lock.
func closeLock(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// dsn builds the driver's connection string. The pragmas go in the DSN (not
// in an Exec after Open) because database/sql opens connections whenever it
// likes: the driver runs these on every new connection of the pool.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)") // safe with WAL: a crash loses at most the last commits, never consistency
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		// Statement and savepoint journals (the undo copies of pages a
		// group's unit changes: groupcommit.go) in memory, not in a
		// temporary file written page by page: a write's undo data only
		// lives until its statement or savepoint ends.
		q.Add("_pragma", "temp_store(MEMORY)")
	}
	p := filepath.ToSlash(path)
	if p[0] != '/' { // Windows: C:/x → /C:/x
		p = "/" + p
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// Ping reports whether both pools can reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: %w", mapErr(err))
	}
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: %w", mapErr(err))
	}
	return nil
}

// Close stops the checkpoints and the group writer (which first answers the
// writes it has taken) and closes the prepared statements and both pools.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.checkpointsDone
		<-s.writerDone
		s.closeErr = errors.Join(s.stmts.close(), s.read.Close(), s.write.Close())
		closeLock(s.lock)
	})
	return s.closeErr
}

// GetMeta returns a server-level setting.
func (s *Store) GetMeta(ctx context.Context, key string) (string, error) {
	if err := checkText("get meta", key); err != nil {
		return "", err
	}
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if err != nil {
		return "", notFound(err, "meta %q", key)
	}
	return v, nil
}

// PutMetaIfAbsent sets key unless it is set; the INSERT's conflict clause
// makes the check and the write one statement.
func (s *Store) PutMetaIfAbsent(ctx context.Context, key, value string) (bool, error) {
	if err := checkText("put meta", key, value); err != nil {
		return false, err
	}
	res, err := s.write.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value)
	if err != nil {
		return false, fmt.Errorf("sqlite: put meta %q: %w", key, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: put meta %q: %w", key, err)
	}
	return n == 1, nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it if fn
// returns nil. fn's error is returned as is.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", mapErr(err))
	}
	defer tx.Rollback() // no-op after Commit; also covers a panicking updater
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", mapErr(err))
	}
	return nil
}

// inReadTx runs fn in a read transaction, so that several queries (a page
// and its total) see one snapshot.
func (s *Store) inReadTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", mapErr(err))
	}
	defer tx.Rollback()
	return fn(tx)
}

// page reads a page of a listing query (its parameters: args, then limit
// and offset) and the total of countQuery (args) in one read transaction.
func page[T any](ctx context.Context, s *Store, query, countQuery string, args []any, limit, offset int,
	scan func(rowScanner) (T, error)) ([]T, int, error) {
	out := []T{}
	var total int
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, countQuery, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, query, append(args[:len(args):len(args)], limit, offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			item, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, item)
		}
		return rows.Err()
	})
	return out, total, err
}

// mapErr turns SQLite constraint violations into the store's sentinels,
// and a database still busy or locked after the busy timeout, or a
// deadline exceeded, into store.ErrUnavailable.
func mapErr(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return err // mapped already
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%w)", store.ErrUnavailable, err)
	}
	var se *sqlitedrv.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff { // primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%w (%w)", store.ErrUnavailable, err)
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w (%v)", store.ErrAlreadyExists, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w (%v)", store.ErrNotFound, err)
	}
	return err
}

// updateRow is every Update method's read-modify-write, in one write
// transaction: read the current row (ErrNotFound when absent), let update
// change it (its error aborts and is returned as is), and store it with
// write, which returns the row as stored. what names the row in errors.
func updateRow[T any](ctx context.Context, s *Store, what string, read func(*sql.Tx) (T, error), update func(*T) error, write func(*sql.Tx, T) (T, error)) (T, error) {
	var out T
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := read(tx)
		if err != nil {
			return notFound(err, "%s", what)
		}
		if err := update(&cur); err != nil {
			return err
		}
		if out, err = write(tx, cur); err != nil {
			return fmt.Errorf("sqlite: update %s: %w", what, mapErr(err))
		}
		return nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// notFound turns sql.ErrNoRows into store.ErrNotFound, naming the object.
func notFound(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("sqlite: %s: %w", what, mapErr(err))
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// micros stores a time as unix microseconds, or NULL for the zero time.
func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromMicros reads a time stored by micros, in UTC.
func fromMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// pageArgs turns offset and limit into LIMIT/OFFSET values: a limit of zero
// or less means no limit.
func pageArgs(offset, limit int) (int, int) {
	if limit <= 0 {
		limit = -1
	}
	return max(offset, 0), limit
}

// encodeJSON encodes v, writing empty (not null) when v is a nil slice or
// map.
func encodeJSON(v any, empty string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if string(b) == "null" {
		return empty, nil
	}
	if err := checkJSONB("encoding a JSON document", b); err != nil {
		return "", err
	}
	return string(b), nil
}

func decodeStringMap(s string) (map[string]string, error) {
	m := map[string]string{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]string{}
	}
	return m, nil
}

func decodeStrings(s string) ([]string, error) {
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	if v == nil {
		v = []string{}
	}
	return v, nil
}

// blob stores an optional byte string: NULL when empty.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullString stores an optional string: NULL when empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// checkNow refuses a zero revocation time: stored as NULL it would leave
// the tokens live.
func checkNow(now time.Time) error {
	if now.IsZero() {
		return errors.New("sqlite: revocation time is zero")
	}
	return nil
}
