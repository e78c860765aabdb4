package ratelimit

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

var a1 = netip.MustParseAddr("192.0.2.1")

func TestBurstThenRefuse(t *testing.T) {
	c := newClock()
	l := New(Config{Rate: 2, Burst: 5, Now: c.Now})
	for i := range 5 {
		if err := l.Allow(a1); err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
	}
	err := l.Allow(a1)
	var rl *Error
	if !errors.As(err, &rl) {
		t.Fatalf("6th request: %v, want *Error", err)
	}
	if rl.RetryAfter() != 500*time.Millisecond || rl.RetryAfterSeconds() != 1 {
		t.Errorf("RetryAfter = %s (%d s), want 500ms (1 s)", rl.RetryAfter(), rl.RetryAfterSeconds())
	}
	// A refused request costs nothing: after RetryAfter, one more passes.
	c.Advance(rl.RetryAfter())
	if err := l.Allow(a1); err != nil {
		t.Errorf("after RetryAfter: %v", err)
	}
	if err := l.Allow(a1); err == nil {
		t.Error("the refill allowed two")
	}
	// Other addresses have their own buckets.
	if err := l.Allow(netip.MustParseAddr("192.0.2.2")); err != nil {
		t.Errorf("another address: %v", err)
	}
}

func TestIPv6SharesA64(t *testing.T) {
	l := New(Config{Rate: 1, Burst: 1, Now: newClock().Now})
	if err := l.Allow(netip.MustParseAddr("2001:db8:1:2::1")); err != nil {
		t.Fatal(err)
	}
	if err := l.Allow(netip.MustParseAddr("2001:db8:1:2:ffff::9")); err == nil {
		t.Error("a second address of the same /64 got its own bucket")
	}
	if err := l.Allow(netip.MustParseAddr("2001:db8:1:3::1")); err != nil {
		t.Errorf("another /64: %v", err)
	}
	if Key(netip.MustParseAddr("::ffff:192.0.2.1")) != a1 {
		t.Error("an IPv4-mapped address is not keyed as its IPv4 address")
	}
}

// TestMemoryBounded: a flood of distinct addresses never tracks more than
// MaxAddresses, and buckets that have refilled are dropped.
func TestMemoryBounded(t *testing.T) {
	c := newClock()
	l := New(Config{Rate: 10, Burst: 50, MaxAddresses: 1000, Now: c.Now})
	for i := range 200_000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if err := l.Allow(a); err != nil {
			t.Fatalf("first request of %s: %v", a, err)
		}
	}
	if n := l.Len(); n != 1000 {
		t.Fatalf("tracking %d addresses, want the cap 1000", n)
	}
	// Once every bucket has refilled (5 s), each request drops idle ones.
	c.Advance(5 * time.Second)
	for range 600 {
		_ = l.Allow(a1)
	}
	if n := l.Len(); n > 1 {
		t.Errorf("%d addresses still tracked after all went idle, want 1", n)
	}
}

func TestOff(t *testing.T) {
	var nilLimiter *Limiter
	off := New(Config{Rate: 0, Burst: 1})
	for range 100 {
		if nilLimiter.Allow(a1) != nil || off.Allow(a1) != nil {
			t.Fatal("a limiter that is off refused")
		}
	}
}

func TestConcurrent(t *testing.T) {
	l := New(Config{Rate: 1, Burst: 20, Now: newClock().Now})
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 200 {
		wg.Go(func() {
			if l.Allow(a1) == nil {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 20 {
		t.Errorf("%d of 200 concurrent requests allowed, want the burst 20", allowed)
	}
}
