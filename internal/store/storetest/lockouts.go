package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var lockoutTests = []test{
	{"Counting", testLockoutCounting},
	{"PerKey", testLockoutPerKey},
	{"ClearOne", testLockoutClearOne},
	{"ClearAll", testLockoutClearAll},
	{"ListActive", testLockoutListActive},
	{"MissingMethod", testLockoutMissingMethod},
	{"GoWithTheirMethod", testLockoutCascade},
	{"ExpiredRecordsDeleted", testLockoutExpiredDeleted},
	{"ConcurrentFailuresCounted", testLockoutConcurrentCounted},
	{"ConcurrentFailuresLockOnce", testLockoutConcurrentLockOnce},
	{"ConcurrentFailuresManyAddresses", testLockoutConcurrentManyAddresses},
	{"ConcurrentFailuresHardCap", testLockoutConcurrentHardCap},
	{"IssueClearsOrRefuses", testLockoutIssue},
	{"IssueRacesFailures", testLockoutIssueRace},
}

// lockPolicy: 3 failures less than 30 s apart lock for 300 s.
var lockPolicy = store.LockoutPolicy{Threshold: 3, Window: 30 * time.Second, Duration: 300 * time.Second}

func lockKey(m store.AuthMethod, ip string) store.LockoutKey {
	return store.LockoutKey{AuthMethodID: m.ID, ClientIP: ip}
}

// lockout is the record expected after a failure at sec: count failures,
// locked until lockedUntil (seconds; -1 = not locked).
func lockout(key store.LockoutKey, count int64, last, lockedUntil int, p store.LockoutPolicy) store.Lockout {
	l := store.Lockout{LockoutKey: key, FailedAttempts: count, LastFailureAt: at(last),
		ExpiresAt: at(last).Add(p.Window)}
	if lockedUntil >= 0 {
		l.LockedUntil = at(lockedUntil)
		if l.LockedUntil.After(l.ExpiresAt) {
			l.ExpiresAt = l.LockedUntil
		}
	}
	return l
}

// recordFailure records a failure and checks that it was counted exactly
// when the key was not locked before.
func recordFailure(t *testing.T, s store.Store, key store.LockoutKey, sec int, p store.LockoutPolicy) store.Lockout {
	t.Helper()
	before, err := s.GetLockout(t.Context(), key)
	wasLocked := err == nil && before.Active(at(sec))
	l, counted, err := s.RecordLoginFailure(t.Context(), key, at(sec), p)
	must(t, err)
	if counted == wasLocked {
		t.Errorf("RecordLoginFailure at %d s: counted = %v with the key locked = %v", sec, counted, wasLocked)
	}
	return l
}

// testLockoutCounting walks one key through the rules: counting, the
// sliding window, the lock, failures during the lock, and the restart
// after it. Each step's result must also be what GetLockout reads.
func testLockoutCounting(t *testing.T, s store.Store) {
	ctx := t.Context()
	key := lockKey(uaMethod(t, s), "203.0.113.7")
	_, err := s.GetLockout(ctx, key)
	wantErr(t, "GetLockout before any failure", err, store.ErrNotFound)
	steps := []struct {
		name        string
		sec         int
		count       int64
		last        int
		lockedUntil int
		active      bool
	}{
		{"first failure", 0, 1, 0, -1, false},
		{"second within the window", 10, 2, 10, -1, false},
		{"window passed since the last failure: restart", 40, 1, 40, -1, false},
		{"again", 69, 2, 69, -1, false},
		{"exactly one window after the last: restart", 99, 1, 99, -1, false},
		{"second", 100, 2, 100, -1, false},
		{"threshold reached: locked", 101, 3, 101, 401, true},
		{"failure during the lock changes nothing", 200, 3, 101, 401, true},
		{"last instant of the lock", 400, 3, 101, 401, true},
		{"lock over: restart", 401, 1, 401, -1, false},
	}
	for _, st := range steps {
		got := recordFailure(t, s, key, st.sec, lockPolicy)
		want := lockout(key, st.count, st.last, st.lockedUntil, lockPolicy)
		checkEqual(t, st.name, got, want)
		if got.Active(at(st.sec)) != st.active {
			t.Errorf("%s: Active = %v, want %v", st.name, !st.active, st.active)
		}
		read, err := s.GetLockout(ctx, key)
		must(t, err)
		checkEqual(t, st.name+": GetLockout", read, want)
	}
}

