package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Group commit. Every login writes a token and an audit event (and a
// Universal Auth login a client-secret use), every check of a use-limited
// token writes a use, and SQLite commits one transaction at a time on the
// one write connection: with each statement its own transaction, requests
// queued behind the commits (a commit writes the changed pages to the WAL,
// a pwrite each) with the server's CPU half idle (BENCHMARKS.md). So the
// one-statement writes of those paths (CreateAccessToken,
// AppendAuditEvent, UseAccessToken, ConsumeClientSecret) hand their
// statement to one goroutine, which takes every write waiting at that
// moment (up to maxGroup) and runs them in one transaction. Each statement
// is still the same single statement, so a use limit is still checked and
// counted atomically. Each caller returns when its write is committed, with
// its own result, exactly as if it had run alone:
//
//   - a statement refused by a constraint (a duplicate id or hash), or an
//     UPDATE that matched no row, fails alone: SQLite undoes only that
//     statement and the transaction goes on;
//   - any other failure of a statement rolls the group back and runs its
//     writes again one by one, each in its own transaction, so no write is
//     lost or fails for another's sake (a failed COMMIT is every caller's
//     error, as it would be alone);
//   - a write whose caller gave up (context done) before the group ran is
//     not made; once the group runs, it is made and the caller is told the
//     outcome. Statements run under the group's own context: an interrupted
//     statement would roll the whole transaction back.
const maxGroup = 128

// pendingWrite is one statement waiting for the group writer.
type pendingWrite struct {
	ctx  context.Context
	stmt *sql.Stmt
	// run runs stmt (bound to the group's transaction) and keeps its
	// result for the caller, who reads it after done.
	run  func(ctx context.Context, stmt *sql.Stmt) error
	done chan error // buffered; gets exactly one value
}

// errClosed answers writes made after Close.
var errClosed = errors.New("sqlite: store is closed")

// groupExec runs stmt with args in the next group and returns its error.
func (s *Store) groupExec(ctx context.Context, stmt *sql.Stmt, args ...any) error {
	return s.groupRun(ctx, stmt, func(ctx context.Context, st *sql.Stmt) error {
		_, err := st.ExecContext(ctx, args...)
		return err
	})
}

// groupQueryRow runs stmt with args in the next group and scans its one
// row with scan; no row is sql.ErrNoRows, as from QueryRow.
func (s *Store) groupQueryRow(ctx context.Context, stmt *sql.Stmt, scan func(*sql.Row) error, args ...any) error {
	return s.groupRun(ctx, stmt, func(ctx context.Context, st *sql.Stmt) error {
		return scan(st.QueryRowContext(ctx, args...))
	})
}

// groupRun hands run to the group writer and returns its error.
func (s *Store) groupRun(ctx context.Context, stmt *sql.Stmt, run func(context.Context, *sql.Stmt) error) error {
	in := &pendingWrite{ctx: ctx, stmt: stmt, run: run, done: make(chan error, 1)}
	select {
	case s.writes <- in:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return errClosed
	}
	// The writer answers every insert it has taken, even after Close.
	return <-in.done
}

// groupWriter runs groups of writes until closing is closed, then closes
// done.
func (s *Store) groupWriter(done chan<- struct{}) {
	defer close(done)
	for {
		var group []*pendingWrite
		select {
		case in := <-s.writes:
			group = append(group, in)
		case <-s.closing:
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case in := <-s.writes:
				group = append(group, in)
			default:
				break more
			}
		}
		s.runGroup(group)
	}
}

// runGroup runs a group and answers each of its writes.
func (s *Store) runGroup(group []*pendingWrite) {
	live := group[:0:0]
	for _, in := range group {
		if err := in.ctx.Err(); err != nil {
			in.done <- err // never written
			continue
		}
		live = append(live, in)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*busyTimeout)
	defer cancel()
	if len(live) == 1 {
		live[0].done <- live[0].run(ctx, live[0].stmt)
		return
	}
	errs, retry, err := s.runGroupTx(ctx, live)
	switch {
	case retry:
		// A statement failed other than by a constraint and the group was
		// rolled back: nothing of it was written. Run each alone.
		for _, in := range live {
			in.done <- in.run(ctx, in.stmt)
		}
	case err != nil:
		// The commit failed: each caller gets the error, as it would
		// alone.
		for _, in := range live {
			in.done <- err
		}
	default:
		for i, in := range live {
			in.done <- errs[i]
		}
	}
}

// runGroupTx runs the writes in one transaction and commits it. It returns
// each write's own error (nil, a constraint violation or sql.ErrNoRows);
// retry when a statement failed otherwise and the group was rolled back,
// unwritten; or the error of a failed BEGIN or COMMIT.
func (s *Store) runGroupTx(ctx context.Context, group []*pendingWrite) (errs []error, retry bool, err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback() // no-op after Commit
	errs = make([]error, len(group))
	for i, in := range group {
		err := in.run(ctx, tx.StmtContext(ctx, in.stmt))
		if err != nil && !isConstraint(err) && !errors.Is(err, sql.ErrNoRows) {
			return nil, true, err
		}
		errs[i] = err
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("commit: %w", err)
	}
	return errs, false, nil
}

// isConstraint reports whether err is a constraint violation, which SQLite
// undoes for its statement alone, leaving the transaction going.
func isConstraint(err error) bool {
	var se *sqlitedrv.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
