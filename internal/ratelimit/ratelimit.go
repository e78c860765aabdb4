// Package ratelimit limits requests per source address with token buckets
// (golang.org/x/time/rate), in bounded memory: at most MaxAddresses
// buckets are kept, a bucket that has refilled is dropped as idle, and
// when the table is full the least recently used bucket makes room. The
// login endpoints of both APIs use it, keyed by the client address the
// HTTP middleware resolved (trusted proxies respected).
package ratelimit

import (
	"container/list"
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of --login-rate-limit: generous enough for a burst of pods
// logging in from one node (or from behind one NAT), low enough to make
// guessing client secrets and flooding the audit log slow.
const (
	DefaultRate  = 10 // requests per second per address, sustained
	DefaultBurst = 50 // requests per address at once

	// DefaultMaxAddresses caps the buckets kept (about 200 bytes each).
	DefaultMaxAddresses = 100_000
)

// Error is a refusal: the address has used its allowance and may try again
// after Wait.
type Error struct {
	Wait time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("rate limit exceeded: try again in %d s", e.RetryAfterSeconds())
}

// RetryAfter is how long to wait; the front ends send it as Retry-After.
func (e *Error) RetryAfter() time.Duration { return e.Wait }

// RetryAfterSeconds is Wait in whole seconds, rounded up, at least 1: the
// value of a Retry-After header.
func (e *Error) RetryAfterSeconds() int64 {
	s := int64(math.Ceil(e.Wait.Seconds()))
	return max(s, 1)
}

// Config sets a Limiter's allowance.
type Config struct {
	// Rate is the sustained number of requests per second per address;
	// 0 turns limiting off.
	Rate float64
	// Burst is how many requests an address may send at once (at least 1).
	Burst int
	// MaxAddresses caps the addresses tracked (DefaultMaxAddresses when 0).
	MaxAddresses int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Limiter is a set of token buckets, one per source address. Its zero
// value and a nil *Limiter allow everything.
type Limiter struct {
	cfg      Config
	fillTime time.Duration // an empty bucket is full again after this

	mu      sync.Mutex
	buckets map[netip.Addr]*list.Element // of *bucket
	lru     list.List                    // front = most recently used
}

type bucket struct {
	key      netip.Addr
	limiter  *rate.Limiter
	lastSeen time.Time
}

// New returns a Limiter; with cfg.Rate 0 it allows everything.
func New(cfg Config) *Limiter {
	if cfg.Burst < 1 {
		cfg.Burst = 1
	}
	if cfg.MaxAddresses <= 0 {
		cfg.MaxAddresses = DefaultMaxAddresses
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{cfg: cfg, buckets: map[netip.Addr]*list.Element{}}
	if cfg.Rate > 0 {
		l.fillTime = time.Duration(float64(cfg.Burst) / cfg.Rate * float64(time.Second))
	}
	return l
}

// Allow takes one request from addr's allowance: nil, or a *Error saying
// when to try again.
func (l *Limiter) Allow(addr netip.Addr) error {
	if l == nil || l.cfg.Rate <= 0 {
		return nil
	}
	key := Key(addr)
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropIdle(now, 2)
	var b *bucket
	if el, ok := l.buckets[key]; ok {
		b = el.Value.(*bucket)
		l.lru.MoveToFront(el)
	} else {
		if len(l.buckets) >= l.cfg.MaxAddresses {
			l.remove(l.lru.Back())
		}
		b = &bucket{key: key, limiter: rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)}
		l.buckets[key] = l.lru.PushFront(b)
	}
	b.lastSeen = now
	r := b.limiter.ReserveN(now, 1)
	if !r.OK() {
		return &Error{Wait: l.fillTime}
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return &Error{Wait: d}
	}
	return nil
}

// Len is the number of addresses tracked.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// dropIdle removes up to n least recently used buckets that have refilled
// (a full bucket is the same as none), so the table shrinks as traffic
// stops; each call does bounded work.
func (l *Limiter) dropIdle(now time.Time, n int) {
	for range n {
		el := l.lru.Back()
		if el == nil || now.Sub(el.Value.(*bucket).lastSeen) < l.fillTime {
			return
		}
		l.remove(el)
	}
}

func (l *Limiter) remove(el *list.Element) {
	if el == nil {
		return
	}
	delete(l.buckets, el.Value.(*bucket).key)
	l.lru.Remove(el)
}

// Key is the address a bucket is kept for: the address itself for IPv4,
// its /64 for IPv6 (one host is commonly given a whole /64, so single
// IPv6 addresses would let one client take many buckets).
func Key(addr netip.Addr) netip.Addr {
	addr = addr.Unmap()
	if addr.Is6() {
		p, err := addr.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return addr
}
