//go:build linux

package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/bounded"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
)

// seedSecret creates an identity with a Universal Auth method and a
// single-use client secret, and returns the method and the secret's id.
func seedSecret(t *testing.T, s store.Store) (store.AuthMethod, string) {
	t.Helper()
	ctx := t.Context()
	id := store.Identity{ID: uuid.NewString(), Name: "app", Role: store.RoleMember, CreatedAt: t0, UpdatedAt: t0}
	mustNil(t, s.CreateIdentity(ctx, id))
	m := store.AuthMethod{ID: uuid.NewString(), IdentityID: id.ID, Type: store.AuthMethodUniversal, LookupKey: uuid.NewString(),
		Config: []byte(`{}`), CreatedAt: t0, UpdatedAt: t0}
	mustNil(t, s.CreateAuthMethod(ctx, m))
	cs := store.ClientSecret{ID: uuid.NewString(), AuthMethodID: m.ID, Prefix: "abc", Hash: hash(uuid.NewString()),
		NumUsesLimit: 1, CreatedAt: t0, UpdatedAt: t0}
	mustNil(t, s.CreateClientSecret(ctx, cs))
	return m, cs.ID
}

func loginIssue(m store.AuthMethod, secretID string) store.TokenIssue {
	return store.TokenIssue{
		ClientSecretID: secretID,
		Token: store.AccessToken{ID: uuid.NewString(), Hash: hash(uuid.NewString()), IdentityID: m.IdentityID, AuthMethodID: m.ID,
			AuthMethodType: store.AuthMethodUniversal, ClientSecretID: secretID, CreatedAt: t0, LastRenewedAt: t0,
			ExpiresAt: t0.Add(time.Hour), Metadata: map[string]string{}},
		Event: store.AuditEvent{ID: uuid.NewString(), Time: t0, Type: "login", Success: true, IdentityID: m.IdentityID, Details: map[string]string{}},
	}
}

// A frozen database (SIGSTOP) answers nothing: a login's write ends at the
// store timeout with store.ErrUnavailable and commits nothing, not even
// once the database resumes; a stopped one refuses connections
// (store.ErrUnavailable); both recover without reopening the store.
func TestFrozenAndStoppedDatabase(t *testing.T) {
	pg := pgtest.StartServer(t)
	raw, err := postgres.Open(t.Context(), pg.URL())
	mustNil(t, err)
	defer raw.Close()
	s := bounded.New(raw, bounded.Config{Timeout: 300 * time.Millisecond})
	ctx := t.Context()
	m, secretID := seedSecret(t, s)

	pg.Freeze()
	w := loginIssue(m, secretID)
	start := time.Now()
	err = s.IssueAccessToken(ctx, w)
	took := time.Since(start)
	if !errors.Is(err, store.ErrUnavailable) {
		pg.Thaw()
		t.Fatalf("IssueAccessToken on a frozen database: %v, want store.ErrUnavailable", err)
	}
	if took > 20*time.Second {
		t.Errorf("IssueAccessToken on a frozen database took %v with a 300ms store timeout", took)
	}
	if _, err := s.GetTokenCheck(ctx, w.Token.Hash); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetTokenCheck on a frozen database: %v, want store.ErrUnavailable", err)
	}
	if !s.Down() {
		t.Error("no outage recorded")
	}
	pg.Thaw()

	// Once the database resumes, it finds the timed-out login's
	// connection closed and rolls it back: the secret's one use is
	// still there and no token exists.
	cs := eventually(t, func(ctx context.Context) (store.ClientSecret, error) { return s.GetClientSecret(ctx, secretID) })
	if cs.NumUses != 0 {
		t.Fatalf("the secret of a login that timed out has NumUses = %d, want 0", cs.NumUses)
	}
	if _, err := s.GetAccessToken(ctx, w.Token.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the token of a login that timed out: %v, want store.ErrNotFound", err)
	}
	w2 := loginIssue(m, secretID)
	mustNil(t, s.IssueAccessToken(ctx, w2))

	// Frozen in the middle of a transaction (after its read, before its
	// write and COMMIT): the write ends at the deadline and, once the
	// database resumes, is rolled back.
	_, err = s.UpdateIdentity(ctx, m.IdentityID, func(id *store.Identity) error {
		pg.Freeze()
		id.Name = "renamed-while-frozen"
		return nil
	})
	pg.Thaw()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UpdateIdentity frozen mid-transaction: %v, want store.ErrUnavailable", err)
	}
	idn := eventually(t, func(ctx context.Context) (store.Identity, error) { return s.GetIdentity(ctx, m.IdentityID) })
	if idn.Name != "app" {
		t.Errorf("a write that timed out mid-transaction was committed: name %q", idn.Name)
	}

	pg.Stop()
	if _, err := s.GetAccessToken(ctx, w2.Token.ID); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetAccessToken with the database stopped: %v, want store.ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping with the database stopped: %v, want store.ErrUnavailable", err)
	}
	pg.Start()
	got := eventually(t, func(ctx context.Context) (store.AccessToken, error) { return s.GetAccessToken(ctx, w2.Token.ID) })
	if got.ID != w2.Token.ID {
		t.Errorf("after the restart: token %q", got.ID)
	}
}

// eventually retries f while the store is unavailable (a pool reconnects
// after the database comes back) for a generous while.
func eventually[T any](t *testing.T, f func(context.Context) (T, error)) T {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := f(t.Context())
		if err == nil {
			return v
		}
		if !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("store not back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A server out of connection slots (too many clients) is unavailable, at
// Open as on any call, not a failure of the request.
func TestTooManyClientsIsUnavailable(t *testing.T) {
	pg := pgtest.StartServer(t)
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, pg.URL())
	mustNil(t, err)
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, `CREATE ROLE limited LOGIN CONNECTION LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(pg.URL())
	mustNil(t, err)
	u.User = url.User("limited")
	hog, err := pgx.Connect(ctx, u.String()) // takes the role's one slot
	mustNil(t, err)
	defer hog.Close(context.Background())
	_, err = postgres.Open(ctx, u.String())
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open with no connection slot left: %v, want store.ErrUnavailable", err)
	}
}
