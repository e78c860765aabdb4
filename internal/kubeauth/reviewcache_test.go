package kubeauth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// fakeNow is a settable clock.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// TestReviewCache: with the cache on, a repeated login with the same JWT
// is answered without a review until the TTL, never past the JWT's exp;
// failures are never kept; the rules are judged on every login; anything
// the answer depends on (bearer, audiences, cluster) is a different entry.
func TestReviewCache(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	clock := &fakeNow{t: time.Now()}
	s := testService(5 * time.Second)
	s.now = clock.now
	s.CacheReviews(time.Minute)
	cfg := Config{Cluster: clusterOf(c), Rules: Rules{Namespaces: Patterns{"apps"}}}
	login := func(cfg Config, jwt string) error {
		_, err := s.Login(context.Background(), cfg, mustJWT(t, jwt))
		return err
	}
	reviews := func(f func()) int {
		before := c.RequestCount()
		f()
		return c.RequestCount() - before
	}

	jwt := c.Token("apps", "web", kubetest.ExpiresIn(time.Hour))
	if n := reviews(func() {
		for range 3 {
			if err := login(cfg, jwt); err != nil {
				t.Fatal(err)
			}
		}
	}); n != 1 {
		t.Errorf("three logins made %d reviews, want 1", n)
	}

	// The trade-off, as documented: a deleted account still logs in from
	// the cache until the entry expires.
	c.DeleteServiceAccount("apps", "web")
	if err := login(cfg, jwt); err != nil {
		t.Errorf("cached login after deletion: %v", err)
	}
	clock.add(time.Minute)
	if err := login(cfg, jwt); err == nil {
		t.Error("login after the TTL was not reviewed again")
	}

	// Rules apply to cached answers at once.
	jwt2 := c.Token("apps", "api", kubetest.ExpiresIn(time.Hour))
	if err := login(cfg, jwt2); err != nil {
		t.Fatal(err)
	}
	tight := cfg
	tight.Rules.Namespaces = Patterns{"other"}
	var na *NotAllowedError
	if err := login(tight, jwt2); !errors.As(err, &na) {
		t.Errorf("tightened rules on a cached answer: %v", err)
	}

	// Another bearer or other audiences make another entry.
	otherBearer := cfg
	otherBearer.ReviewerJWT = secret.Secret(c.ReviewerToken("kube-system", "second-reviewer"))
	withAud := cfg
	withAud.Audiences = c.APIAudiences()
	for name, variant := range map[string]Config{"bearer": otherBearer, "audiences": withAud} {
		if n := reviews(func() { _ = login(variant, jwt2) }); n != 1 {
			t.Errorf("%s changed: %d reviews, want 1", name, n)
		}
	}

	// Never past the JWT's own exp.
	short := c.Token("apps", "short", kubetest.ExpiresIn(20*time.Second))
	if err := login(cfg, short); err != nil {
		t.Fatal(err)
	}
	clock.add(21 * time.Second)
	if n := reviews(func() { _ = login(cfg, short) }); n != 1 {
		t.Errorf("login past the JWT's exp made %d reviews, want 1", n)
	}

	// Failures are not kept.
	bad := c.Token("apps", "gone", kubetest.ExpiresIn(time.Hour))
	c.DeleteServiceAccount("apps", "gone")
	if n := reviews(func() { _ = login(cfg, bad); _ = login(cfg, bad) }); n != 2 {
		t.Errorf("two failed logins made %d reviews, want 2", n)
	}
}

func TestReviewCacheOffByDefault(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	s := NewService(nil, seal.Key{}, nil, nil, time.Now, time.Second, nil)
	cfg := Config{Cluster: clusterOf(c)}
	jwt := c.Token("apps", "web")
	before := c.RequestCount()
	for range 2 {
		if _, err := s.Login(context.Background(), cfg, mustJWT(t, jwt)); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.RequestCount() - before; n != 2 {
		t.Errorf("two logins made %d reviews without the cache, want 2", n)
	}
	if s.CacheReviews(time.Hour); s.cache.ttl != MaxReviewCacheTTL {
		t.Errorf("ttl not capped: %v", s.cache.ttl)
	}
}