// testLockoutPerKey: the counter of one (method, address) is not shared
// with another address of the method nor with the address on another
// method.
func testLockoutPerKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	m, other := uaMethod(t, s), uaMethod(t, s)
	attacker, workload := lockKey(m, "198.51.100.66"), lockKey(m, "2001:db8::10")
	for i := range 3 {
		recordFailure(t, s, attacker, i, lockPolicy)
	}
	got, err := s.GetLockout(ctx, attacker)
	must(t, err)
	if !got.Active(at(3)) {
		t.Fatalf("attacker's key not locked after 3 failures: %+v", got)
	}
	for _, key := range []store.LockoutKey{workload, lockKey(other, attacker.ClientIP)} {
		_, err := s.GetLockout(ctx, key)
		wantErr(t, fmt.Sprintf("GetLockout(%v)", key), err, store.ErrNotFound)
		checkEqual(t, "first failure of another key", recordFailure(t, s, key, 3, lockPolicy), lockout(key, 1, 3, -1, lockPolicy))
	}
}

func testLockoutClearOne(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	a, b := lockKey(m, "10.0.0.1"), lockKey(m, "10.0.0.2")
	recordFailure(t, s, a, 0, lockPolicy)
	recordFailure(t, s, b, 0, lockPolicy)
	must(t, s.ClearLockout(ctx, a))
	_, err := s.GetLockout(ctx, a)
	wantErr(t, "GetLockout after ClearLockout", err, store.ErrNotFound)
	if _, err := s.GetLockout(ctx, b); err != nil {
		t.Errorf("ClearLockout removed another key's record: %v", err)
	}
	must(t, s.ClearLockout(ctx, a)) // nothing to clear is not an error
	must(t, s.ClearLockout(ctx, lockKey(store.AuthMethod{ID: newID()}, "10.0.0.1")))
	// Counting starts again at 1.
	checkEqual(t, "failure after ClearLockout", recordFailure(t, s, a, 1, lockPolicy), lockout(a, 1, 1, -1, lockPolicy))
}

func testLockoutClearAll(t *testing.T, s store.Store) {
	ctx := t.Context()
	m, other := uaMethod(t, s), uaMethod(t, s)
	for i := range 4 {
		recordFailure(t, s, lockKey(m, fmt.Sprintf("10.0.0.%d", i)), 0, lockPolicy)
	}
	for range 3 {
		recordFailure(t, s, lockKey(m, "10.0.0.0"), 1, lockPolicy) // locked
	}
	kept := recordFailure(t, s, lockKey(other, "10.0.0.0"), 0, lockPolicy)
	n, err := s.ClearLockouts(ctx, m.ID)
	must(t, err)
	if n != 4 {
		t.Errorf("ClearLockouts = %d, want 4", n)
	}
	for i := range 4 {
		_, err := s.GetLockout(ctx, lockKey(m, fmt.Sprintf("10.0.0.%d", i)))
		wantErr(t, "GetLockout after ClearLockouts", err, store.ErrNotFound)
	}
	got, err := s.GetLockout(ctx, kept.LockoutKey)
	must(t, err)
	checkEqual(t, "another method's record", got, kept)
	n, err = s.ClearLockouts(ctx, m.ID)
	must(t, err)
	if n != 0 {
		t.Errorf("second ClearLockouts = %d, want 0", n)
	}
	n, err = s.ClearLockouts(ctx, newID())
	must(t, err)
	if n != 0 {
		t.Errorf("ClearLockouts of an unknown method = %d, want 0", n)
	}
}

