package storetest

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var issueTests = []test{
	{"WithSecret", testIssueWithSecret},
	{"WithoutSecret", testIssueWithoutSecret},
	{"SecretUsedUp", testIssueSecretUsedUp},
	{"SecretRevoked", testIssueSecretRevoked},
	{"TokenRefused", testIssueTokenRefused},
	{"Concurrent", testIssueConcurrent},
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

// testIssueConcurrent: concurrent logins on a secret limited to 10 uses
// issue exactly 10 tokens; the others are refused with nothing written.
func testIssueConcurrent(t *testing.T, s store.Store) {
	m := uaMethod(t, s)
	cs := newClientSecret(m.ID, at(2))
	cs.NumUsesLimit = 10
	createClientSecret(t, s, cs)
	const n = 50
	ws := make([]store.TokenIssue, n)
	for i := range ws {
		ws[i] = loginWrite(m, cs.ID, 100+i)
	}
	errs := concurrently(n, func(i int) error { return s.IssueAccessToken(t.Context(), ws[i]) })
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			issued(t, s, ws[i], true, 10)
		case isErr(err, store.ErrLimitReached):
			issued(t, s, ws[i], false, 10)
		default:
			t.Errorf("login %d: %v", i, err)
		}
	}
	if ok != 10 {
		t.Errorf("%d logins issued a token on a secret limited to 10 uses", ok)
	}
}
