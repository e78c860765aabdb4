package sqlite

import (
	"context"
	"strconv"
	"time"
)

// WAL checkpoints. SQLite appends every commit to the -wal file, and a
// reader looks each page up in the WAL's index before the database file,
// so that lookup costs more the longer the WAL is. SQLite's automatic
// checkpoint (PASSIVE, every 1000 pages) copies the WAL into the database
// but starts the WAL over only at a moment when no reader is using it —
// which, with requests reading all the time, never comes: under a steady
// load of writes (use-limited token checks, logins) the WAL grew without
// bound and searching its index became a quarter of the server's CPU
// (BENCHMARKS.md).
//
// So, once per checkpointInterval, the store runs a RESTART checkpoint:
// it copies the WAL into the database and waits, at most
// checkpointBusyWait, for the readers still on the WAL to finish (new
// readers then read the database file), so that the next write starts the
// WAL from the beginning. It runs on the write connection, so this
// process's writers wait for it; a checkpoint that cannot finish in time
// (a long reader, another process) is simply tried again next time.
const (
	checkpointInterval = time.Second
	checkpointBusyWait = 50 * time.Millisecond
)

// checkpointLoop runs checkpoints until stop is closed, then closes done.
func (s *Store) checkpointLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
		_ = s.checkpoint(ctx) // best effort: the next tick tries again
		cancel()
	}
}

// checkpoint runs one RESTART checkpoint on the write connection, with a
// short busy wait set for it alone.
func (s *Store) checkpoint(ctx context.Context) error {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(checkpointBusyWait.Milliseconds(), 10)); err != nil {
		return err
	}
	// busy and log/checkpointed frame counts: a checkpoint that could not
	// finish says busy = 1, which is not an error here.
	var busy, logFrames, checkpointed int64
	cerr := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &logFrames, &checkpointed)
	// Always restore the connection's normal busy wait.
	_, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = "+strconv.FormatInt(busyTimeout.Milliseconds(), 10))
	if cerr != nil {
		return cerr
	}
	return rerr
}