func testLockoutListActive(t *testing.T, s store.Store) {
	ctx := t.Context()
	m, other := uaMethod(t, s), uaMethod(t, s)
	got, err := s.ListActiveLockouts(ctx, m.ID, at(0))
	must(t, err)
	if got == nil || len(got) != 0 {
		t.Errorf("ListActiveLockouts with no records = %#v, want an empty slice", got)
	}
	lock := func(key store.LockoutKey, sec int) store.Lockout {
		var l store.Lockout
		for range lockPolicy.Threshold {
			l = recordFailure(t, s, key, sec, lockPolicy)
		}
		return l
	}
	// Added out of order: the list is ordered by address (byte order).
	b := lock(lockKey(m, "2001:db8::1"), 0)
	a := lock(lockKey(m, "10.0.0.9"), 0)
	early := lock(lockKey(m, "10.0.0.1"), -250)                // lock ends at 50
	recordFailure(t, s, lockKey(m, "10.0.0.5"), 0, lockPolicy) // counting, not locked
	lock(lockKey(other, "10.0.0.7"), 0)

	for _, tc := range []struct {
		sec  int
		want []store.Lockout
	}{
		{0, []store.Lockout{early, a, b}},
		{49, []store.Lockout{early, a, b}},
		{50, []store.Lockout{a, b}},
		{299, []store.Lockout{a, b}},
		{300, []store.Lockout{}},
	} {
		got, err := s.ListActiveLockouts(ctx, m.ID, at(tc.sec))
		must(t, err)
		checkEqual(t, fmt.Sprintf("ListActiveLockouts at %d s", tc.sec), got, tc.want)
	}
}

func testLockoutMissingMethod(t *testing.T, s store.Store) {
	ctx := t.Context()
	key := store.LockoutKey{AuthMethodID: newID(), ClientIP: "10.0.0.1"}
	_, _, err := s.RecordLoginFailure(ctx, key, at(0), lockPolicy)
	wantErr(t, "RecordLoginFailure for a missing method", err, store.ErrNotFound)
	_, err = s.GetLockout(ctx, key)
	wantErr(t, "GetLockout for a missing method", err, store.ErrNotFound)
	got, err := s.ListActiveLockouts(ctx, key.AuthMethodID, at(0))
	must(t, err)
	if len(got) != 0 {
		t.Errorf("ListActiveLockouts of a missing method = %v", got)
	}
}

// testLockoutCascade: deleting the method or its identity deletes its
// records, and only its.
func testLockoutCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := buildWorld(t, s)
	aUA, bUA := lockKey(w.methods["aUA"], "10.0.0.1"), lockKey(w.methods["bUA"], "10.0.0.1")
	recordFailure(t, s, aUA, 0, lockPolicy)
	kept := recordFailure(t, s, bUA, 0, lockPolicy)

	must(t, s.DeleteAuthMethod(ctx, w.methods["aUA"].ID, at(100)))
	_, err := s.GetLockout(ctx, aUA)
	wantErr(t, "GetLockout after DeleteAuthMethod", err, store.ErrNotFound)
	got, err := s.GetLockout(ctx, bUA)
	must(t, err)
	checkEqual(t, "another method's record after DeleteAuthMethod", got, kept)

	must(t, s.DeleteIdentity(ctx, w.identities["b"].ID, at(101)))
	_, err = s.GetLockout(ctx, bUA)
	wantErr(t, "GetLockout after DeleteIdentity", err, store.ErrNotFound)
}

// testLockoutExpiredDeleted: a failure deletes the method's records whose
// ExpiresAt has passed, and nothing else.
func testLockoutExpiredDeleted(t *testing.T, s store.Store) {
	ctx := t.Context()
	m, other := uaMethod(t, s), uaMethod(t, s)
	stale := recordFailure(t, s, lockKey(m, "10.0.0.1"), 0, lockPolicy) // expires at 30
	var locked store.Lockout
	for range 3 {
		locked = recordFailure(t, s, lockKey(m, "10.0.0.2"), 0, lockPolicy) // expires at 300
	}
	fresh := recordFailure(t, s, lockKey(m, "10.0.0.3"), 20, lockPolicy)         // expires at 50
	otherStale := recordFailure(t, s, lockKey(other, "10.0.0.1"), 0, lockPolicy) // another method

	recordFailure(t, s, lockKey(m, "10.0.0.4"), 30, lockPolicy)
	_, err := s.GetLockout(ctx, stale.LockoutKey)
	wantErr(t, "GetLockout of a record expired at the failure's time", err, store.ErrNotFound)
	for _, l := range []store.Lockout{locked, fresh, otherStale} {
		got, err := s.GetLockout(ctx, l.LockoutKey)
		if err != nil {
			t.Errorf("record %v deleted: %v", l.LockoutKey, err)
			continue
		}
		checkEqual(t, "record kept", got, l)
	}
}

