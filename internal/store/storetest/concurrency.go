package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var concurrencyTests = []test{
	{"UpdateIdentity", testConcurrentUpdateIdentity},
	{"UpdateAuthMethod", testConcurrentUpdateAuthMethod},
	{"UseAccessTokenLimited", testConcurrentUseLimited},
	{"UseAccessTokenUnlimited", testConcurrentUseUnlimited},
	{"UseAccessTokenWhileRevoking", testConcurrentUseWhileRevoking},
	{"IssueAccessTokenLimitedSecret", testConcurrentIssueLimited},
	{"IssueAccessTokenUnlimitedSecret", testConcurrentIssueUnlimited},
	{"CreateIdentitySameID", testConcurrentCreateIdentity},
	{"CreateAuthMethodSameLookupKey", testConcurrentCreateLookupKey},
	{"CreateAuthMethodSameType", testConcurrentCreateSameType},
	{"CreateAccessTokensSomeDuplicate", testConcurrentCreateAccessTokens},
	{"AppendAuditEvents", testConcurrentAppendAuditEvents},
}

// testConcurrentUpdateIdentity: 20 updaters each append one metadata entry;
// none may be lost.
func testConcurrentUpdateIdentity(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := createIdentity(t, s, newIdentity(at(0)))
	const n = 20
	errs := concurrently(n, func(i int) error {
		_, err := s.UpdateIdentity(ctx, orig.ID, func(cur *store.Identity) error {
			cur.Metadata = append(cur.Metadata, store.MetadataEntry{Key: fmt.Sprintf("k%d", i), Value: "v"})
			return nil
		})
		return err
	})
	for _, err := range errs {
		must(t, err)
	}
	got, err := s.GetIdentity(ctx, orig.ID)
	must(t, err)
	if len(got.Metadata) != len(orig.Metadata)+n {
		t.Fatalf("%d metadata entries after %d concurrent appends to %d, want %d: %v",
			len(got.Metadata), n, len(orig.Metadata), len(orig.Metadata)+n, got.Metadata)
	}
	checkEqual(t, "original entries", got.Metadata[:len(orig.Metadata)], orig.Metadata)
	for i := range n {
		if !slices.Contains(got.Metadata, store.MetadataEntry{Key: fmt.Sprintf("k%d", i), Value: "v"}) {
			t.Errorf("entry k%d lost", i)
		}
	}
}

// testConcurrentUpdateAuthMethod: 20 updaters each append one trusted IP.
func testConcurrentUpdateAuthMethod(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	const n = 20
	errs := concurrently(n, func(i int) error {
		_, err := s.UpdateAuthMethod(ctx, m.ID, func(cur *store.AuthMethod) error {
			cur.TokenPolicy.TrustedIPs = append(cur.TokenPolicy.TrustedIPs, fmt.Sprintf("10.0.%d.0/24", i))
			return nil
		})
		return err
	})
	for _, err := range errs {
		must(t, err)
	}
	got, err := s.GetAuthMethod(ctx, m.ID)
	must(t, err)
	ips := got.TokenPolicy.TrustedIPs
	if len(ips) != len(m.TokenPolicy.TrustedIPs)+n {
		t.Fatalf("%d trusted IPs after %d concurrent appends, want %d: %v", len(ips), n, len(m.TokenPolicy.TrustedIPs)+n, ips)
	}
	for i := range n {
		if !slices.Contains(ips, fmt.Sprintf("10.0.%d.0/24", i)) {
			t.Errorf("trusted IP 10.0.%d.0/24 lost", i)
		}
	}
}

// countUses checks the outcome of n concurrent uses of a counter with the
// given limit (0 = unlimited): exactly min(n, limit) succeed, returning
// the distinct counts 1..that, and the rest say ErrLimitReached.
func countUses(t *testing.T, n int, limit int64, counts []int64, errs []error) {
	t.Helper()
	want := n
	if limit > 0 {
		want = min(n, int(limit))
	}
	var ok []int64
	for i, err := range errs {
		switch {
		case err == nil:
			ok = append(ok, counts[i])
		case errors.Is(err, store.ErrLimitReached):
		default:
			t.Errorf("use %d: unexpected error %v", i, err)
		}
	}
	if len(ok) != want {
		t.Errorf("%d of %d concurrent uses succeeded with limit %d, want %d", len(ok), n, limit, want)
	}
	slices.Sort(ok)
	for i, c := range ok {
		if c != int64(i+1) {
			t.Errorf("successful uses returned counts %v, want 1..%d each once", ok, len(ok))
			break
		}
	}
}

