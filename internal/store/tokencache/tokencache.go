// Package tokencache is a store.Store that keeps recent answers of
// GetTokenCheck — the one store read of every token check — in memory, so
// that a token check usually costs no query (a use-limited token's use is
// still one store write).
//
// Why a store decorator and not a cache inside internal/token: what a
// check reads (the token, its auth method's trusted IPs, its identity's
// role) is changed by writes from several packages (token revocation and
// renewal, identity updates and deletion, auth-method updates and deletion,
// client-secret revocation). Every one of those writes goes through the
// store, so the store is the one place that sees them all.
//
// Correctness, within the process:
//
//   - Only successful-looking answers are kept: an unrevoked token whose
//     auth method exists (or that has none: root). Expiry is not the
//     cache's business: the caller checks ExpiresAt against its clock on
//     every check, cached or not.
//   - A use-limited token's answer is kept too, but its uses are not the
//     cache's business either: every check of such a token spends its use
//     in the store (UseAccessToken: one statement that checks the limit
//     and that the token is unrevoked, and counts the use), which has the
//     last word on both. The cache only spares that check the read; a
//     successful use refreshes the kept answer's record with the store's.
//   - Every method that writes and might change a kept answer empties the
//     cache after the write returns (committed or failed) and before the
//     caller hears of it. Store methods are implemented one by one here, not
//     inherited by embedding, so a method added to store.Store does not
//     compile until someone decides here whether it must empty the cache.
//     The writes that cannot change a kept answer — creating rows (a new
//     token is not in the cache; answers for a missing method or identity
//     are never kept), counting a client-secret use, lockouts, audit events,
//     meta — leave it alone; RenewAccessToken drops the one token it
//     changed, UseAccessToken refreshes it (above).
//   - A read that began before a write may not fill the cache after it: a
//     generation counter, bumped with every emptying, is read before the
//     store query and compared (under the same lock as the emptying) before
//     the answer is kept.
//
// Across processes (New): nothing is invalidated, and an answer is kept
// for at most TTL (at most MaxTTL, 1 s). Another process writing to the
// same store could have a revocation or a trusted-IP or role change ignored
// here for up to TTL; so with SQLite, whose file one server owns (the only
// operator command that writes beside it, `generate-root`, creates a token
// and changes no kept answer), New is enough.
//
// Several processes sharing a store (NewShared: replicas on PostgreSQL)
// tell each other: every emptying or drop after a write here is announced
// to the others (Peers.Announce, a NOTIFY), and each process applies the
// others' announcements (Forget) as they arrive, usually within
// milliseconds. Answers are kept only while the feed of announcements is
// up (SetLive): while it is down every check reads the store, and going up
// or down empties the cache, so nothing announced while it was down is
// missed. A lost announcement (the writer died between its commit and its
// NOTIFY, or a proxy that drops notifications) is still bounded by TTL:
// a change reaches every replica's checks within 1 s at worst.
package tokencache

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Limits.
const (
	// MaxTTL is the longest an answer may be kept: the bound on how late a
	// change made by another process is seen.
	MaxTTL = time.Second
	// DefaultSize is the default number of tokens kept.
	DefaultSize = 10_000
)

// Store is a store.Store whose GetTokenCheck answers from memory when it
// can. Every other method is the wrapped store's.
type Store struct {
	s     store.Store
	ttl   time.Duration
	size  int
	now   func() time.Time
	peers Peers       // nil: not shared
	live  atomic.Bool // shared: the feed of announcements is up

	gen     atomic.Uint64 // bumped by every emptying, under mu
	mu      sync.Mutex
	entries map[[32]byte]entry
	// order holds the keys in the order they were kept. Every answer is
	// kept for the same TTL, so it is also the order in which they
	// expire: making room drops the oldest in O(1), never a scan of the
	// map. A key whose entry was dropped or kept again since stays in
	// order until its turn comes and is then skipped (its seq differs).
	order ring
	seq   uint64

	// Logins' reads (login.go): methods by identity or lookup key,
	// client secrets by hash; emptied with the token checks.
	methods map[string]kept[store.AuthMethod]
	secrets map[[32]byte]kept[store.ClientSecret]
}

type entry struct {
	check   store.TokenCheck
	expires time.Time
	seq     uint64 // which record in order is this entry's
}

// ring is a FIFO of kept keys with a fixed capacity.
type ring struct {
	recs       []record
	head, size int
}

type record struct {
	key [32]byte
	seq uint64
}

func (r *ring) full() bool { return r.size == len(r.recs) }

func (r *ring) push(rec record) {
	r.recs[(r.head+r.size)%len(r.recs)] = rec
	r.size++
}

func (r *ring) pop() record {
	rec := r.recs[r.head]
	r.head = (r.head + 1) % len(r.recs)
	r.size--
	return rec
}

func (r *ring) reset() { r.head, r.size = 0, 0 }

var _ store.Store = (*Store)(nil)

// Peers carries announcements between processes sharing a store.
type Peers interface {
	// Announce tells the other processes that the answer for the token
	// with this hash is stale (nil: every answer). It is called after the
	// write that made it stale has returned.
	Announce(ctx context.Context, hash []byte) error
}

// announceTimeout bounds one announcement; a failed one is bounded by TTL.
const announceTimeout = 2 * time.Second

// New wraps s. ttl is capped at MaxTTL (<= 0 means MaxTTL); size <= 0 means
// DefaultSize; now nil means time.Now.
func New(s store.Store, ttl time.Duration, size int, now func() time.Time) *Store {
	if ttl <= 0 || ttl > MaxTTL {
		ttl = MaxTTL
	}
	if size <= 0 {
		size = DefaultSize
	}
	if now == nil {
		now = time.Now
	}
	return &Store{s: s, ttl: ttl, size: size, now: now, entries: map[[32]byte]entry{}, order: ring{recs: make([]record, size)},
		methods: map[string]kept[store.AuthMethod]{}, secrets: map[[32]byte]kept[store.ClientSecret]{}}
}

