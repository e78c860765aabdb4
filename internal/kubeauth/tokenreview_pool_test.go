package kubeauth

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// TestTokenReviewPoolHoldsOverHTTP1: an API server reached over HTTP/1.1
// needs a connection per review in flight. Rounds of maxConnsPerAPIServer
// concurrent reviews (held at the server until all have arrived, so they
// really are concurrent) must reuse the connections of the first round:
// a pool smaller than the concurrency closes connections after each round
// and pays a TLS handshake per review in the next.
//
// Not parallel (nor is TestTokenReviewConnectionCap): their bursts of
// handshakes would starve the parallel tests that expect an answer within
// 300 ms on a 2-core machine.
func TestTokenReviewPoolHoldsOverHTTP1(t *testing.T) {
	c := kubetest.New(t, kubetest.WithHTTP1Only())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n, rounds = maxConnsPerAPIServer, 4

	// A barrier per round: each review waits at the server until n have
	// arrived.
	var mu sync.Mutex
	arrived := 0
	release := make([]chan struct{}, rounds)
	for i := range release {
		release[i] = make(chan struct{})
	}
	c.OnTokenReview(func(kubetest.TokenReviewCall) {
		mu.Lock()
		arrived++
		round := (arrived - 1) / n
		if arrived%n == 0 {
			close(release[round])
		}
		mu.Unlock()
		select {
		case <-release[round]:
		case <-ctx.Done():
		}
	})

	ac := newAPIClient(30 * time.Second)
	cl := clusterOf(c)
	req := reviewRequest{token: secret.Secret(c.Token("apps", "web")), bearer: cl.ReviewerJWT}
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				st, err := ac.review(ctx, cl, req)
				if err == nil && !st.Authenticated {
					t.Errorf("review not authenticated: %+v", st)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	if got := c.ConnectionCount(); got > n {
		t.Errorf("%d rounds of %d concurrent reviews over HTTP/1.1 opened %d connections, want at most %d (the pool must keep them)", rounds, n, got, n)
	}
}

// TestTokenReviewConnectionCap: more concurrent reviews than
// maxConnsPerAPIServer queue for a connection instead of opening more.
func TestTokenReviewConnectionCap(t *testing.T) {
	c := kubetest.New(t, kubetest.WithHTTP1Only())
	c.SetLatency(20 * time.Millisecond) // so that the reviews overlap
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ac := newAPIClient(30 * time.Second)
	cl := clusterOf(c)
	req := reviewRequest{token: secret.Secret(c.Token("apps", "web")), bearer: cl.ReviewerJWT}
	var wg sync.WaitGroup
	for range 3 * maxConnsPerAPIServer {
		wg.Go(func() {
			if _, err := ac.review(ctx, cl, req); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := c.ConnectionCount(); got > maxConnsPerAPIServer {
		t.Errorf("%d concurrent reviews opened %d connections, want at most %d", 3*maxConnsPerAPIServer, got, maxConnsPerAPIServer)
	}
}
