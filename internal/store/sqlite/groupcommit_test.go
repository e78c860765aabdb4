package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func rootToken(id string, hash string) store.AccessToken {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return store.AccessToken{ID: id, Hash: []byte(hash), AuthMethodType: store.AuthMethodRoot, CreatedAt: now, LastRenewedAt: now}
}

// tokenArgs are the createToken statement's arguments for t.
func tokenArgs(t store.AccessToken) []any {
	return []any{t.ID, t.Hash, t.IdentityID, t.AuthMethodID, t.AuthMethodType, t.ClientSecretID,
		micros(t.CreatedAt), micros(t.LastRenewedAt), t.TTL, t.MaxTTL, t.Period, micros(t.ExpiresAt),
		t.NumUses, t.NumUsesLimit, "{}", micros(t.LastUsedAt), micros(t.RevokedAt)}
}

// execArgs runs a statement with args.
func execArgs(args []any) func(context.Context, *sql.Stmt) error {
	return func(ctx context.Context, st *sql.Stmt) error {
		_, err := st.ExecContext(ctx, args...)
		return err
	}
}

// TestRunGroup drives one group by hand: a duplicate fails alone inside
// the group's transaction; a statement that fails otherwise (here: wrong
// arguments) makes the group run its inserts one by one, so the others are
// still written; an insert whose caller gave up is not written.
func TestRunGroup(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name  string
		inner []*pendingWrite
		want  []string // "" = written, "dup", "fail", "gone"
		ids   []string
	}{
		{"duplicate fails alone", []*pendingWrite{
			{ctx: ctx, stmt: s.stmts.createToken, run: execArgs(tokenArgs(rootToken("a1", "ha1")))},
			{ctx: ctx, stmt: s.stmts.createToken, run: execArgs(tokenArgs(rootToken("a2", "ha1")))},
			{ctx: ctx, stmt: s.stmts.createToken, run: execArgs(tokenArgs(rootToken("a3", "ha3")))},
		}, []string{"", "dup", ""}, []string{"a1", "a2", "a3"}},
		{"other failure: one by one", []*pendingWrite{
			{ctx: ctx, stmt: s.stmts.createToken, run: execArgs(tokenArgs(rootToken("b1", "hb1")))},
			{ctx: ctx, stmt: s.stmts.createToken, run: execArgs([]any{"b2"})},
			{ctx: ctx, stmt: s.stmts.createToken, run: execArgs(tokenArgs(rootToken("b3", "hb3")))},
		}, []string{"", "fail", ""}, []string{"b1", "b2", "b3"}},
		{"caller gone", []*pendingWrite{
			{ctx: gone, stmt: s.stmts.createToken, run: execArgs(tokenArgs(rootToken("c1", "hc1")))},
			{ctx: ctx, stmt: s.stmts.createToken, run: execArgs(tokenArgs(rootToken("c2", "hc2")))},
		}, []string{"gone", ""}, []string{"c1", "c2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, in := range tc.inner {
				in.done = make(chan error, 1)
			}
			s.runGroup(tc.inner)
			for i, in := range tc.inner {
				err := <-in.done
				_, gerr := s.GetAccessToken(ctx, tc.ids[i])
				switch tc.want[i] {
				case "":
					if err != nil || gerr != nil {
						t.Errorf("insert %d: %v; read back: %v", i, err, gerr)
					}
				case "dup":
					if !errors.Is(mapErr(err), store.ErrAlreadyExists) {
						t.Errorf("insert %d: %v, want a duplicate", i, err)
					}
				case "fail":
					if err == nil {
						t.Errorf("insert %d succeeded", i)
					}
				case "gone":
					if !errors.Is(err, context.Canceled) {
						t.Errorf("insert %d: %v, want context.Canceled", i, err)
					}
				}
				if tc.want[i] != "" && !errors.Is(gerr, store.ErrNotFound) {
					t.Errorf("refused insert %d was stored (%v)", i, gerr)
				}
			}
		})
	}
}

// TestGroupInsertAfterClose: an insert after Close fails at once.
func TestGroupInsertAfterClose(t *testing.T) {
	s := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccessToken(context.Background(), rootToken("x", "hx")); !errors.Is(err, errClosed) {
		t.Errorf("create after Close: %v, want errClosed", err)
	}
}

// BenchmarkCreateAccessTokenParallel is the insert of a login under
// concurrent logins (64 goroutines), where group commit applies.
func BenchmarkCreateAccessTokenParallel(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := strconv.FormatInt(n.Add(1), 10)
			if err := s.CreateAccessToken(ctx, rootToken("id-"+i, "hash-"+i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