// testLockoutConcurrentCounted: n concurrent failures of one key below the
// threshold are each counted once: the results are 1..n.
func testLockoutConcurrentCounted(t *testing.T, s store.Store) {
	ctx := t.Context()
	key := lockKey(uaMethod(t, s), "192.0.2.1")
	const n = 50
	p := store.LockoutPolicy{Threshold: 1000, Window: time.Hour, Duration: time.Hour}
	counts := make([]int64, n)
	errs := concurrently(n, func(i int) error {
		l, counted, err := s.RecordLoginFailure(ctx, key, at(0), p)
		counts[i] = l.FailedAttempts
		if err == nil && !counted {
			err = errors.New("not counted below the threshold")
		}
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	slices.Sort(counts)
	for i, c := range counts {
		if c != int64(i+1) {
			t.Fatalf("concurrent failures returned counts %v, want 1..%d each once", counts, n)
		}
	}
	got, err := s.GetLockout(ctx, key)
	must(t, err)
	if got.FailedAttempts != n {
		t.Errorf("FailedAttempts = %d after %d concurrent failures, want %d", got.FailedAttempts, n, n)
	}
}

// testLockoutConcurrentLockOnce: n concurrent failures with threshold k < n
// count 1..k once each; the lock is set once and every later failure sees
// it unchanged.
func testLockoutConcurrentLockOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	key := lockKey(uaMethod(t, s), "192.0.2.1")
	const n, k = 50, 10
	p := store.LockoutPolicy{Threshold: k, Window: time.Hour, Duration: time.Hour}
	results := make([]store.Lockout, n)
	counted := make([]bool, n)
	errs := concurrently(n, func(i int) error {
		var err error
		results[i], counted[i], err = s.RecordLoginFailure(ctx, key, at(0), p)
		return err
	})
	if got := countTrue(counted); got != k {
		t.Errorf("%d of %d concurrent failures counted with threshold %d, want exactly %d", got, n, k, k)
	}
	seen := map[int64]int{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("failure %d: %v", i, err)
		}
		seen[results[i].FailedAttempts]++
		if results[i].FailedAttempts == k && !results[i].LockedUntil.Equal(at(3600)) {
			t.Errorf("result at the threshold: LockedUntil = %v, want %v", results[i].LockedUntil, at(3600))
		}
	}
	for c := int64(1); c < k; c++ {
		if seen[c] != 1 {
			t.Errorf("count %d returned %d times, want once (all: %v)", c, seen[c], seen)
		}
	}
	if seen[k] != n-k+1 {
		t.Errorf("count %d returned %d times, want %d (all: %v)", k, seen[k], n-k+1, seen)
	}
	got, err := s.GetLockout(ctx, key)
	must(t, err)
	checkEqual(t, "record after the race", got, lockout(key, k, 0, 3600, p))
}

