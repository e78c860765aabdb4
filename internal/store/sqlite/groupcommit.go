package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"runtime"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Group commit. Every login writes a token and an audit event (and a
// Universal Auth login a client-secret use), every check of a use-limited
// token writes a use, and SQLite commits one transaction at a time on the
// one write connection: with each statement its own transaction, requests
// queued behind the commits (a commit writes the changed pages to the WAL,
// a pwrite each) with the server's CPU half idle (BENCHMARKS.md). So the
// one-statement writes of those paths (CreateAccessToken,
// AppendAuditEvent, UseAccessToken, IssueAccessToken) hand their
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
//
// A unit is a write of several statements that must all be made or none
// (a login's secret use, token and audit event: IssueAccessToken). In a
// group it runs inside a SAVEPOINT, rolled back to when one of its
// statements is refused (a constraint, or no row where one was needed), so
// it too fails alone; run alone, it gets a transaction of its own.
//
// The audit events of a group (AppendAuditEvent: every exchange, every
// refusal, every admin change) are written with as few statements as
// possible: INSERTs of 2, 4, … maxAuditRows rows, prepared at Open
// (internal/audit's BenchmarkAppendAuditEvent: about a third less time
// per event). A statement refused by a constraint (a duplicate event id)
// is undone by SQLite as a whole; its events are then written one by
// one, so only the duplicate fails, as alone.
const maxGroup = 128

// maxAuditRows is the most audit events one INSERT writes.
const (
	maxAuditRowsLog2 = 6
	maxAuditRows     = 1 << maxAuditRowsLog2
)

// pendingWrite is one write waiting for the group writer.
type pendingWrite struct {
	ctx context.Context
	// run runs the write's statements, each through bind (which binds it
	// to the group's transaction, if any), and keeps its result for the
	// caller, who reads it after done.
	run  func(ctx context.Context, bind binder) error
	unit bool // several statements: all or none
	// audit, when set, are the arguments of an audit event's INSERT
	// (auditArgs), which run also makes: the group writes its events
	// together (appendAuditEvents), and run is for a write alone or again.
	audit []any
	done  chan error // buffered; gets exactly one value
}

// binder binds a prepared statement to the transaction a write runs in.
type binder func(*sql.Stmt) *sql.Stmt

func unbound(st *sql.Stmt) *sql.Stmt { return st }

// txBinder binds statements to tx.
func txBinder(ctx context.Context, tx *sql.Tx) binder {
	return func(st *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, st) }
}

// errClosed answers writes made after Close.
var errClosed = errors.New("sqlite: store is closed")

// groupExec runs stmt with args in the next group and returns its error.
func (s *Store) groupExec(ctx context.Context, stmt *sql.Stmt, args ...any) error {
	return s.groupRun(ctx, false, func(ctx context.Context, bind binder) error {
		_, err := bind(stmt).ExecContext(ctx, args...)
		return err
	})
}

// groupAppendAudit appends the audit event with args in the next group.
func (s *Store) groupAppendAudit(ctx context.Context, args []any) error {
	return s.hand(ctx, s.pendingAudit(ctx, args))
}

// pendingAudit is the write of the audit event with args (auditArgs).
func (s *Store) pendingAudit(ctx context.Context, args []any) *pendingWrite {
	return &pendingWrite{ctx: ctx, audit: args, run: func(ctx context.Context, bind binder) error {
		_, err := bind(s.stmts.appendAuditEvent).ExecContext(ctx, args...)
		return err
	}}
}

// groupQueryRow runs stmt with args in the next group and scans its one
// row with scan; no row is sql.ErrNoRows, as from QueryRow.
func (s *Store) groupQueryRow(ctx context.Context, stmt *sql.Stmt, scan func(*sql.Row) error, args ...any) error {
	return s.groupRun(ctx, false, func(ctx context.Context, bind binder) error {
		return scan(bind(stmt).QueryRowContext(ctx, args...))
	})
}

// groupUnit runs the statements of run as one unit (all or none) in the
// next group and returns its error.
func (s *Store) groupUnit(ctx context.Context, run func(context.Context, binder) error) error {
	return s.groupRun(ctx, true, run)
}

// groupRun hands run to the group writer and returns its error.
func (s *Store) groupRun(ctx context.Context, unit bool, run func(context.Context, binder) error) error {
	return s.hand(ctx, &pendingWrite{ctx: ctx, run: run, unit: unit})
}

