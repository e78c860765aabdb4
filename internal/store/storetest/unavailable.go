package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var unavailableTests = []test{
	{"DeadlineExceeded", testDeadlineExceeded},
}

// testDeadlineExceeded: a call whose deadline has passed fails with
// store.ErrUnavailable (the store did not answer in time: a 503 to retry)
// and changes nothing; a call whose caller cancelled it (a client gone)
// fails too, but is not an outage.
func testDeadlineExceeded(t *testing.T, s store.Store) {
	w := buildWorld(t, s)
	// A method no call has looked up yet: a store that keeps answers
	// (tokencache) must ask the store it wraps.
	fresh := createAuthMethod(t, s, newAuthMethod(w.identities["c"].ID, store.AuthMethodUniversal, at(30)))
	before := w.snapshot(t, s)
	a := w.identities["a"]
	m := w.methods["aUA"]
	tok := w.tokens[firstLiveToken(w)]
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", func(ctx context.Context) error { return s.Ping(ctx) }},
		{"GetMeta", func(ctx context.Context) error { _, err := s.GetMeta(ctx, "k"); return err }},
		{"GetIdentity", func(ctx context.Context) error { _, err := s.GetIdentity(ctx, a.ID); return err }},
		{"GetAuthMethodByLookupKey", func(ctx context.Context) error {
			_, err := s.GetAuthMethodByLookupKey(ctx, fresh.Type, fresh.LookupKey)
			return err
		}},
		{"GetTokenCheck", func(ctx context.Context) error { _, err := s.GetTokenCheck(ctx, tok.Hash); return err }},
		{"UpdateIdentity", func(ctx context.Context) error {
			_, err := s.UpdateIdentity(ctx, a.ID, func(i *store.Identity) error { i.Name = "changed"; return nil })
			return err
		}},
		{"IssueAccessToken", func(ctx context.Context) error {
			return s.IssueAccessToken(ctx, loginWrite(m, w.secrets["aSecret1"].ID, 500))
		}},
		{"RevokeAccessTokens", func(ctx context.Context) error {
			_, err := s.RevokeAccessTokens(ctx, store.TokenFilter{IdentityID: a.ID}, at(500))
			return err
		}},
		{"AppendAuditEvent", func(ctx context.Context) error { return s.AppendAuditEvent(ctx, newAuditEvent(500)) }},
	}
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	cancelled, cancel2 := context.WithCancel(t.Context())
	cancel2()
	for _, c := range calls {
		if err := c.call(expired); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s past its deadline: %v, want store.ErrUnavailable", c.name, err)
		}
		if err := c.call(cancelled); err == nil || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s cancelled: %v, want an error that is not store.ErrUnavailable", c.name, err)
		}
	}
	before.check(t, "after calls that failed", w.snapshot(t, s))
}

// firstLiveToken names an unrevoked token of the world.
func firstLiveToken(w *world) string {
	for name, tok := range w.tokens {
		if tok.RevokedAt.IsZero() {
			return name
		}
	}
	return ""
}
