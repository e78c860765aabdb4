// Package agent keeps a workload logged in, as Vault Agent's auto-auth
// with a file sink does: it logs in, writes the token to its sinks,
// renews it at about two thirds of its TTL, and logs in again — with the
// credentials read afresh, so a rotated projected service-account JWT is
// the one sent — when renewal is refused or the token nears its max TTL.
package agent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/internal/client"
)

// Failure kinds, the label of gatehouse_agent_failures_total.
const (
	KindCredentials      = "credentials"       // the JWT or client secret could not be read
	KindJWTExpired       = "jwt_expired"       // the JWT file holds an expired JWT: not sent
	KindLoginRefused     = "login_refused"     // the server refused the login (4xx)
	KindLoginUnavailable = "login_unavailable" // no answer, or a 5xx or 429
	KindRenewRefused     = "renew_refused"     // renewal refused: log in again
	KindRenewUnavailable = "renew_unavailable"
	KindSink             = "sink" // a sink could not be written
	KindRevoke           = "revoke"
)

// Config is what an Agent needs. Client, Credentials and Sinks are
// required.
type Config struct {
	Client *client.Client
	// Credentials is called before every login; for Kubernetes it reads
	// the JWT file afresh.
	Credentials func() (client.Credentials, error)
	Sinks       []Sink
	Logger      *slog.Logger
	// Registry receives the agent's metrics; nil: a registry of its own.
	Registry *prometheus.Registry
	// Now and Sleep are the clock and the wait; time.Now and a timer when
	// nil. Sleep returns ctx.Err() when ctx ends first.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter is a random number in [0, 1); math/rand when nil.
	Jitter func() float64
	// RetryMin and RetryMax bound the exponential backoff between failed
	// attempts (defaults 1s and 5m).
	RetryMin, RetryMax time.Duration
	// RequestTimeout bounds each call to the server (default 30s).
	RequestTimeout time.Duration
	// ExitAfterAuth makes Run return after the first token is written.
	ExitAfterAuth bool
	// RevokeOnExit revokes the token when Run ends.
	RevokeOnExit bool
}

// Agent keeps one token fresh.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	mu sync.Mutex
	st state
}

// state is the current token and when to act on it.
type state struct {
	tok         client.Token
	ttl         time.Duration // as of refreshed
	refreshed   time.Time     // last login or renewal
	loginTTL    time.Duration
	maxExpiry   time.Time // login + MaxTTL when the API says; zero otherwise
	expiresAt   time.Time // zero: no expiry
	mustRelogin bool      // renewal can no longer give a full TTL
	lastErr     string
	lastSuccess time.Time
}

