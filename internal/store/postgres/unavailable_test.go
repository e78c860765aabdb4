package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Which failures are the database being unavailable (a 503 to retry) and
// which are answers about the request (never "unavailable").
func TestUnavailableClassification(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "x"} }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"too many clients", pg("53300"), true},
		{"out of memory", pg("53200"), true},
		{"admin shutdown", pg("57P01"), true},
		{"crash shutdown", pg("57P02"), true},
		{"cannot connect now (starting up)", pg("57P03"), true},
		{"connection failure", pg("08006"), true},
		{"statement timeout", pg("57014"), true},
		{"deadline exceeded", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"conn closed", pgconn.ErrConnClosed, true},
		{"unique violation", pg("23505"), false},
		{"foreign key violation", pg("23503"), false},
		{"bad encoding (NUL)", pg("22021"), false},
		{"not null violation", pg("23502"), false},
		{"no rows", pgx.ErrNoRows, false},
		{"client cancelled", context.Canceled, false},
		{"other", errors.New("boom"), false},
	}
	for _, c := range cases {
		if got := unavailable(c.err); got != c.want {
			t.Errorf("%s: unavailable = %v, want %v", c.name, got, c.want)
		}
		wrapped := wrapErr("op", c.err)
		if got := errors.Is(wrapped, store.ErrUnavailable); got != c.want {
			t.Errorf("%s: wrapErr is ErrUnavailable = %v, want %v (%v)", c.name, got, c.want, wrapped)
		}
		if c.want && !errors.Is(wrapped, c.err) {
			t.Errorf("%s: wrapErr lost the cause: %v", c.name, wrapped)
		}
	}
}
