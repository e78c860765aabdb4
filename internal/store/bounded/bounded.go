// Package bounded puts a deadline on every store call and watches for
// store outages.
//
// Each call to the wrapped store.Store runs with a context that ends at the
// earlier of the caller's deadline and Timeout from the call: a stalled
// database (frozen, starved of connections, unreachable) costs a request at
// most Timeout per call, not the client's patience, and a write never
// commits after its caller has given up on it (the backends roll back a
// transaction whose context ended before COMMIT). A call cut short by that
// deadline fails with store.ErrUnavailable, as do the backends' own
// connection-level failures.
//
// The wrapper also keeps the store's health: the first unavailable answer
// starts an outage, logged once (WARN); the store answering again after a
// quiet spell ends it, logged once with the number of calls that failed
// meanwhile (INFO). Down reports whether an outage is in progress, for
// readiness.
package bounded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// DefaultTimeout bounds a store call when Config.Timeout is 0. It must be
// well under the HTTP server's write timeout, so that a request whose store
// calls time out can still be answered.
const DefaultTimeout = 5 * time.Second

// DefaultSettle is how long the store must go without an unavailable
// answer before an outage is declared over: a store that fails one call in
// two (too many clients) stays one outage, not a flood of them.
const DefaultSettle = 2 * time.Second

// Config configures a Store.
type Config struct {
	// Timeout bounds each call (DefaultTimeout when 0).
	Timeout time.Duration
	// Settle: see DefaultSettle (used when 0).
	Settle time.Duration
	// Logger receives the outage start and end; discarded when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Store is a store.Store whose calls are bounded in time and watched for
// outages.
type Store struct {
	s       store.Store
	timeout time.Duration
	health  *health
}

var _ store.Store = (*Store)(nil)

// New wraps s.
func New(s store.Store, cfg Config) *Store {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{s: s, timeout: cfg.Timeout, health: &health{logger: cfg.Logger, now: cfg.Now, settle: cfg.Settle}}
}

// Timeout is the bound on each call.
func (b *Store) Timeout() time.Duration { return b.timeout }

// Down reports whether a store outage is in progress: an unavailable
// answer was seen and the store has not answered since (or has, but less
// than the settle time after the last failure).
func (b *Store) Down() bool { return b.health.down.Load() }

// Unwrap returns the wrapped store.
func (b *Store) Unwrap() store.Store { return b.s }

type timeoutKey struct{}

// WithTimeout returns ctx whose store calls are bounded by d instead of
// the store timeout: for background work (the token sweep) whose calls may
// legitimately take longer than a request's.
func WithTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, timeoutKey{}, d)
}

// call runs f with the bounded context and records the outcome.
func call[T any](ctx context.Context, b *Store, f func(context.Context) (T, error)) (T, error) {
	timeout := b.timeout
	if d, ok := ctx.Value(timeoutKey{}).(time.Duration); ok && d > 0 {
		timeout = d
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	v, err := f(cctx)
	cancel()
	if err == nil {
		b.health.ok()
		return v, nil
	}
	if !errors.Is(err, store.ErrUnavailable) && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		// Cut short by our deadline (or the caller's), however the
		// backend worded it.
		err = fmt.Errorf("%w: no answer within %v: %w", store.ErrUnavailable, timeout, err)
	}
	switch {
	case errors.Is(err, store.ErrUnavailable):
		b.health.failed(err)
	case ctx.Err() == nil:
		b.health.ok() // the store answered (not found, conflict, ...)
	}
	return v, err
}

// call0 is call for methods that return only an error.
func call0(ctx context.Context, b *Store, f func(context.Context) error) error {
	_, err := call(ctx, b, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}

// health is the outage state machine.
type health struct {
	logger *slog.Logger
	now    func() time.Time
	settle time.Duration
	down   atomic.Bool // read without mu on every successful call

	mu          sync.Mutex
	since       time.Time // start of the outage
	lastFailure time.Time
	failures    int64 // unavailable answers during the outage
}

func (h *health) failed(err error) {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastFailure = now
	h.failures++
	if h.down.Load() {
		return
	}
	h.down.Store(true)
	h.since, h.failures = now, 1
	h.logger.Warn("store unavailable: answering 503 until it is back (further failures are logged at debug level)", "err", err)
}

func (h *health) ok() {
	if !h.down.Load() {
		return
	}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down.Load() || now.Sub(h.lastFailure) < h.settle {
		return
	}
	h.down.Store(false)
	h.logger.Info("store available again", "outage", now.Sub(h.since).Round(time.Millisecond).String(), "failed_calls", h.failures)
}