func testConcurrentUseLimited(t *testing.T, s store.Store) {
	concurrentUse(t, s, 100, 10)
}

func testConcurrentUseUnlimited(t *testing.T, s store.Store) {
	concurrentUse(t, s, 100, 0)
}

func concurrentUse(t *testing.T, s store.Store, n int, limit int64) {
	ctx := t.Context()
	tk := kubeToken(t, s, limit)
	counts := make([]int64, n)
	errs := concurrently(n, func(i int) error {
		got, err := s.UseAccessToken(ctx, tk.ID, at(100+i))
		counts[i] = got.NumUses
		return err
	})
	countUses(t, n, limit, counts, errs)
	got, err := s.GetAccessToken(ctx, tk.ID)
	must(t, err)
	want := int64(n)
	if limit > 0 {
		want = min(want, limit)
	}
	if got.NumUses != want {
		t.Errorf("NumUses = %d after %d concurrent uses with limit %d, want %d", got.NumUses, n, limit, want)
	}
}

func testConcurrentIssueLimited(t *testing.T, s store.Store) {
	concurrentIssue(t, s, 50, 10)
}

func testConcurrentIssueUnlimited(t *testing.T, s store.Store) {
	concurrentIssue(t, s, 50, 0)
}

// concurrentIssue: n concurrent logins with one secret of the given limit
// (0 = unlimited) issue exactly min(n, limit) tokens, each with its secret
// use and its event; the others are refused with nothing written.
func concurrentIssue(t *testing.T, s store.Store, n int, limit int64) {
	m := uaMethod(t, s)
	cs := newClientSecret(m.ID, at(2))
	cs.NumUsesLimit = limit
	createClientSecret(t, s, cs)
	ws := make([]store.TokenIssue, n)
	for i := range ws {
		ws[i] = loginWrite(m, cs.ID, 100+i)
	}
	errs := concurrently(n, func(i int) error { return s.IssueAccessToken(t.Context(), ws[i]) })
	want := int64(n)
	if limit > 0 {
		want = min(want, limit)
	}
	var ok int64
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			issued(t, s, ws[i], true, want)
		case isErr(err, store.ErrLimitReached):
			issued(t, s, ws[i], false, want)
		default:
			t.Errorf("login %d: %v", i, err)
		}
	}
	if ok != want {
		t.Errorf("%d of %d concurrent logins issued a token with limit %d, want %d", ok, n, limit, want)
	}
}

// testConcurrentUseWhileRevoking: uses racing a revocation either succeed
// or say ErrNotFound, and the counter matches the successes exactly.
func testConcurrentUseWhileRevoking(t *testing.T, s store.Store) {
	ctx := t.Context()
	tk := kubeToken(t, s, 0)
	const n = 50
	errs := concurrently(n+1, func(i int) error {
		if i == n/2 {
			_, err := s.RevokeAccessTokens(ctx, store.TokenFilter{ID: tk.ID}, at(500))
			return err
		}
		_, err := s.UseAccessToken(ctx, tk.ID, at(100+i))
		return err
	})
	var succeeded int64
	for i, err := range errs {
		switch {
		case err == nil:
			if i != n/2 {
				succeeded++
			}
		case i == n/2:
			t.Errorf("RevokeAccessTokens: %v", err)
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("use %d: got error %v, want nil or ErrNotFound", i, err)
		}
	}
	got, err := s.GetAccessToken(ctx, tk.ID)
	must(t, err)
	if got.NumUses != succeeded {
		t.Errorf("NumUses = %d, but %d uses succeeded", got.NumUses, succeeded)
	}
	if !got.RevokedAt.Equal(at(500)) {
		t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, at(500))
	}
	_, err = s.UseAccessToken(ctx, tk.ID, at(1000))
	wantErr(t, "UseAccessToken after the race", err, store.ErrNotFound)
}

// exactlyOne checks that one of errs is nil and every other is
// ErrAlreadyExists.
func exactlyOne(t *testing.T, what string, errs []error) {
	t.Helper()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrAlreadyExists):
			t.Errorf("%s %d: got error %v, want nil or ErrAlreadyExists", what, i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent %ss succeeded, want exactly 1", won, what)
	}
}

