package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
)

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "data", "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "gatehouse.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	var mode string
	if err := s.read.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func TestPragmas(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	for _, tc := range []struct {
		pool   string
		pragma string
		want   int
	}{
		{"write", "foreign_keys", 1},
		{"read", "foreign_keys", 1},
		{"write", "busy_timeout", 5000},
		{"read", "busy_timeout", 5000},
		{"write", "synchronous", 1}, // NORMAL
		{"write", "temp_store", 2},  // MEMORY
		{"read", "query_only", 1},
		{"write", "query_only", 0},
	} {
		db := s.write
		if tc.pool == "read" {
			db = s.read
		}
		var got int
		if err := db.QueryRowContext(ctx, `PRAGMA `+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s pool: PRAGMA %s = %d, want %d", tc.pool, tc.pragma, got, tc.want)
		}
	}
}

type migrationRow struct {
	Version   int
	AppliedAt int64
}

func migrationRows(t *testing.T, s *Store) []migrationRow {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []migrationRow
	for rows.Next() {
		var r migrationRow
		if err := rows.Scan(&r.Version, &r.AppliedAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReopenKeepsDataAndAppliesNoMigration(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	known, err := loadMigrations(migrations)
	if err != nil {
		t.Fatal(err)
	}
	first := migrationRows(t, s)
	if len(first) != len(known) {
		t.Fatalf("%d migrations recorded after the first Open, want %d", len(first), len(known))
	}
	id := store.Identity{ID: uuid.NewString(), Name: "kept", Role: store.RoleAdmin, CreatedAt: time.UnixMicro(1).UTC()}
	if err := s.CreateIdentity(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.PutMetaIfAbsent(ctx, "k", "v"); err != nil || !ok {
		t.Fatalf("PutMetaIfAbsent = %v, %v", ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		s, err = Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if got := migrationRows(t, s); !reflect.DeepEqual(got, first) {
			t.Errorf("schema_migrations after reopening = %v, want unchanged %v", got, first)
		}
		applied, err := migrate(ctx, s.write, migrations)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Errorf("migrate on an up-to-date database applied %v, want nothing", applied)
		}
		got, err := s.GetIdentity(ctx, id.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "kept" {
			t.Errorf("identity after reopening = %+v", got)
		}
		if v, err := s.GetMeta(ctx, "k"); err != nil || v != "v" {
			t.Errorf("GetMeta after reopening = %q, %v", v, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, path); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}

// TestFailedMigrationLeavesNothing applies a set whose second file fails:
// neither its statements nor the first file's may remain.
func TestFailedMigrationLeavesNothing(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	// The real migrations (already applied) and three more after them.
	known, err := loadMigrations(migrations)
	if err != nil {
		t.Fatal(err)
	}
	base := known[len(known)-1].version
	name := func(i int, what string) string { return fmt.Sprintf("%04d_%s.sql", base+i, what) }
	fsys := fstest.MapFS{
		name(1, "ok"):    {Data: []byte(`CREATE TABLE added_ok (x INTEGER) STRICT`)},
		name(2, "half"):  {Data: []byte(`CREATE TABLE added_half (x INTEGER) STRICT; INSERT INTO no_such_table VALUES (1);`)},
		name(3, "later"): {Data: []byte(`CREATE TABLE added_later (x INTEGER) STRICT`)},
	}
	for _, m := range known {
		fsys[m.name] = &fstest.MapFile{Data: []byte(`SELECT 1`)} // already applied
	}
	before := migrationRows(t, s)
	if _, err := migrate(ctx, s.write, fsys); err == nil {
		t.Fatal("migrate with a broken file succeeded")
	}
	if got := migrationRows(t, s); !reflect.DeepEqual(got, before) {
		t.Errorf("schema_migrations after a failed migrate = %v, want %v", got, before)
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name LIKE 'added_%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d tables of the failed migrate remain", n)
	}

	// Fixed, the same set applies from where it stopped.
	fsys[name(2, "half")] = &fstest.MapFile{Data: []byte(`CREATE TABLE added_half (x INTEGER) STRICT`)}
	applied, err := migrate(ctx, s.write, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{base + 1, base + 2, base + 3}; !reflect.DeepEqual(applied, want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
}

// TestMigrateVersion2WithData upgrades a populated version-2 database:
// 0003 adds mount_path to auth_methods that already hold rows (SQLite allows
// a REFERENCES column with a NULL default), and the old methods read back
// outside any mount.
func TestMigrateVersion2WithData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	v2 := fstest.MapFS{}
	for _, name := range []string{"0001_init.sql", "0002_login_lockouts.sql"} {
		b, err := fs.ReadFile(migrations, name)
		if err != nil {
			t.Fatal(err)
		}
		v2[name] = &fstest.MapFile{Data: b}
	}
	if _, err := migrate(ctx, db, v2); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO identities (id, name, role) VALUES ('i1', 'old', 'member')`,
		`INSERT INTO auth_methods (id, identity_id, type, lookup_key) VALUES ('am1', 'i1', 'universal-auth', 'client-1')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := s.GetAuthMethod(ctx, "am1")
	if err != nil {
		t.Fatal(err)
	}
	if m.MountPath != "" || m.LookupKey != "client-1" {
		t.Errorf("auth method after the upgrade = %+v, want MountPath \"\" and its lookup key", m)
	}
	mount := store.Mount{Path: "kubernetes", Type: "kubernetes", Accessor: "auth_kubernetes_1"}
	if err := s.CreateMount(ctx, mount); err != nil {
		t.Fatal(err)
	}
	id := store.Identity{ID: "i2", Name: "role", Role: store.RoleNoAccess}
	role := store.AuthMethod{ID: "am2", IdentityID: "i2", Type: store.AuthMethodVaultKubernetes,
		LookupKey: "kubernetes/r", MountPath: "kubernetes"}
	if err := s.CreateIdentityWithAuthMethod(ctx, id, role); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMount(ctx, "kubernetes", time.UnixMicro(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAuthMethod(ctx, "am1"); err != nil {
		t.Errorf("the old method after DeleteMount: %v", err)
	}
}

func TestLoadMigrationsRejectsBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no version":        {"init.sql": {}},
		"duplicate version": {"0001_a.sql": {}, "1_b.sql": {}},
		"empty":             {},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: loadMigrations succeeded", name)
		}
	}
}

func TestMapErr(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	_, err := s.write.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('a', '1'), ('a', '2')`)
	if !errors.Is(mapErr(err), store.ErrAlreadyExists) {
		t.Errorf("duplicate primary key: %v", mapErr(err))
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO client_secrets (id, auth_method_id, hash) VALUES ('x', 'missing', x'00')`)
	if !errors.Is(mapErr(err), store.ErrNotFound) {
		t.Errorf("missing parent: %v", mapErr(err))
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('b', NULL)`)
	if err == nil || errors.Is(mapErr(err), store.ErrAlreadyExists) || errors.Is(mapErr(err), store.ErrNotFound) {
		t.Errorf("NOT NULL violation mapped to %v", mapErr(err))
	}
}

// Benchmarks. Each runs against a store holding benchTokens tokens, so the
// hash index is exercised as it would be on a busy server.

const benchTokens = 10_000

func benchStore(b *testing.B) (*Store, []store.AccessToken) {
	b.Helper()
	s := openTemp(b)
	ctx := b.Context()
	toks := make([]store.AccessToken, benchTokens)
	now := time.Now()
	for i := range toks {
		toks[i] = benchToken(i, now)
	}
	// Written from many goroutines, so that the group writer commits them
	// in batches: one commit per token made this setup most of the time
	// of a -benchtime=1x run.
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			for i := w; i < len(toks); i += 64 {
				if err := s.CreateAccessToken(ctx, toks[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return s, toks
}

func benchToken(i int, now time.Time) store.AccessToken {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))
	h := sha256.Sum256(append(seed[:], uuid.NewString()...))
	return store.AccessToken{
		ID:             uuid.NewString(),
		Hash:           h[:],
		IdentityID:     uuid.NewString(),
		AuthMethodID:   uuid.NewString(),
		AuthMethodType: store.AuthMethodKubernetes,
		CreatedAt:      now,
		LastRenewedAt:  now,
		TTL:            3600,
		ExpiresAt:      now.Add(time.Hour),
		Metadata:       map[string]string{"k8s.namespace": "default", "k8s.serviceaccount": "ci"},
	}
}

func BenchmarkGetAccessTokenByHash(b *testing.B) {
	s, toks := benchStore(b)
	benchReads(b, toks, func(ctx context.Context, hash []byte) error {
		_, err := s.GetAccessTokenByHash(ctx, hash)
		return err
	})
}

// BenchmarkGetTokenCheck is the one store read of a token check.
func BenchmarkGetTokenCheck(b *testing.B) {
	s, toks := benchStore(b)
	benchReads(b, toks, func(ctx context.Context, hash []byte) error {
		_, err := s.GetTokenCheck(ctx, hash)
		return err
	})
}

// benchReads runs read over the tokens' hashes serially and in parallel.
func benchReads(b *testing.B, toks []store.AccessToken, read func(context.Context, []byte) error) {
	ctx := b.Context()
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := read(ctx, toks[i%len(toks)].Hash); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if err := read(ctx, toks[i%len(toks)].Hash); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

func BenchmarkUseAccessToken(b *testing.B) {
	s, toks := benchStore(b)
	ctx := b.Context()
	now := time.Now()
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.UseAccessToken(ctx, toks[i%len(toks)].ID, now); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.UseAccessToken(ctx, toks[i%len(toks)].ID, now); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

func BenchmarkCreateAccessToken(b *testing.B) {
	s := openTemp(b)
	ctx := b.Context()
	now := time.Now()
	i := 0
	for b.Loop() {
		if err := s.CreateAccessToken(ctx, benchToken(i, now)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