// NewShared wraps a store shared with other processes that announce their
// writes through peers (see the package comment). It keeps nothing until
// SetLive(true).
func NewShared(s store.Store, ttl time.Duration, size int, now func() time.Time, peers Peers) *Store {
	c := New(s, ttl, size, now)
	c.peers = peers
	return c
}

// SetLive says whether the feed of other processes' announcements is up.
// Either way the cache is emptied: what was kept may be stale by whatever
// was announced while the feed was down.
func (c *Store) SetLive(up bool) {
	c.mu.Lock()
	c.live.Store(up)
	c.emptyLocked()
	c.mu.Unlock()
}

// Forget applies another process's announcement: the answer for hash is
// stale (nil or malformed: every answer).
func (c *Store) Forget(hash []byte) {
	key, ok := keyOf(hash)
	c.mu.Lock()
	if ok {
		c.gen.Add(1)
		delete(c.entries, key)
	} else {
		c.emptyLocked()
	}
	c.mu.Unlock()
}

// Len is the number of answers kept (for tests and metrics).
func (c *Store) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// GetTokenCheck answers from the cache when it holds a fresh answer for
// hash, else from the store, keeping the answer when it may.
func (c *Store) GetTokenCheck(ctx context.Context, hash []byte) (store.TokenCheck, error) {
	key, ok := keyOf(hash)
	if !ok || (c.peers != nil && !c.live.Load()) {
		return c.s.GetTokenCheck(ctx, hash)
	}
	now := c.now()
	c.mu.Lock()
	e, hit := c.entries[key]
	c.mu.Unlock()
	if hit && now.Before(e.expires) {
		return clone(e.check), nil
	}
	gen := c.gen.Load()
	tc, err := c.s.GetTokenCheck(ctx, hash)
	if err != nil || !keepable(tc) {
		return tc, err
	}
	c.mu.Lock()
	if c.gen.Load() == gen {
		c.keep(key, entry{check: clone(tc), expires: now.Add(c.ttl)})
	}
	c.mu.Unlock()
	return tc, nil
}

// keep stores e under key, first dropping the oldest kept answer when
// the cache is full. Every live entry has its record in order, so the map
// never holds more than size entries. Called with mu held.
func (c *Store) keep(key [32]byte, e entry) {
	if c.order.full() {
		old := c.order.pop()
		if cur, ok := c.entries[old.key]; ok && cur.seq == old.seq {
			delete(c.entries, old.key)
		}
	}
	c.seq++
	e.seq = c.seq
	c.order.push(record{key: key, seq: e.seq})
	c.entries[key] = e
}

// keepable says whether an answer may be kept: a live-looking token whose
// method, if it has one, exists.
func keepable(tc store.TokenCheck) bool {
	t := tc.Token
	return t.RevokedAt.IsZero() && (t.AuthMethodID == "" || tc.AuthMethodFound)
}

// used refreshes the kept answer of a token whose use the store just
// counted with the record it returned. A use changes nothing else a check
// reads (the store checks the limit and revocation at every use), so it
// empties nothing and is announced to no other process; their kept
// records may show fewer uses than the store until their TTL.
func (c *Store) used(t store.AccessToken) {
	key, ok := keyOf(t.Hash)
	if !ok {
		return
	}
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && e.check.Token.ID == t.ID {
		e.check.Token = clone(store.TokenCheck{Token: t}).Token
		c.entries[key] = e
	}
	c.mu.Unlock()
}

func keyOf(hash []byte) ([32]byte, bool) {
	var k [32]byte
	if len(hash) != len(k) {
		return k, false
	}
	copy(k[:], hash)
	return k, true
}

// clone copies the answer's slices and maps, so that no caller can change
// what the cache keeps or another caller got.
func clone(tc store.TokenCheck) store.TokenCheck {
	tc.Token.Hash = slices.Clone(tc.Token.Hash)
	tc.Token.Metadata = maps.Clone(tc.Token.Metadata)
	tc.TrustedIPs = slices.Clone(tc.TrustedIPs)
	return tc
}

// flush empties the cache and announces it; writes call it after the
// store answered.
func (c *Store) flush() {
	c.mu.Lock()
	c.emptyLocked()
	c.mu.Unlock()
	c.announce(nil)
}

// emptyLocked empties the cache; a read that began before may not fill
// it. Called with mu held.
func (c *Store) emptyLocked() {
	c.gen.Add(1)
	clear(c.entries)
	c.order.reset()
	clear(c.methods)
	clear(c.secrets)
}

// drop forgets one token changed by a write, and announces it. A write
// refused because the token is absent, revoked or used up changed nothing;
// any other failure has an unknown effect, so everything goes.
func (c *Store) drop(t store.AccessToken, err error) {
	key, ok := keyOf(t.Hash)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrLimitReached):
		return
	case err != nil || !ok:
		c.flush()
		return
	}
	c.mu.Lock()
	c.gen.Add(1)
	delete(c.entries, key)
	c.mu.Unlock()
	c.announce(t.Hash)
}

// announce tells the other processes, if the store is shared, under its
// own deadline: the write has happened whatever became of its request.
func (c *Store) announce(hash []byte) {
	if c.peers == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), announceTimeout)
	defer cancel()
	// A failed announcement is bounded by TTL (see the package comment);
	// the writer's caller has its answer already and cannot act on it.
	_ = c.peers.Announce(ctx, hash)
}
