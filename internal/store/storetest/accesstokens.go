package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var accessTokenTests = []test{
	{"RoundTrip", testAccessTokenRoundTrip},
	{"Check", testAccessTokenCheck},
	{"CheckOrphaned", testAccessTokenCheckOrphaned},
	{"Use", testAccessTokenUse},
	{"UseUnlimited", testAccessTokenUseUnlimited},
	{"UseRevoked", testAccessTokenUseRevoked},
	{"Renew", testAccessTokenRenew},
	{"RenewRevoked", testAccessTokenRenewRevoked},
	{"Revoke", testAccessTokenRevoke},
	{"RevokeEmptyFilter", testAccessTokenRevokeEmptyFilter},
	{"RevokeRootTokens", testRevokeRootTokens},
	{"Purge", testAccessTokenPurge},
	{"ListAccessTokens", testListAccessTokens},
}

func testAccessTokenRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	cs := createClientSecret(t, s, newClientSecret(m.ID, at(2)))

	full := newAccessToken(m, cs.ID, at(10))
	full.LastRenewedAt = at(20)
	full.TTL, full.MaxTTL, full.Period = 30, 40, 50
	full.ExpiresAt = at(70)
	full.NumUses, full.NumUsesLimit = 4, 9
	full.Metadata = map[string]string{"a": "1", "ünï": "cödé", "empty": ""}
	full.LastUsedAt = at(25)
	full.RevokedAt = at(26)

	root := newRootToken(at(11)) // no identity, nil metadata, never expires

	for _, tk := range []store.AccessToken{full, root} {
		createAccessToken(t, s, tk)
		got, err := s.GetAccessToken(ctx, tk.ID)
		must(t, err)
		checkEqual(t, "GetAccessToken", got, tk)
		got, err = s.GetAccessTokenByHash(ctx, tk.Hash)
		must(t, err)
		checkEqual(t, "GetAccessTokenByHash", got, tk)
	}
}

// testAccessTokenCheck: GetTokenCheck returns the token as stored, revoked
// or not, with its method's current trusted IPs and its identity's current
// role, and sees changes to either at once.
func testAccessTokenCheck(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	cs := createClientSecret(t, s, newClientSecret(m.ID, at(2)))
	live := createAccessToken(t, s, newAccessToken(m, cs.ID, at(10)))
	revoked := newAccessToken(m, cs.ID, at(11))
	revoked.NumUses, revoked.NumUsesLimit = 2, 3
	revoked.RevokedAt = at(12)
	createAccessToken(t, s, revoked)

	for _, tk := range []store.AccessToken{live, revoked} {
		got, err := s.GetTokenCheck(ctx, tk.Hash)
		must(t, err)
		checkEqual(t, "GetTokenCheck", got, store.TokenCheck{
			Token: tk, AuthMethodFound: true, TrustedIPs: m.TokenPolicy.TrustedIPs, IdentityRole: store.RoleMember,
		})
	}

	for _, ips := range [][]string{{"10.0.0.0/8", "2001:db8::1/128"}, nil} {
		_, err := s.UpdateAuthMethod(ctx, m.ID, func(m *store.AuthMethod) error {
			m.TokenPolicy.TrustedIPs = ips
			return nil
		})
		must(t, err)
		_, err = s.UpdateIdentity(ctx, m.IdentityID, func(id *store.Identity) error {
			id.Role = store.RoleNoAccess
			return nil
		})
		must(t, err)
		if ips == nil {
			ips = []string{} // never nil when read back
		}
		got, err := s.GetTokenCheck(ctx, live.Hash)
		must(t, err)
		checkEqual(t, "GetTokenCheck after updates", got, store.TokenCheck{
			Token: live, AuthMethodFound: true, TrustedIPs: ips, IdentityRole: store.RoleNoAccess,
		})
	}
}