// testLockoutConcurrentManyAddresses: concurrent failures from many
// addresses of one method, while expired records of that method wait to be
// deleted, all succeed (no deadlock between the clean-ups), each counts 1
// and the expired records are gone.
func testLockoutConcurrentManyAddresses(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	const n = 30
	var stale []store.LockoutKey
	for i := range n {
		key := lockKey(m, fmt.Sprintf("10.1.0.%d", i))
		recordFailure(t, s, key, 0, lockPolicy) // expires at 30
		stale = append(stale, key)
	}
	results := make([]store.Lockout, n)
	errs := concurrently(n, func(i int) error {
		var err error
		results[i], _, err = s.RecordLoginFailure(ctx, lockKey(m, fmt.Sprintf("10.2.0.%d", i)), at(100), lockPolicy)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("failure %d: %v", i, err)
			continue
		}
		checkEqual(t, "first failure of a new address", results[i], lockout(results[i].LockoutKey, 1, 100, -1, lockPolicy))
	}
	for _, key := range stale {
		if _, err := s.GetLockout(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired record %s: GetLockout = %v, want ErrNotFound", key.ClientIP, err)
		}
	}
	for i := range n {
		if _, err := s.GetLockout(ctx, lockKey(m, fmt.Sprintf("10.2.0.%d", i))); err != nil {
			t.Errorf("new record 10.2.0.%d: %v", i, err)
		}
	}
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// testLockoutConcurrentHardCap: of 200 parallel failures with threshold 3
// exactly 3 are counted (only those may be told their secret was wrong);
// every other one finds the lock unchanged, and so does a later one in the
// lock.
func testLockoutConcurrentHardCap(t *testing.T, s store.Store) {
	ctx := t.Context()
	key := lockKey(uaMethod(t, s), "198.51.100.200")
	const n = 200
	counted := make([]bool, n)
	errs := concurrently(n, func(i int) error {
		var err error
		_, counted[i], err = s.RecordLoginFailure(ctx, key, at(0), lockPolicy)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if got := countTrue(counted); got != int(lockPolicy.Threshold) {
		t.Errorf("%d of %d parallel failures counted with threshold %d", got, n, lockPolicy.Threshold)
	}
	l, ok, err := s.RecordLoginFailure(ctx, key, at(1), lockPolicy)
	must(t, err)
	if ok || !l.Active(at(1)) {
		t.Errorf("failure during the lock: counted = %v, record %+v", ok, l)
	}
	checkEqual(t, "record after the race", l, lockout(key, 3, 0, 300, lockPolicy))
}

// loginIssue is a login's write for method m at sec that carries key's
// lockout record.
func loginIssue(m store.AuthMethod, sec int, key store.LockoutKey) store.TokenIssue {
	tok := newRootToken(at(sec))
	tok.IdentityID, tok.AuthMethodID, tok.AuthMethodType = m.IdentityID, m.ID, m.Type
	return store.TokenIssue{Token: tok, Event: newAuditEvent(sec), Lockout: &key}
}

// testLockoutIssue: a login that carries its lockout record deletes it
// (and no other) with the token; when the record is locked the login is
// refused with ErrLocked and writes nothing; no record is not an error.
func testLockoutIssue(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	a, b := lockKey(m, "10.9.0.1"), lockKey(m, "10.9.0.2")
	recordFailure(t, s, a, 0, lockPolicy)
	recordFailure(t, s, b, 0, lockPolicy)
	must(t, s.IssueAccessToken(ctx, loginIssue(m, 1, a)))
	_, err := s.GetLockout(ctx, a)
	wantErr(t, "GetLockout after a login that clears it", err, store.ErrNotFound)
	if _, err := s.GetLockout(ctx, b); err != nil {
		t.Errorf("another key's record: %v", err)
	}
	must(t, s.IssueAccessToken(ctx, loginIssue(m, 2, a))) // no record

	for i := range 3 {
		recordFailure(t, s, b, 3+i, lockPolicy) // b: locked from 5 until 305
	}
	locked := loginIssue(m, 10, b)
	wantErr(t, "IssueAccessToken while locked", s.IssueAccessToken(ctx, locked), store.ErrLocked)
	if _, err := s.GetAccessToken(ctx, locked.Token.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of a locked login: GetAccessToken = %v, want ErrNotFound", err)
	}
	if _, err := s.GetLockout(ctx, b); err != nil {
		t.Errorf("record of a locked login: %v", err)
	}
	// After the lock the login goes through and clears the record.
	must(t, s.IssueAccessToken(ctx, loginIssue(m, 305, b)))
	_, err = s.GetLockout(ctx, b)
	wantErr(t, "GetLockout after the lock and a login", err, store.ErrNotFound)
}

// testLockoutIssueRace: logins racing failures that lock the key are
// either before the lock (and clear the record) or refused: after n
// failures and logins in parallel, no login succeeded once the key was
// locked, i.e. if the key ends locked, every login that succeeded ran
// before it was counted to the threshold.
func testLockoutIssueRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	key := lockKey(m, "10.9.9.9")
	const n = 60
	p := store.LockoutPolicy{Threshold: 3, Window: time.Hour, Duration: time.Hour}
	errs := concurrently(n, func(i int) error {
		if i%2 == 0 {
			_, _, err := s.RecordLoginFailure(ctx, key, at(0), p)
			return err
		}
		err := s.IssueAccessToken(ctx, loginIssue(m, 0, key))
		if errors.Is(err, store.ErrLocked) {
			return nil
		}
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
	// Whatever the interleaving, the record never counts past the
	// threshold and a lock, once set, stays.
	l, err := s.GetLockout(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return // the last write was a login
	}
	must(t, err)
	if l.FailedAttempts > p.Threshold {
		t.Errorf("record counts %d failures, threshold %d", l.FailedAttempts, p.Threshold)
	}
	if l.FailedAttempts == p.Threshold && !l.Active(at(0)) {
		t.Errorf("record at the threshold not locked: %+v", l)
	}
}