// hand hands in to the group writer and returns its error.
func (s *Store) hand(ctx context.Context, in *pendingWrite) error {
	in.done = make(chan error, 1)
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
		// Let the goroutines that are about to hand in a write run
		// first (it returns at once when none is runnable): a group of
		// one costs a whole commit.
		runtime.Gosched()
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
		live[0].done <- s.runAlone(ctx, live[0])
		return
	}
	errs, retry, err := s.runGroupTx(ctx, live)
	switch {
	case retry:
		// A statement failed other than by a constraint and the group was
		// rolled back: nothing of it was written. Run each alone.
		for _, in := range live {
			in.done <- s.runAlone(ctx, in)
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
	bind := txBinder(ctx, tx)
	errs = make([]error, len(group))
	if err := s.appendAuditEvents(ctx, bind, group, errs); err != nil {
		return nil, true, err
	}
	for i, in := range group {
		if in.audit != nil {
			continue // written above
		}
		if in.unit {
			errs[i], err = s.runSavepoint(ctx, in, bind)
			if err != nil {
				return nil, true, err
			}
			continue
		}
		err := in.run(ctx, bind)
		if err != nil && !refused(err) {
			return nil, true, err
		}
		errs[i] = err
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("commit: %w", err)
	}
	return errs, false, nil
}

// appendAuditEvents writes the audit events of group in INSERTs of as
// many rows as it can (a power of two, at most maxAuditRows) and sets
// each one's own error in errs; a failure other than a refusal is
// returned, for the group to retry.
func (s *Store) appendAuditEvents(ctx context.Context, bind binder, group []*pendingWrite, errs []error) error {
	var events []int // indexes in group
	for i, in := range group {
		if in.audit != nil {
			events = append(events, i)
		}
	}
	for len(events) > 0 {
		log2 := min(bits.Len(uint(len(events)))-1, maxAuditRowsLog2)
		chunk := events[:1<<log2]
		events = events[1<<log2:]
		if log2 > 0 {
			args := make([]any, 0, len(chunk)*len(group[chunk[0]].audit))
			for _, i := range chunk {
				args = append(args, group[i].audit...)
			}
			_, err := bind(s.stmts.appendAuditEvents[log2]).ExecContext(ctx, args...)
			if err == nil {
				continue
			}
			if !refused(err) {
				return err
			}
			// A row was refused and SQLite undid the statement: write
			// each alone, so that only the refused one fails.
		}
		for _, i := range chunk {
			err := group[i].run(ctx, bind)
			if err != nil && !refused(err) {
				return err
			}
			errs[i] = err
		}
	}
	return nil
}

// runSavepoint runs a unit inside the group's transaction: a refused
// statement undoes the whole unit (ROLLBACK TO) and is the unit's own
// error; any other failure is returned as fatal, for the group to retry.
func (s *Store) runSavepoint(ctx context.Context, in *pendingWrite, bind binder) (own, fatal error) {
	if _, err := bind(s.stmts.savepoint).ExecContext(ctx); err != nil {
		return nil, err
	}
	err := in.run(ctx, bind)
	if err != nil && !refused(err) {
		return nil, err
	}
	if err != nil {
		if _, rerr := bind(s.stmts.rollbackToSavepoint).ExecContext(ctx); rerr != nil {
			return nil, rerr
		}
	}
	if _, rerr := bind(s.stmts.releaseSavepoint).ExecContext(ctx); rerr != nil {
		return nil, rerr
	}
	return err, nil
}

// runAlone runs one write by itself: a statement as it is (SQLite makes it
// its own transaction), a unit in a transaction of its own.
func (s *Store) runAlone(ctx context.Context, in *pendingWrite) error {
	if !in.unit {
		return in.run(ctx, unbound)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // no-op after Commit
	if err := in.run(ctx, txBinder(ctx, tx)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// refused reports whether a statement's error is its own refusal, which
// leaves the transaction going: a constraint violation (SQLite undoes that
// statement alone), no row where the write needed one, or a unit that
// refuses itself (a login whose lockout record is locked: store.ErrLocked).
func refused(err error) bool {
	return isConstraint(err) || errors.Is(err, sql.ErrNoRows) || errors.Is(err, store.ErrLocked)
}

// isConstraint reports whether err is a constraint violation, which SQLite
// undoes for its statement alone, leaving the transaction going.
func isConstraint(err error) bool {
	var se *sqlitedrv.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