// testAccessTokenCheckOrphaned: a root token has neither method nor
// identity, and a token outlives (revoked) its deleted method and identity;
// GetTokenCheck says so instead of failing.
func testAccessTokenCheckOrphaned(t *testing.T, s store.Store) {
	ctx := t.Context()
	check := func(what string, tk store.AccessToken, methodFound bool, role store.Role) {
		t.Helper()
		got, err := s.GetTokenCheck(ctx, tk.Hash)
		must(t, err)
		checkEqual(t, what+": token", got.Token, tk)
		if got.AuthMethodFound != methodFound || got.IdentityRole != role {
			t.Errorf("%s: AuthMethodFound %v, IdentityRole %q; want %v, %q", what, got.AuthMethodFound, got.IdentityRole, methodFound, role)
		}
		if methodFound == (got.TrustedIPs == nil) {
			t.Errorf("%s: TrustedIPs %#v with AuthMethodFound %v", what, got.TrustedIPs, methodFound)
		}
	}

	check("root token", createAccessToken(t, s, newRootToken(at(1))), false, "")

	tk := kubeToken(t, s, 0)
	check("live token", tk, true, store.RoleMember)
	must(t, s.DeleteAuthMethod(ctx, tk.AuthMethodID, at(5)))
	tk.RevokedAt = at(5)
	check("method deleted", tk, false, store.RoleMember)
	must(t, s.DeleteIdentity(ctx, tk.IdentityID, at(6)))
	check("identity deleted", tk, false, "")
}

// kubeToken creates an identity, a Kubernetes method and a token of it with
// the given use limit.
func kubeToken(t *testing.T, s store.Store, limit int64) store.AccessToken {
	t.Helper()
	id := createIdentity(t, s, newIdentity(at(0)))
	m := createAuthMethod(t, s, newAuthMethod(id.ID, store.AuthMethodKubernetes, at(1)))
	tk := newAccessToken(m, "", at(2))
	tk.NumUsesLimit = limit
	return createAccessToken(t, s, tk)
}

func testAccessTokenUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	tk := kubeToken(t, s, 3)
	want := tk
	for i := int64(1); i <= 3; i++ {
		now := at(100 + int(i))
		got, err := s.UseAccessToken(ctx, tk.ID, now)
		must(t, err)
		want.NumUses, want.LastUsedAt = i, now
		checkEqual(t, "UseAccessToken result", got, want)
		read, err := s.GetAccessToken(ctx, tk.ID)
		must(t, err)
		checkEqual(t, "GetAccessToken after use", read, want)
	}
	_, err := s.UseAccessToken(ctx, tk.ID, at(200))
	wantErr(t, "UseAccessToken at the limit", err, store.ErrLimitReached)
	read, err := s.GetAccessToken(ctx, tk.ID)
	must(t, err)
	checkEqual(t, "GetAccessToken after a refused use", read, want)
}

func testAccessTokenUseUnlimited(t *testing.T, s store.Store) {
	ctx := t.Context()
	tk := kubeToken(t, s, 0)
	root := createAccessToken(t, s, newRootToken(at(3)))
	for _, tk := range []store.AccessToken{tk, root} {
		want := tk
		for i := int64(1); i <= 25; i++ {
			now := at(100 + int(i))
			got, err := s.UseAccessToken(ctx, tk.ID, now)
			must(t, err)
			want.NumUses, want.LastUsedAt = i, now
			checkEqual(t, "UseAccessToken result", got, want)
		}
	}
}

func testAccessTokenUseRevoked(t *testing.T, s store.Store) {
	ctx := t.Context()
	tk := kubeToken(t, s, 0)
	n, err := s.RevokeAccessTokens(ctx, store.TokenFilter{ID: tk.ID}, at(10))
	must(t, err)
	if n != 1 {
		t.Fatalf("RevokeAccessTokens = %d, want 1", n)
	}
	_, err = s.UseAccessToken(ctx, tk.ID, at(11))
	wantErr(t, "UseAccessToken of a revoked token", err, store.ErrNotFound)
	got, err := s.GetAccessToken(ctx, tk.ID)
	must(t, err)
	want := tk
	want.RevokedAt = at(10)
	checkEqual(t, "GetAccessToken after a refused use", got, want)
}