func testConcurrentCreateIdentity(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := newID()
	const n = 20
	errs := concurrently(n, func(i int) error {
		ident := newIdentity(at(i))
		ident.ID = id
		ident.Name = fmt.Sprintf("racer-%d", i)
		return s.CreateIdentity(ctx, ident)
	})
	exactlyOne(t, "CreateIdentity", errs)
	got, err := s.GetIdentity(ctx, id)
	must(t, err)
	if winner := slices.IndexFunc(errs, func(err error) bool { return err == nil }); winner >= 0 &&
		got.Name != fmt.Sprintf("racer-%d", winner) {
		t.Errorf("stored identity is %q, but racer-%d won", got.Name, winner)
	}
}

func testConcurrentCreateLookupKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 20
	ids := make([]store.Identity, n)
	for i := range n {
		ids[i] = createIdentity(t, s, newIdentity(at(i)))
	}
	key := newID()
	methods := make([]store.AuthMethod, n)
	errs := concurrently(n, func(i int) error {
		methods[i] = newAuthMethod(ids[i].ID, store.AuthMethodUniversal, at(100))
		methods[i].LookupKey = key
		return s.CreateAuthMethod(ctx, methods[i])
	})
	exactlyOne(t, "CreateAuthMethod", errs)
	got, err := s.GetAuthMethodByLookupKey(ctx, store.AuthMethodUniversal, key)
	must(t, err)
	if winner := slices.IndexFunc(errs, func(err error) bool { return err == nil }); winner >= 0 {
		checkEqual(t, "method holding the key", got, methods[winner])
	}
}

func testConcurrentCreateSameType(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := createIdentity(t, s, newIdentity(at(0)))
	const n = 20
	errs := concurrently(n, func(i int) error {
		return s.CreateAuthMethod(ctx, newAuthMethod(id.ID, store.AuthMethodKubernetes, at(i)))
	})
	exactlyOne(t, "CreateAuthMethod", errs)
	got, err := s.ListAuthMethods(ctx, id.ID)
	must(t, err)
	if len(got) != 1 {
		t.Errorf("identity has %d methods after racing creates of one type, want 1", len(got))
	}
}

// testConcurrentCreateAccessTokens: 64 concurrent creates, where every
// fourth reuses the hash of the one before it. Of each such pair exactly
// one is stored and the other fails alone with ErrAlreadyExists; every
// other token is stored as given (a backend that commits concurrent inserts
// together must not let one's failure touch the others).
func testConcurrentCreateAccessTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	const n = 64
	toks := make([]store.AccessToken, n)
	for i := range toks {
		toks[i] = newAccessToken(m, "", at(i))
		if i%4 == 3 {
			toks[i].Hash = toks[i-1].Hash
		}
	}
	errs := concurrently(n, func(i int) error { return s.CreateAccessToken(ctx, toks[i]) })
	stored := func(i int) {
		t.Helper()
		got, err := s.GetAccessToken(ctx, toks[i].ID)
		must(t, err)
		checkEqual(t, fmt.Sprintf("token %d", i), got, toks[i])
	}
	for i := 0; i < n; i += 4 {
		for _, j := range []int{i, i + 1} {
			if errs[j] != nil {
				t.Errorf("token %d: %v", j, errs[j])
				continue
			}
			stored(j)
		}
		exactlyOne(t, fmt.Sprintf("CreateAccessToken of tokens %d and %d (same hash)", i+2, i+3), errs[i+2:i+4])
		for _, j := range []int{i + 2, i + 3} {
			if errs[j] == nil {
				stored(j)
			} else {
				_, err := s.GetAccessToken(ctx, toks[j].ID)
				wantErr(t, fmt.Sprintf("token %d, refused", j), err, store.ErrNotFound)
			}
		}
	}
}

// testConcurrentAppendAuditEvents: 64 concurrent appends are all stored.
func testConcurrentAppendAuditEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 64
	errs := concurrently(n, func(i int) error { return s.AppendAuditEvent(ctx, newAuditEvent(i)) })
	for i, err := range errs {
		if err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
	_, total, err := s.ListAuditEvents(ctx, 0, 1)
	must(t, err)
	if total != n {
		t.Errorf("%d events stored, want %d", total, n)
	}
}
