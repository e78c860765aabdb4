package universalauth_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/universalauth"
)

func TestMain(m *testing.M) { pgtest.RunMain(m) }

// TestLockoutHardCapUnderParallelGuesses: 200 wrong secrets sent at once
// with lockout threshold 3 get at most 3 verdicts "invalid credentials"
// (the audit log shows at most 3 judged secrets); every other attempt is
// answered as locked out, and so is the right secret afterwards. On both
// stores.
func TestLockoutHardCapUnderParallelGuesses(t *testing.T) {
	stores := map[string]func(t *testing.T) *fixture{
		"sqlite": func(t *testing.T) *fixture { return newFixture(t) },
		"postgres": func(t *testing.T) *fixture {
			st, err := postgres.Open(context.Background(), pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return newFixtureOn(t, st)
		},
	}
	for name, newF := range stores {
		t.Run(name, func(t *testing.T) {
			f := newF(t)
			m := f.attach(universalauth.Input{LockoutThreshold: ptr[int64](3), LockoutDurationSeconds: ptr[int64](60), LockoutCounterResetSeconds: ptr[int64](10)})
			good := f.secret(m, universalauth.SecretInput{}).Secret
			const n = 200
			results := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					wrong, err := secret.Generate(secret.KindClientSecret)
					if err != nil {
						results[i] = err
						return
					}
					<-start
					_, results[i] = f.login(m, wrong, "203.0.113.50")
				})
			}
			close(start)
			wg.Wait()
			verdicts := 0
			for _, err := range results {
				switch errs.CodeOf(err) {
				case errs.Unauthenticated:
					verdicts++
				case errs.TooManyRequests:
				default:
					t.Fatalf("unexpected answer %v", err)
				}
			}
			if verdicts > 3 {
				t.Errorf("%d of %d parallel wrong secrets were answered \"invalid credentials\", want at most 3", verdicts, n)
			}
			evs, _, err := f.store.ListAuditEvents(context.Background(), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			judged := 0
			for _, ev := range evs {
				if ev.Type == "login" && strings.Contains(ev.Reason, "no client secret matches") {
					judged++
				}
			}
			if judged > 3 {
				t.Errorf("the audit log shows %d judged wrong secrets, want at most 3", judged)
			}
			if _, err := f.login(m, good, "203.0.113.50"); errs.CodeOf(err) != errs.TooManyRequests {
				t.Errorf("right secret during the lock: %v, want locked out", err)
			}
			l, err := f.store.GetLockout(context.Background(), store.LockoutKey{AuthMethodID: m.ID, ClientIP: "203.0.113.50"})
			if err != nil || l.FailedAttempts != 3 {
				t.Errorf("lockout record %+v, %v: want 3 failures", l, err)
			}
		})
	}
}

// TestConcurrentRightSecretsAreNotLockedOut: many logins at once with the
// right secret from one address never trip the lockout (attempts are only
// counted once judged wrong).
func TestConcurrentRightSecretsAreNotLockedOut(t *testing.T) {
	f := newFixture(t)
	m := f.attach(universalauth.Input{LockoutThreshold: ptr[int64](1)})
	good := f.secret(m, universalauth.SecretInput{}).Secret
	const n = 50
	results := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, results[i] = f.login(m, good, "10.0.0.1")
		})
	}
	close(start)
	wg.Wait()
	for _, err := range results {
		if err != nil {
			t.Fatalf("login: %v", err)
		}
	}
}

// lockingStore locks the login's key (as concurrent wrong guesses would)
// while the presented secret is being looked up.
type lockingStore struct {
	store.Store
	key    store.LockoutKey
	now    func() time.Time
	policy store.LockoutPolicy
}

func (s *lockingStore) GetClientSecretByHash(ctx context.Context, hash []byte) (store.ClientSecret, error) {
	for range s.policy.Threshold {
		if _, _, err := s.Store.RecordLoginFailure(ctx, s.key, s.now(), s.policy); err != nil {
			return store.ClientSecret{}, err
		}
	}
	return s.Store.GetClientSecretByHash(ctx, hash)
}

// TestRightSecretRefusedWhenLockedWhileChecked: a right secret whose
// lockout key is locked while its secret is being checked gets no token:
// the lock is checked again, atomically, where the token is written.
func TestRightSecretRefusedWhenLockedWhileChecked(t *testing.T) {
	f := newFixture(t)
	m := f.attach(universalauth.Input{LockoutThreshold: ptr[int64](3), LockoutDurationSeconds: ptr[int64](60), LockoutCounterResetSeconds: ptr[int64](10)})
	good := f.secret(m, universalauth.SecretInput{})
	ls := &lockingStore{Store: f.store, key: store.LockoutKey{AuthMethodID: m.ID, ClientIP: "10.0.0.9"}, now: f.clock.Now,
		policy: store.LockoutPolicy{Threshold: 3, Window: 10 * time.Second, Duration: time.Minute}}
	log := audit.New(ls, f.clock.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc := universalauth.NewService(ls, token.NewService(ls, f.clock.Now, 0), log, f.clock.Now)
	_, err := svc.Login(context.Background(), universalauth.LoginInput{ClientID: m.ClientID, ClientSecret: good.Secret, ClientIP: netip.MustParseAddr("10.0.0.9")})
	if errs.CodeOf(err) != errs.TooManyRequests {
		t.Fatalf("login locked while checked: %v, want locked out", err)
	}
	if n, err := f.store.RevokeAccessTokens(context.Background(), store.TokenFilter{ClientSecretID: good.Record.ID}, f.clock.Now()); err != nil || n != 0 {
		t.Errorf("%d tokens minted (%v), want none", n, err)
	}
	cs, err := f.store.GetClientSecret(context.Background(), good.Record.ID)
	if err != nil || cs.NumUses != 0 {
		t.Errorf("secret uses %d (%v), want 0", cs.NumUses, err)
	}
}