func testAccessTokenRenew(t *testing.T, s store.Store) {
	ctx := t.Context()
	tk := kubeToken(t, s, 0)
	want := tk
	want.LastRenewedAt, want.ExpiresAt = at(500), at(4100)
	got, err := s.RenewAccessToken(ctx, tk.ID, want.LastRenewedAt, want.ExpiresAt)
	must(t, err)
	checkEqual(t, "RenewAccessToken result", got, want)
	read, err := s.GetAccessToken(ctx, tk.ID)
	must(t, err)
	checkEqual(t, "GetAccessToken after renew", read, want)
}

func testAccessTokenRenewRevoked(t *testing.T, s store.Store) {
	ctx := t.Context()
	tk := kubeToken(t, s, 0)
	_, err := s.RevokeAccessTokens(ctx, store.TokenFilter{ID: tk.ID}, at(10))
	must(t, err)
	_, err = s.RenewAccessToken(ctx, tk.ID, at(11), at(3611))
	wantErr(t, "RenewAccessToken of a revoked token", err, store.ErrNotFound)
	got, err := s.GetAccessToken(ctx, tk.ID)
	must(t, err)
	want := tk
	want.RevokedAt = at(10)
	checkEqual(t, "GetAccessToken after a refused renew", got, want)
}

// testAccessTokenRevoke revokes by each field of TokenFilter, each case in
// a world of its own (all in one store).
func testAccessTokenRevoke(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name   string
		filter func(w *world) store.TokenFilter
		want   []string // tokens that get revoked
	}{
		{"ID", func(w *world) store.TokenFilter { return store.TokenFilter{ID: w.tokens["aUA1"].ID} }, []string{"aUA1"}},
		{"IDAlreadyRevoked", func(w *world) store.TokenFilter { return store.TokenFilter{ID: w.tokens["aKubeRevoked"].ID} }, nil},
		{"IDRoot", func(w *world) store.TokenFilter { return store.TokenFilter{ID: w.tokens["root"].ID} }, []string{"root"}},
		{"IdentityID", func(w *world) store.TokenFilter { return store.TokenFilter{IdentityID: w.identities["a"].ID} },
			[]string{"aKube", "aUA1", "aUA1b", "aUA2", "aUANoSecret"}},
		{"AuthMethodID", func(w *world) store.TokenFilter { return store.TokenFilter{AuthMethodID: w.methods["aUA"].ID} },
			[]string{"aUA1", "aUA1b", "aUA2", "aUANoSecret"}},
		{"ClientSecretID", func(w *world) store.TokenFilter { return store.TokenFilter{ClientSecretID: w.secrets["aSecret1"].ID} },
			[]string{"aUA1", "aUA1b"}},
		{"NoMatch", func(w *world) store.TokenFilter { return store.TokenFilter{IdentityID: newID()} }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			w := buildWorld(t, s)
			before := w.snapshot(t, s)
			now := at(1000)
			n, err := s.RevokeAccessTokens(ctx, tc.filter(w), now)
			must(t, err)
			if n != int64(len(tc.want)) {
				t.Errorf("RevokeAccessTokens = %d, want %d", n, len(tc.want))
			}
			want := before.clone()
			want.tokensRevoked(now, tc.want...)
			after := w.snapshot(t, s)
			want.check(t, "after RevokeAccessTokens", after)

			// Again, later: nothing left to revoke, and the first
			// revocation time stays.
			n, err = s.RevokeAccessTokens(ctx, tc.filter(w), at(2000))
			must(t, err)
			if n != 0 {
				t.Errorf("RevokeAccessTokens again = %d, want 0", n)
			}
			want.check(t, "after RevokeAccessTokens again", w.snapshot(t, s))
		})
	}
}

func testAccessTokenRevokeEmptyFilter(t *testing.T, s store.Store) {
	w := buildWorld(t, s)
	before := w.snapshot(t, s)
	n, err := s.RevokeAccessTokens(t.Context(), store.TokenFilter{}, at(1000))
	if err == nil {
		t.Errorf("RevokeAccessTokens with an empty filter revoked %d tokens and gave no error; want an error", n)
	}
	before.check(t, "after RevokeAccessTokens with an empty filter", w.snapshot(t, s))
}

func testAccessTokenPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := createIdentity(t, s, newIdentity(at(0)))
	m := createAuthMethod(t, s, newAuthMethod(id.ID, store.AuthMethodKubernetes, at(1)))
	cutoff := at(10000)
	before, after := cutoff.Add(-time.Microsecond), cutoff.Add(time.Hour)

	tok := func(expires, revoked time.Time) store.AccessToken {
		tk := newAccessToken(m, "", at(2))
		tk.ExpiresAt, tk.RevokedAt = expires, revoked
		return createAccessToken(t, s, tk)
	}
	root := func(revoked time.Time) store.AccessToken {
		tk := newRootToken(at(3))
		tk.RevokedAt = revoked
		return createAccessToken(t, s, tk)
	}
	purged := []store.AccessToken{
		tok(before, time.Time{}), // expired before the cutoff
		tok(after, before),       // revoked before the cutoff, not expired
		tok(before, before),      // both
		tok(before, after),       // expired before, revoked after
		root(before),             // revoked root token
	}
	kept := []store.AccessToken{
		tok(after, time.Time{}),  // live
		tok(cutoff, time.Time{}), // expires exactly at the cutoff: not before it
		tok(after, cutoff),       // revoked exactly at the cutoff
		tok(after, after),        // revoked after the cutoff
		root(time.Time{}),        // live root token: never expires
		root(after),              // root revoked after the cutoff
	}
	n, err := s.PurgeAccessTokens(ctx, cutoff)
	must(t, err)
	if n != int64(len(purged)) {
		t.Errorf("PurgeAccessTokens = %d, want %d", n, len(purged))
	}
	for i, tk := range purged {
		_, err := s.GetAccessToken(ctx, tk.ID)
		wantErr(t, fmt.Sprintf("GetAccessToken of purged token %d", i), err, store.ErrNotFound)
		_, err = s.GetAccessTokenByHash(ctx, tk.Hash)
		wantErr(t, "GetAccessTokenByHash of a purged token", err, store.ErrNotFound)
	}
	for _, tk := range kept {
		got, err := s.GetAccessToken(ctx, tk.ID)
		must(t, err)
		checkEqual(t, "kept token", got, tk)
	}
	n, err = s.PurgeAccessTokens(ctx, cutoff)
	must(t, err)
	if n != 0 {
		t.Errorf("PurgeAccessTokens again = %d, want 0", n)
	}
}

// testRevokeRootTokens: every unrevoked root token but the one kept is
// revoked; other tokens and revocation times already set are untouched.
func testRevokeRootTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	keep := createAccessToken(t, s, newRootToken(at(1)))
	old1 := createAccessToken(t, s, newRootToken(at(2)))
	old2 := createAccessToken(t, s, newRootToken(at(3)))
	gone := newRootToken(at(4))
	gone.RevokedAt = at(5)
	createAccessToken(t, s, gone)
	other := createAccessToken(t, s, newAccessToken(m, "", at(6)))

	n, err := s.RevokeRootTokens(ctx, keep.ID, at(10))
	must(t, err)
	if n != 2 {
		t.Errorf("RevokeRootTokens = %d, want 2", n)
	}
	for _, c := range []struct {
		tok  store.AccessToken
		want time.Time
	}{{keep, time.Time{}}, {old1, at(10)}, {old2, at(10)}, {gone, at(5)}, {other, time.Time{}}} {
		got, err := s.GetAccessToken(ctx, c.tok.ID)
		must(t, err)
		if !got.RevokedAt.Equal(c.want) {
			t.Errorf("token created at %v: RevokedAt = %v, want %v", c.tok.CreatedAt, got.RevokedAt, c.want)
		}
	}
	if n, err := s.RevokeRootTokens(ctx, keep.ID, at(11)); err != nil || n != 0 {
		t.Errorf("second RevokeRootTokens = %d, %v; want 0, nil", n, err)
	}
}
