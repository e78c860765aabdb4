package sqlite

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func rootToken(id string, hash string) store.AccessToken {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return store.AccessToken{ID: id, Hash: []byte(hash), AuthMethodType: store.AuthMethodRoot, CreatedAt: now, LastRenewedAt: now}
}

// insertArgs are the createToken statement's arguments for t.
func insertArgs(t store.AccessToken) []any {
	args, err := tokenArgs(t)
	if err != nil {
		panic(err)
	}
	return args
}

// insert is a pending insert of a token with args.
func insert(ctx context.Context, s *Store, args []any) *pendingWrite {
	return &pendingWrite{ctx: ctx, run: func(ctx context.Context, bind binder) error {
		_, err := bind(s.stmts.createToken).ExecContext(ctx, args...)
		return err
	}}
}

// unitOf is a pending unit inserting toks, all or none.
func unitOf(ctx context.Context, s *Store, toks ...store.AccessToken) *pendingWrite {
	return &pendingWrite{ctx: ctx, unit: true, run: func(ctx context.Context, bind binder) error {
		for _, t := range toks {
			if _, err := bind(s.stmts.createToken).ExecContext(ctx, insertArgs(t)...); err != nil {
				return err
			}
		}
		return nil
	}}
}

// TestRunGroup drives one group by hand: a duplicate fails alone inside
// the group's transaction; a statement that fails otherwise (here: wrong
// arguments) makes the group run its inserts one by one, so the others are
// still written; an insert whose caller gave up is not written; a unit
// whose last statement is refused leaves none of its statements, in a
// group or alone. ids name each write's first token.
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
			insert(ctx, s, insertArgs(rootToken("a1", "ha1"))),
			insert(ctx, s, insertArgs(rootToken("a2", "ha1"))),
			insert(ctx, s, insertArgs(rootToken("a3", "ha3"))),
		}, []string{"", "dup", ""}, []string{"a1", "a2", "a3"}},
		{"other failure: one by one", []*pendingWrite{
			insert(ctx, s, insertArgs(rootToken("b1", "hb1"))),
			insert(ctx, s, []any{"b2"}),
			unitOf(ctx, s, rootToken("b3", "hb3"), rootToken("b4", "hb4")),
		}, []string{"", "fail", ""}, []string{"b1", "b2", "b3"}},
		{"caller gone", []*pendingWrite{
			insert(ctx, s, insertArgs(rootToken("c1", "hc1"))),
			unitOf(gone, s, rootToken("c2", "hc2")),
			insert(ctx, s, insertArgs(rootToken("c3", "hc3"))),
		}, []string{"", "gone", ""}, []string{"c1", "c2", "c3"}},
		{"unit refused in a group: none of it", []*pendingWrite{
			insert(ctx, s, insertArgs(rootToken("d1", "hd1"))),
			unitOf(ctx, s, rootToken("d2", "hd2"), rootToken("d3", "hd1")),
			unitOf(ctx, s, rootToken("d4", "hd4"), rootToken("d5", "hd5")),
		}, []string{"", "dup", ""}, []string{"d1", "d2", "d4"}},
		{"unit refused alone: none of it", []*pendingWrite{
			unitOf(ctx, s, rootToken("e1", "he1"), rootToken("e2", "he1")),
		}, []string{"dup"}, []string{"e1"}},
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

// auditWrite is a pending append of an audit event with id.
func auditWrite(ctx context.Context, s *Store, id string) *pendingWrite {
	args, err := auditArgs(store.AuditEvent{ID: id, Time: time.Now(), Type: "token.exchange", Success: true, Details: map[string]string{"jti": id}})
	if err != nil {
		panic(err)
	}
	return s.pendingAudit(ctx, args)
}

// TestRunGroupAuditEvents: a group's audit events are written in
// multi-row INSERTs (here 4 + 2 + 1 rows, and 64 + 4), and each still
// succeeds or fails alone: a duplicate of a stored event, or of another
// event of the same INSERT, fails by itself; a statement that fails
// otherwise makes the group run its writes one by one.
func TestRunGroupAuditEvents(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if err := s.AppendAuditEvent(ctx, store.AuditEvent{ID: "stored", Type: "login"}); err != nil {
		t.Fatal(err)
	}
	many := make([]string, maxAuditRows+4)
	for i := range many {
		many[i] = "m" + strconv.Itoa(i)
	}
	many[maxAuditRows+2] = "m3" // in the second INSERT, of an event of the first
	for _, tc := range []struct {
		name string
		ids  []string
		bad  int    // index of a write with too few arguments, or -1
		want string // per write: '.' written, 'd' duplicate, 'f' failed
	}{
		{"duplicates fail alone", []string{"a1", "a2", "stored", "a4", "a5", "a5", "a7"}, -1, "..d..d."},
		{"all written", []string{"b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8"}, -1, "........"},
		{"other failure: one by one", []string{"c1", "c2", "c3", "c4", "c5"}, 2, "..f.."},
		{"more than one INSERT holds", many, -1, strings.Repeat(".", maxAuditRows+2) + "d."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var group []*pendingWrite
			for i, id := range tc.ids {
				in := auditWrite(ctx, s, id)
				if i == tc.bad {
					in = s.pendingAudit(ctx, in.audit[:len(in.audit)-1])
				}
				in.done = make(chan error, 1)
				group = append(group, in)
			}
			tokenWrite := insert(ctx, s, insertArgs(rootToken(tc.name, tc.name)))
			tokenWrite.done = make(chan error, 1)
			s.runGroup(append(group, tokenWrite))
			if err := <-tokenWrite.done; err != nil {
				t.Errorf("the group's token: %v", err)
			}
			for i, in := range group {
				err := <-in.done
				switch tc.want[i] {
				case '.':
					if err != nil {
						t.Errorf("event %d (%s): %v", i, tc.ids[i], err)
					}
				case 'd':
					if !errors.Is(mapErr(err), store.ErrAlreadyExists) {
						t.Errorf("event %d (%s): %v, want a duplicate", i, tc.ids[i], err)
					}
				case 'f':
					if err == nil {
						t.Errorf("event %d (%s) succeeded", i, tc.ids[i])
					}
				}
			}
			for _, id := range tc.ids {
				var n int
				if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE id = ? AND (type = 'login' OR details = '{"jti":"' || id || '"}')`, id).Scan(&n); err != nil {
					t.Fatal(err)
				}
				want := 1
				if tc.bad >= 0 && id == tc.ids[tc.bad] {
					want = 0
				}
				if n != want {
					t.Errorf("event %s stored %d times, want %d", id, n, want)
				}
			}
		})
	}
}
