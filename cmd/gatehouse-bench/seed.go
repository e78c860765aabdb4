package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
)

// Seeding the store (--seed-tokens N). Issue 7 sets targets with 1,000,000
// live tokens in the store: server RSS, token-check p99 and start-up to
// ready. Logging in a million times would take minutes, so the bench sets
// one Universal Auth identity up over the API as usual, logs in once, stops
// the server, and adds N copies of that token (each with its own id and
// secret, made by internal/secret exactly as token.Issue makes them)
// through the SQLite store's own CreateAccessToken, many at once so that
// its group commit batches them. Then it starts the server again on that
// store and times it from process start to /readyz 200.

// maxSeedTokens bounds --seed-tokens.
const maxSeedTokens = 10_000_000

// seedSampleSize is how many of the seeded tokens the bench keeps (chosen
// uniformly) to check in token-check-seeded.
const seedSampleSize = 100_000

// seedWorkers is how many CreateAccessToken calls are in flight while
// seeding: enough for full groups in the store's group commit.
const seedWorkers = 256

// seedTimeout bounds the seeding itself.
const seedTimeout = 15 * time.Minute

// seedResult is what seeding measured.
type seedResult struct {
	Tokens int64         `json:"tokens"`
	Took   time.Duration `json:"seedingNs"`
	// StartToReady is the restarted server's time from process start to
	// the first 200 from /readyz (polled every readyPollFast).
	StartToReady time.Duration `json:"startToReadyNs"`
	// FreshStartToReady is the same for the first start, on an empty store.
	FreshStartToReady time.Duration `json:"freshStartToReadyNs"`
	RSSReady          uint64        `json:"rssWhenReadyBytes"`
	DBBytes           int64         `json:"dbBytes"`

	sample []string // raw values of some seeded tokens; never printed
}

// seedStore stops g, adds opts.seedTokens tokens like the one tmpl (a
// raw token of the Universal Auth identity) to the SQLite store at path,
// and returns what it measured; the caller restarts the server.
func (e *env) seedStore(ctx context.Context, g *gatehouseTarget, path, tmpl string) (*seedResult, error) {
	if err := g.proc.Stop(stopTimeout); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, seedTimeout)
	defer cancel()
	t0 := time.Now()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	tok, err := secret.Parse(secret.KindAccessToken, tmpl)
	if err != nil {
		return nil, err
	}
	h := tok.Hash()
	model, err := st.GetAccessTokenByHash(ctx, h[:])
	if err != nil {
		return nil, fmt.Errorf("reading the model token: %w", err)
	}
	n := int64(e.opts.seedTokens)
	keep := min(1, float64(seedSampleSize)/float64(n))
	var (
		next   atomic.Int64
		mu     sync.Mutex
		sample []string
		wg     sync.WaitGroup
		errs   = make(chan error, seedWorkers)
	)
	for range min(int64(seedWorkers), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []string
			for next.Add(1) <= n {
				raw, err := seedOne(ctx, st, model)
				if err != nil {
					errs <- err
					cancel()
					return
				}
				if rand.Float64() < keep {
					mine = append(mine, raw)
				}
			}
			mu.Lock()
			sample = append(sample, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("seeding tokens: %w", err)
	}
	if err := st.Close(); err != nil {
		return nil, err
	}
	if len(sample) == 0 {
		return nil, errors.New("seeding kept no token to check")
	}
	return &seedResult{Tokens: n, Took: time.Since(t0), sample: sample}, nil
}

// seedOne stores one new token like model, with its own id and secret,
// created now, and returns its raw value.
func seedOne(ctx context.Context, st *sqlite.Store, model store.AccessToken) (string, error) {
	tok, err := secret.Generate(secret.KindAccessToken)
	if err != nil {
		return "", err
	}
	h := tok.Hash()
	rec := model
	rec.ID, rec.Hash = uuid.NewString(), h[:]
	now := time.Now()
	rec.CreatedAt, rec.LastRenewedAt = now, now
	rec.ExpiresAt = now.Add(model.ExpiresAt.Sub(model.CreatedAt))
	rec.NumUses, rec.LastUsedAt, rec.RevokedAt = 0, time.Time{}, time.Time{}
	if err := st.CreateAccessToken(ctx, rec); err != nil {
		return "", err
	}
	return tok.Reveal(), nil
}

// setupSeededTokenCheck checks a different seeded token, picked at random,
// at each request: with a million in the store they miss the token-check
// cache, so this measures the store's lookups among them.
func setupSeededTokenCheck(ctx context.Context, e *env) (*plan, error) {
	g, err := e.Gatehouse(ctx)
	if err != nil {
		return nil, err
	}
	if e.seed == nil {
		if e.uaMissing {
			return nil, needsUniversalAuth
		}
		return nil, &skipError{reason: "needs --seed-tokens N"}
	}
	sample := e.seed.sample
	url := g.url + infisicalLookup.path
	want := infisicalLookup.want
	return &plan{
		server: g.proc,
		req: request{
			new: func(ctx context.Context) (*http.Request, error) {
				r, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					return nil, err
				}
				r.Header.Set("Authorization", "Bearer "+sample[rand.IntN(len(sample))])
				return r, nil
			},
			check: wantBody(want),
		},
		note: fmt.Sprintf("a random one of %s tokens kept from the %s seeded (all live, unlimited, of one Universal Auth identity) per request; trusted IPs 0.0.0.0/0, ::/0",
			thousands(float64(len(sample))), thousands(float64(e.seed.Tokens))),
	}, nil
}

// seedLine describes the seeding for the report.
func (s *seedResult) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "- Store: %s live tokens seeded in %.1f s (one Universal Auth identity, through the SQLite store's CreateAccessToken, server stopped); database %.0f MiB. ",
		thousands(float64(s.Tokens)), s.Took.Seconds(), mib(uint64(max(s.DBBytes, 0))))
	fmt.Fprintf(&b, "Gatehouse start-up to ready (process start to /readyz 200) on that store: **%s** (on the empty store: %s); RSS when ready %.1f MiB.\n",
		formatMS(s.StartToReady), formatMS(s.FreshStartToReady), mib(s.RSSReady))
	return b.String()
}
