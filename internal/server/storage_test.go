package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// openWithRetry retries only an unavailable store, for as long as it is
// allowed to, and says so in the log without the password.
func TestOpenWithRetry(t *testing.T) {
	const url = "postgres://gatehouse:hunter2@db:5432/gatehouse"
	down := fmt.Errorf("postgres: connect: %w: connection refused", store.ErrUnavailable)
	opener := func(failures int, err error) (func(context.Context, string) (store.Store, error), *int) {
		calls := 0
		return func(context.Context, string) (store.Store, error) {
			calls++
			if calls <= failures {
				return nil, err
			}
			return struct{ store.Store }{}, nil
		}, &calls
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ctx := t.Context()

	open, calls := opener(2, down)
	if _, err := openWithRetry(ctx, url, time.Minute, logger, open); err != nil || *calls != 3 {
		t.Errorf("two failures then success: err %v after %d calls, want nil after 3", err, *calls)
	}
	if n := strings.Count(logs.String(), "store unavailable; retrying"); n != 2 {
		t.Errorf("%d retries logged, want 2:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the password is in the log:\n%s", logs.String())
	}

	open, calls = opener(100, errors.New("postgres: invalid connection URL"))
	if _, err := openWithRetry(ctx, url, time.Minute, logger, open); err == nil || *calls != 1 {
		t.Errorf("a permanent error: err %v after %d calls, want an error after 1", err, *calls)
	}

	open, calls = opener(100, down)
	if _, err := openWithRetry(ctx, url, 0, logger, open); !errors.Is(err, store.ErrUnavailable) || *calls != 1 {
		t.Errorf("no patience: err %v after %d calls, want store.ErrUnavailable after 1", err, *calls)
	}

	open, _ = opener(100, down)
	start := time.Now()
	if _, err := openWithRetry(ctx, url, 300*time.Millisecond, logger, open); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("out of patience: %v, want store.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("a 300ms patience took %v", d)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	open, _ = opener(100, down)
	if _, err := openWithRetry(cctx, url, time.Hour, logger, open); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while retrying: %v, want context.Canceled", err)
	}
}

func TestStoreTimeoutMustBeUnderTheRequestDeadline(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, requestTimeout, time.Hour} {
		if checkStoreTimeout(d) == nil {
			t.Errorf("store timeout %v accepted", d)
		}
	}
	for _, d := range []time.Duration{0, time.Second, 30 * time.Second} {
		if err := checkStoreTimeout(d); err != nil {
			t.Errorf("store timeout %v: %v", d, err)
		}
	}
}
