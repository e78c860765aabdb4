package store

import "time"

// LockoutKey names one login-failure counter: a Universal Auth method (its
// client ID) and one source address. Counting per address, not per client
// ID alone, keeps someone who merely knows a client ID (it is not a secret)
// from locking the real workload out.
type LockoutKey struct {
	AuthMethodID string
	ClientIP     string // canonical address, e.g. "203.0.113.7" or "2001:db8::7"
}

// LockoutPolicy is how failures turn into a lock.
type LockoutPolicy struct {
	// Threshold failures lock the key (>= 1).
	Threshold int64
	// Window: the counter starts again from 1 when a failure comes Window
	// or more after the previous one (a window sliding from the last
	// failure).
	Window time.Duration
	// Duration is how long a lock lasts.
	Duration time.Duration
}

// Lockout is the failure counter of one key.
type Lockout struct {
	LockoutKey
	FailedAttempts int64
	LastFailureAt  time.Time
	// LockedUntil is when the lock ends; zero when the key is not locked.
	LockedUntil time.Time
	// ExpiresAt is when the record stops mattering: the later of the end
	// of the lock and the end of the counting window. A record past it
	// may be deleted at any time.
	ExpiresAt time.Time
}

// Active reports whether the key is locked at now.
func (l Lockout) Active(now time.Time) bool {
	return !l.LockedUntil.IsZero() && now.Before(l.LockedUntil)
}

// AfterFailure returns the record after one more failed login at now.
// existed is false when there was no record (l is then ignored apart from
// its key). Every backend applies this one rule, inside the transaction
// that holds the record, so the counting cannot drift between them:
//
//   - during an active lock a failure changes nothing (the lock is neither
//     extended nor counted into the next one);
//   - after a lock has ended, or when the previous failure is Window or
//     more ago, counting starts again at 1;
//   - otherwise the counter goes up by one;
//   - reaching Threshold locks the key for Duration from now.
func (l Lockout) AfterFailure(existed bool, now time.Time, p LockoutPolicy) Lockout {
	if existed && l.Active(now) {
		return l
	}
	next := Lockout{LockoutKey: l.LockoutKey, FailedAttempts: l.FailedAttempts + 1, LastFailureAt: now}
	if !existed || !l.LockedUntil.IsZero() || !now.Before(l.LastFailureAt.Add(p.Window)) {
		next.FailedAttempts = 1
	}
	next.ExpiresAt = now.Add(p.Window)
	if next.FailedAttempts >= p.Threshold {
		next.LockedUntil = now.Add(p.Duration)
		if next.LockedUntil.After(next.ExpiresAt) {
			next.ExpiresAt = next.LockedUntil
		}
	}
	return next
}
