package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// unavailable reports whether err says the database could not be reached
// or did not answer in time, rather than refusing the request itself: a
// connection refused, reset or closed, a connection that could not be
// made, a server out of connection slots or shutting down, a statement
// cancelled, a deadline exceeded. A client cancelling its own request
// (context.Canceled) is not an outage.
func unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection_exception
			return true
		case strings.HasPrefix(pgErr.Code, "53"): // insufficient_resources: 53300 too_many_connections
			return true
		case strings.HasPrefix(pgErr.Code, "57P"): // admin_shutdown, crash_shutdown, cannot_connect_now, ...
			return true
		case pgErr.Code == "57014": // query_canceled (statement_timeout, cancel request)
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err),
		errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, net.ErrClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// markUnavailable wraps err with store.ErrUnavailable when it is a
// connection-level failure (and not already marked), keeping the cause for
// the logs; any other error is returned as is.
func markUnavailable(op string, err error) error {
	if !unavailable(err) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
}
