package kubeauth

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	authv1 "k8s.io/api/authentication/v1"
)

// MaxReviewCacheTTL bounds --kube-review-cache-ttl.
const MaxReviewCacheTTL = 10 * time.Minute

// maxCachedReviews bounds the review cache; it is emptied when full.
const maxCachedReviews = 10_000

// reviewCache optionally keeps positive TokenReview answers, so that a
// workload logging in again with the same JWT (restarts, sidecars, many
// replicas sharing a projected token) does not cost the API server a
// review each time. It trades revocation latency for load: a service
// account deleted, or a token invalidated, within the TTL still logs in
// until the entry expires. It is off unless configured.
//
// An entry is kept only for an authenticated answer without error; it
// lives for the configured TTL but never past the JWT's own exp. The key
// covers everything the answer depends on: the cluster connection, the
// bearer of the review (the reviewer JWT, or the login JWT itself), the
// audiences asked for and the JWT. The rules (allowed namespaces and
// names, audiences) are judged on every login, cached answer or not, so
// tightening them applies at once.
type reviewCache struct {
	ttl time.Duration // 0: off (as is a nil *reviewCache)

	mu      sync.Mutex
	entries map[[32]byte]cachedReview
}

type cachedReview struct {
	status  authv1.TokenReviewStatus
	expires time.Time
}

func newReviewCache(ttl time.Duration) *reviewCache {
	return &reviewCache{ttl: min(max(ttl, 0), MaxReviewCacheTTL), entries: map[[32]byte]cachedReview{}}
}

func reviewKey(c Cluster, req reviewRequest) [32]byte {
	h := sha256.New()
	ck := clientKey(c)
	h.Write(ck[:])
	fmt.Fprintf(h, "|%d:%s|%d:%s|%d", len(req.bearer), req.bearer.Reveal(), len(req.token), req.token.Reveal(), len(req.audiences))
	for _, a := range req.audiences {
		fmt.Fprintf(h, "|%d:%s", len(a), a)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// on reports whether answers are kept at all.
func (rc *reviewCache) on() bool { return rc != nil && rc.ttl > 0 }

// get returns a kept answer for key that is still fresh at now.
func (rc *reviewCache) get(key [32]byte, now time.Time) (authv1.TokenReviewStatus, bool) {
	if !rc.on() {
		return authv1.TokenReviewStatus{}, false
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	e, ok := rc.entries[key]
	if !ok {
		return authv1.TokenReviewStatus{}, false
	}
	if !now.Before(e.expires) {
		delete(rc.entries, key)
		return authv1.TokenReviewStatus{}, false
	}
	return *e.status.DeepCopy(), true
}

// put keeps st for key when it may: an authenticated answer, until the
// TTL or the JWT's exp, whichever comes first.
func (rc *reviewCache) put(key [32]byte, st authv1.TokenReviewStatus, jwtExpiry, now time.Time) {
	if !rc.on() || !st.Authenticated || st.Error != "" {
		return
	}
	expires := now.Add(rc.ttl)
	if !jwtExpiry.IsZero() && jwtExpiry.Before(expires) {
		expires = jwtExpiry
	}
	if !now.Before(expires) {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.entries) >= maxCachedReviews {
		clear(rc.entries)
	}
	rc.entries[key] = cachedReview{status: *st.DeepCopy(), expires: expires}
}
