package storetest

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var issueTests = []test{
	{"WithSecret", testIssueWithSecret},
	{"WithoutSecret", testIssueWithoutSecret},
	{"SecretUses", testIssueSecretUses},
	{"SecretUnlimited", testIssueSecretUnlimited},
	{"SecretUsedUp", testIssueSecretUsedUp},
	{"SecretRevoked", testIssueSecretRevoked},
	{"TokenRefused", testIssueTokenRefused},
}

// loginWrite is a login of m with secret secretID (or none) at sec.
func loginWrite(m store.AuthMethod, secretID string, sec int) store.TokenIssue {
	ev := newAuditEvent(sec)
	ev.IdentityID = m.IdentityID
	return store.TokenIssue{ClientSecretID: secretID, Token: newAccessToken(m, secretID, at(sec)), Event: ev}
}

// issued checks what IssueAccessToken left: the token and the event
// stored as given, or neither; and the secret's use count.
func issued(t *testing.T, s store.Store, w store.TokenIssue, written bool, uses int64) {
	t.Helper()
	ctx := t.Context()
	got, err := s.GetAccessToken(ctx, w.Token.ID)
	events, _, lerr := s.ListAuditEvents(ctx, 0, 0)
	must(t, lerr)
	found := false
	for _, e := range events {
		if e.ID == w.Event.ID {
			found = true
			checkEqual(t, "the login's audit event", e, w.Event)
		}
	}
	if written {
		must(t, err)
		checkEqual(t, "the issued token", got, w.Token)
		if !found {
			t.Error("the login's audit event was not written")
		}
	} else {
		wantErr(t, "the token of a refused issue", err, store.ErrNotFound)
		if found {
			t.Error("the audit event of a refused issue was written")
		}
	}
	if w.ClientSecretID != "" {
		cs, err := s.GetClientSecret(ctx, w.ClientSecretID)
		must(t, err)
		if cs.NumUses != uses {
			t.Errorf("client secret NumUses = %d, want %d", cs.NumUses, uses)
		}
	}
}

func testIssueWithSecret(t *testing.T, s store.Store) {
	m := uaMethod(t, s)
	cs := createClientSecret(t, s, newClientSecret(m.ID, at(2)))
	w := loginWrite(m, cs.ID, 10)
	must(t, s.IssueAccessToken(t.Context(), w))
	issued(t, s, w, true, 1)
	got, err := s.GetClientSecret(t.Context(), cs.ID)
	must(t, err)
	if !got.UpdatedAt.Equal(at(10)) {
		t.Errorf("client secret UpdatedAt = %v, want the token's creation %v", got.UpdatedAt, at(10))
	}
}

func testIssueWithoutSecret(t *testing.T, s store.Store) {
	id := createIdentity(t, s, newIdentity(at(0)))
	m := createAuthMethod(t, s, newAuthMethod(id.ID, store.AuthMethodKubernetes, at(1)))
	w := loginWrite(m, "", 10)
	must(t, s.IssueAccessToken(t.Context(), w))
	issued(t, s, w, true, 0)
}

func testIssueSecretUsedUp(t *testing.T, s store.Store) {
	m := uaMethod(t, s)
	cs := newClientSecret(m.ID, at(2))
	cs.NumUsesLimit = 1
	createClientSecret(t, s, cs)
	first := loginWrite(m, cs.ID, 10)
	must(t, s.IssueAccessToken(t.Context(), first))
	second := loginWrite(m, cs.ID, 11)
	wantErr(t, "IssueAccessToken with a used-up secret", s.IssueAccessToken(t.Context(), second), store.ErrLimitReached)
	issued(t, s, second, false, 1)
}

func testIssueSecretRevoked(t *testing.T, s store.Store) {
	m := uaMethod(t, s)
	cs := newClientSecret(m.ID, at(2))
	cs.RevokedAt = at(3)
	createClientSecret(t, s, cs)
	w := loginWrite(m, cs.ID, 10)
	wantErr(t, "IssueAccessToken with a revoked secret", s.IssueAccessToken(t.Context(), w), store.ErrNotFound)
	issued(t, s, w, false, 0)
	missing := loginWrite(m, newID(), 11)
	wantErr(t, "IssueAccessToken with an unknown secret", s.IssueAccessToken(t.Context(), missing), store.ErrNotFound)
	missing.ClientSecretID = "" // no secret to read back: only the token and event must be absent
	issued(t, s, missing, false, 0)

	live := createClientSecret(t, s, newClientSecret(m.ID, at(5)))
	_, err := s.RevokeClientSecret(t.Context(), live.ID, at(6))
	must(t, err)
	after := loginWrite(m, live.ID, 12)
	wantErr(t, "IssueAccessToken after RevokeClientSecret", s.IssueAccessToken(t.Context(), after), store.ErrNotFound)
	issued(t, s, after, false, 0)
}

// testIssueTokenRefused: a token the store refuses (its hash is taken)
// leaves no secret use and no audit event behind.
func testIssueTokenRefused(t *testing.T, s store.Store) {
	m := uaMethod(t, s)
	cs := createClientSecret(t, s, newClientSecret(m.ID, at(2)))
	first := loginWrite(m, cs.ID, 10)
	must(t, s.IssueAccessToken(t.Context(), first))
	dup := loginWrite(m, cs.ID, 11)
	dup.Token.Hash = first.Token.Hash
	wantErr(t, "IssueAccessToken with a taken hash", s.IssueAccessToken(t.Context(), dup), store.ErrAlreadyExists)
	issued(t, s, dup, false, 1)
}

// testIssueSecretUses: each login counts one use of its secret, up to the
// limit, and changes nothing else of it but UpdatedAt.
func testIssueSecretUses(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uaMethod(t, s)
	cs := newClientSecret(m.ID, at(2))
	cs.NumUsesLimit = 3
	createClientSecret(t, s, cs)
	for i := 1; i <= 3; i++ {
		must(t, s.IssueAccessToken(ctx, loginWrite(m, cs.ID, 10+i)))
		got, err := s.GetClientSecret(ctx, cs.ID)
		must(t, err)
		want := cs
		want.NumUses, want.UpdatedAt = int64(i), at(10+i)
		checkEqual(t, "the secret after a login", got, want)
	}
	w := loginWrite(m, cs.ID, 20)
	wantErr(t, "IssueAccessToken at the limit", s.IssueAccessToken(ctx, w), store.ErrLimitReached)
	issued(t, s, w, false, 3)
}

func testIssueSecretUnlimited(t *testing.T, s store.Store) {
	m := uaMethod(t, s)
	cs := createClientSecret(t, s, newClientSecret(m.ID, at(2)))
	for i := range 25 {
		must(t, s.IssueAccessToken(t.Context(), loginWrite(m, cs.ID, 10+i)))
	}
	got, err := s.GetClientSecret(t.Context(), cs.ID)
	must(t, err)
	if got.NumUses != 25 {
		t.Errorf("NumUses = %d after 25 logins, want 25", got.NumUses)
	}
}
