package storetest

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// testListAccessTokens: an identity's live tokens at now, newest first,
// paged, counted, never another identity's, never revoked or expired ones,
// never the hash; the limit is capped.
func testListAccessTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	other := uaMethod(t, s)
	now := at(100)
	t1 := createAccessToken(t, s, newAccessToken(m, "", at(10)))
	t2 := createAccessToken(t, s, newAccessToken(m, "", at(20)))
	t3 := newAccessToken(m, "", at(30))
	t3.ExpiresAt, t3.NumUses, t3.NumUsesLimit = at(101), 2, 5
	createAccessToken(t, s, t3)
	revoked := newAccessToken(m, "", at(40))
	revoked.RevokedAt = at(41)
	createAccessToken(t, s, revoked)
	expired := newAccessToken(m, "", at(5))
	expired.ExpiresAt = now // expired at now exactly
	createAccessToken(t, s, expired)
	createAccessToken(t, s, newAccessToken(other, "", at(50)))

	noHash := func(ts ...store.AccessToken) []store.AccessToken {
		out := []store.AccessToken{}
		for _, tk := range ts {
			tk.Hash = nil
			out = append(out, tk)
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		offset, limit int
		want          []store.AccessToken
	}{
		{"all", 0, 10, noHash(t3, t2, t1)},
		{"no limit", 0, 0, noHash(t3, t2, t1)},
		{"page", 1, 1, noHash(t2)},
		{"past the end", 5, 10, noHash()},
		{"negative offset", -3, 2, noHash(t3, t2)},
	} {
		got, total, err := s.ListAccessTokens(ctx, m.IdentityID, now, tc.offset, tc.limit)
		must(t, err)
		if total != 3 {
			t.Errorf("%s: total %d, want 3", tc.name, total)
		}
		if got == nil {
			t.Errorf("%s: nil slice", tc.name)
		}
		checkEqual(t, "ListAccessTokens "+tc.name, got, tc.want)
	}

	got, total, err := s.ListAccessTokens(ctx, "no-such-identity", now, 0, 10)
	must(t, err)
	if len(got) != 0 || total != 0 || got == nil {
		t.Errorf("unknown identity: %v %d", got, total)
	}

	// The cap: a limit over it gets MaxTokenListLimit tokens.
	many := uaMethod(t, s)
	for i := 0; i < store.MaxTokenListLimit+1; i++ {
		createAccessToken(t, s, newAccessToken(many, "", at(10+i)))
	}
	got, total, err = s.ListAccessTokens(ctx, many.IdentityID, now, 0, 10*store.MaxTokenListLimit)
	must(t, err)
	if len(got) != store.MaxTokenListLimit || total != store.MaxTokenListLimit+1 {
		t.Errorf("over the cap: %d tokens of %d", len(got), total)
	}
}