// New checks cfg and builds an Agent.
func New(cfg Config) (*Agent, error) {
	if cfg.Client == nil || cfg.Credentials == nil {
		return nil, errors.New("agent: a client and credentials are required")
	}
	if len(cfg.Sinks) == 0 && !cfg.ExitAfterAuth {
		return nil, errors.New("agent: at least one sink is required")
	}
	if cfg.ExitAfterAuth && cfg.RevokeOnExit {
		return nil, errors.New("agent: revoking on exit would revoke the token an init container just wrote")
	}
	for _, s := range cfg.Sinks {
		if c, ok := s.(interface{ checkOwner() error }); ok {
			if err := c.checkOwner(); err != nil {
				return nil, fmt.Errorf("agent: sink %s: %w", s.Name(), err)
			}
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Jitter == nil {
		cfg.Jitter = rand.Float64
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(5*time.Minute, cfg.RetryMin)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, log: cfg.Logger, metrics: m}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrNotAuthenticated is Run ending before any token was written, with
// ExitAfterAuth (an init container must fail then).
var ErrNotAuthenticated = errors.New("stopped before a login succeeded")

// Run keeps the token fresh until ctx ends, or, with ExitAfterAuth, until
// the first token is written. It retries every failure itself, so it
// returns nil on a clean stop.
func (a *Agent) Run(ctx context.Context) error {
	defer a.exit()
	for {
		if err := a.authenticate(ctx); err != nil {
			if a.cfg.ExitAfterAuth {
				return ErrNotAuthenticated
			}
			return nil
		}
		if a.cfg.ExitAfterAuth {
			return nil
		}
		a.keepFresh(ctx)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// exit revokes the token when asked to.
func (a *Agent) exit() {
	if !a.cfg.RevokeOnExit {
		return
	}
	a.mu.Lock()
	tok := a.st.tok
	a.mu.Unlock()
	if tok.IsZero() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(a.cfg.RequestTimeout, 10*time.Second))
	defer cancel()
	if err := a.cfg.Client.Revoke(ctx, tok); err != nil {
		a.fail(KindRevoke, err)
		return
	}
	a.log.Info("token revoked on exit")
}

// backoff is the wait before attempt n (from 0): exponential, capped,
// with jitter over its upper half.
func (a *Agent) backoff(n int) time.Duration {
	d := a.cfg.RetryMin
	for i := 0; i < n && d < a.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, a.cfg.RetryMax)
	return d/2 + time.Duration(a.cfg.Jitter()*float64(d/2))
}

// authenticate logs in until it succeeds and the sinks are written, or
// ctx ends.
func (a *Agent) authenticate(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		kind, err := a.loginOnce(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.fail(kind, err)
		if err := a.cfg.Sleep(ctx, a.backoff(attempt)); err != nil {
			return err
		}
	}
}

func (a *Agent) loginOnce(ctx context.Context) (string, error) {
	cr, err := a.cfg.Credentials()
	if err != nil {
		return KindCredentials, err
	}
	now := a.cfg.Now()
	if exp, ok := jwtExpiry(cr.JWT); ok && !now.Before(exp) {
		return KindJWTExpired, fmt.Errorf("the service-account JWT expired at %s and was not rotated: not sent", exp.UTC().Format(time.RFC3339))
	}
	rctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	l, err := a.cfg.Client.Login(rctx, cr)
	cancel()
	if err != nil {
		if client.IsTemporary(err) {
			return KindLoginUnavailable, err
		}
		return KindLoginRefused, err
	}
	now = a.cfg.Now()
	st := state{tok: l.Token, ttl: l.TTL, refreshed: now, loginTTL: l.TTL, mustRelogin: !l.Renewable}
	if l.TTL > 0 {
		st.expiresAt = now.Add(l.TTL)
	}
	if l.MaxTTL > 0 {
		st.maxExpiry = now.Add(l.MaxTTL)
	}
	if err := a.publish(st); err != nil {
		// The new token is not in use anywhere: do not leave it live.
		rctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
		a.cfg.Client.Revoke(rctx, l.Token)
		cancel()
		return KindSink, err
	}
	a.metrics.logins.Inc()
	a.log.Info("logged in", "ttl", l.TTL, "accessor", l.Accessor)
	return "", nil
}

// publish writes st's token to every sink and, when all succeed, makes it
// the agent's state.
func (a *Agent) publish(st state) error {
	info := TokenInfo{Token: st.tok.Reveal(), ExpiresAt: st.expiresAt, TTL: int64(st.ttl / time.Second)}
	for _, s := range a.cfg.Sinks {
		if err := s.Write(info); err != nil {
			return fmt.Errorf("sink %s: %w", s.Name(), err)
		}
	}
	now := a.cfg.Now()
	st.lastSuccess = now
	a.mu.Lock()
	a.st = st
	a.mu.Unlock()
	a.metrics.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	if st.expiresAt.IsZero() {
		a.metrics.expiry.Set(0)
	} else {
		a.metrics.expiry.Set(float64(st.expiresAt.UnixNano()) / 1e9)
	}
	return nil
}

// keepFresh renews the token at two thirds of its TTL until it must log
// in again (renewal refused, the token near its max TTL, or expired while
// the server was away), or ctx ends.
func (a *Agent) keepFresh(ctx context.Context) {
	for {
		a.mu.Lock()
		st := a.st
		a.mu.Unlock()
		if st.ttl <= 0 { // no expiry: nothing to renew
			<-ctx.Done()
			return
		}
		wait := st.ttl*2/3 - a.cfg.Now().Sub(st.refreshed)
		if err := a.cfg.Sleep(ctx, wait); err != nil {
			return
		}
		if st.mustRelogin {
			a.log.Info("token near its max TTL: logging in again")
			return
		}
		if !a.renew(ctx, st) {
			return
		}
	}
}

// renew renews st's token, retrying while the server is away and the
// token lives; false means: log in again.
func (a *Agent) renew(ctx context.Context, st state) bool {
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
		l, err := a.cfg.Client.Renew(rctx, st.tok)
		cancel()
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			now := a.cfg.Now()
			next := st
			next.ttl, next.refreshed = l.TTL, now
			next.expiresAt = time.Time{}
			if l.TTL > 0 {
				next.expiresAt = now.Add(l.TTL)
			}
			// A renewal shorter than the login's TTL ran into the max TTL
			// (a second of slack for whole-second TTLs); so does one whose
			// next renewal would.
			capped := l.TTL < st.loginTTL-time.Second ||
				(!st.maxExpiry.IsZero() && now.Add(st.loginTTL).After(st.maxExpiry.Add(time.Second)))
			next.mustRelogin = capped || !l.Renewable
			if err := a.publish(next); err != nil {
				a.fail(KindSink, err)
				// The token itself is fine; keep it and try the sinks
				// again at the next renewal.
				a.mu.Lock()
				a.st.ttl, a.st.refreshed, a.st.expiresAt = next.ttl, next.refreshed, next.expiresAt
				a.mu.Unlock()
				return true
			}
			a.metrics.renewals.Inc()
			a.log.Debug("token renewed", "ttl", l.TTL)
			return true
		}
		if !client.IsTemporary(err) {
			a.fail(KindRenewRefused, err)
			return false
		}
		a.fail(KindRenewUnavailable, err)
		d := a.backoff(attempt)
		if !st.expiresAt.IsZero() && a.cfg.Now().Add(d).After(st.expiresAt) {
			return false // it will expire first: log in again when the server is back
		}
		if a.cfg.Sleep(ctx, d) != nil {
			return false
		}
	}
}

func (a *Agent) fail(kind string, err error) {
	a.metrics.failures.WithLabelValues(kind).Inc()
	a.mu.Lock()
	a.st.lastErr = kind + ": " + err.Error()
	a.mu.Unlock()
	a.log.Warn("agent: "+strings.ReplaceAll(kind, "_", " "), "err", err)
}

// Status is a snapshot of the agent, for health checks and tests.
type Status struct {
	HasToken    bool
	ExpiresAt   time.Time
	LastSuccess time.Time
	LastError   string
}

// Status reports the agent's state.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return Status{HasToken: !a.st.tok.IsZero(), ExpiresAt: a.st.expiresAt, LastSuccess: a.st.lastSuccess, LastError: a.st.lastErr}
}

// jwtExpiry reads a JWT's exp claim without verifying anything: only to
// avoid sending a token known to be expired.
func jwtExpiry(jwt string) (time.Time, bool) {
	parts := strings.Split(strings.TrimSpace(jwt), ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var c struct {
		Exp *json.Number `json:"exp"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Exp == nil {
		return time.Time{}, false
	}
	f, err := c.Exp.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}
