package storetest

import (
	"context"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var notFoundTests = []test{
	{"Everywhere", testNotFound},
}

var uniquenessTests = []test{
	{"Everywhere", testUniqueness},
}

// testNotFound calls every getter, updater and deleter for something that
// is not there, in a populated store, and checks that each says
// ErrNotFound and that none changes anything.
func testNotFound(t *testing.T, s store.Store) {
	w := buildWorld(t, s)
	before := w.snapshot(t, s)
	orphanMethod := newAuthMethod(newID(), store.AuthMethodUniversal, at(100))
	orphanSecret := newClientSecret(newID(), at(100))
	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"GetMeta", func(ctx context.Context) error { _, err := s.GetMeta(ctx, "unset"); return err }},
		{"GetIdentity", func(ctx context.Context) error { _, err := s.GetIdentity(ctx, newID()); return err }},
		{"UpdateIdentity", func(ctx context.Context) error {
			_, err := s.UpdateIdentity(ctx, newID(), func(*store.Identity) error { return nil })
			return err
		}},
		{"DeleteIdentity", func(ctx context.Context) error { return s.DeleteIdentity(ctx, newID(), at(100)) }},
		{"CreateAuthMethodForMissingIdentity", func(ctx context.Context) error { return s.CreateAuthMethod(ctx, orphanMethod) }},
		{"GetAuthMethod", func(ctx context.Context) error { _, err := s.GetAuthMethod(ctx, newID()); return err }},
		{"GetAuthMethodByIdentityMissingIdentity", func(ctx context.Context) error {
			_, err := s.GetAuthMethodByIdentity(ctx, newID(), store.AuthMethodKubernetes)
			return err
		}},
		{"GetAuthMethodByIdentityMissingType", func(ctx context.Context) error {
			_, err := s.GetAuthMethodByIdentity(ctx, w.identities["b"].ID, store.AuthMethodKubernetes)
			return err
		}},
		{"GetAuthMethodByLookupKey", func(ctx context.Context) error {
			_, err := s.GetAuthMethodByLookupKey(ctx, store.AuthMethodUniversal, newID())
			return err
		}},
		{"GetAuthMethodByLookupKeyWrongType", func(ctx context.Context) error {
			_, err := s.GetAuthMethodByLookupKey(ctx, store.AuthMethodKubernetes, w.methods["aUA"].LookupKey)
			return err
		}},
		{"UpdateAuthMethod", func(ctx context.Context) error {
			_, err := s.UpdateAuthMethod(ctx, newID(), func(*store.AuthMethod) error { return nil })
			return err
		}},
		{"DeleteAuthMethod", func(ctx context.Context) error { return s.DeleteAuthMethod(ctx, newID(), at(100)) }},
		{"CreateClientSecretForMissingMethod", func(ctx context.Context) error { return s.CreateClientSecret(ctx, orphanSecret) }},
		{"GetClientSecret", func(ctx context.Context) error { _, err := s.GetClientSecret(ctx, newID()); return err }},
		{"GetClientSecretByHash", func(ctx context.Context) error { _, err := s.GetClientSecretByHash(ctx, newHash()); return err }},
		{"IssueAccessTokenWithUnknownSecret", func(ctx context.Context) error {
			return s.IssueAccessToken(ctx, store.TokenIssue{ClientSecretID: newID(), Token: newRootToken(at(100)), Event: newAuditEvent(100)})
		}},
		{"RevokeClientSecret", func(ctx context.Context) error { _, err := s.RevokeClientSecret(ctx, newID(), at(100)); return err }},
		{"GetAccessToken", func(ctx context.Context) error { _, err := s.GetAccessToken(ctx, newID()); return err }},
		{"GetAccessTokenByHash", func(ctx context.Context) error { _, err := s.GetAccessTokenByHash(ctx, newHash()); return err }},
		{"GetTokenCheck", func(ctx context.Context) error { _, err := s.GetTokenCheck(ctx, newHash()); return err }},
		{"UseAccessToken", func(ctx context.Context) error { _, err := s.UseAccessToken(ctx, newID(), at(100)); return err }},
		{"RenewAccessToken", func(ctx context.Context) error {
			_, err := s.RenewAccessToken(ctx, newID(), at(100), at(200))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.name, tc.call(t.Context()), store.ErrNotFound)
			before.check(t, "after "+tc.name, w.snapshot(t, s))
		})
	}
	// The refused creates left nothing behind.
	_, err := s.GetAuthMethod(t.Context(), orphanMethod.ID)
	wantErr(t, "GetAuthMethod after a refused create", err, store.ErrNotFound)
	_, err = s.GetAuthMethodByLookupKey(t.Context(), orphanMethod.Type, orphanMethod.LookupKey)
	wantErr(t, "GetAuthMethodByLookupKey after a refused create", err, store.ErrNotFound)
	_, err = s.GetClientSecret(t.Context(), orphanSecret.ID)
	wantErr(t, "GetClientSecret after a refused create", err, store.ErrNotFound)
}

// testUniqueness breaks every uniqueness rule once, in a populated store,
// and checks that each create says ErrAlreadyExists, leaves nothing behind
// and changes nothing.
func testUniqueness(t *testing.T, s store.Store) {
	w := buildWorld(t, s)
	before := w.snapshot(t, s)
	_, identities, err := s.ListIdentities(t.Context(), 0, 1)
	must(t, err)
	a, b, c := w.identities["a"], w.identities["b"], w.identities["c"]
	for _, tc := range []struct {
		name   string
		create func(ctx context.Context) error
		// absent, if set, looks up the refused object by a key of its own
		// and must say ErrNotFound.
		absent func(ctx context.Context) error
	}{
		{name: "IdentityID", create: func(ctx context.Context) error {
			id := newIdentity(at(100))
			id.ID = a.ID
			return s.CreateIdentity(ctx, id)
		}},
		{name: "AuthMethodID", create: func(ctx context.Context) error {
			m := newAuthMethod(c.ID, store.AuthMethodKubernetes, at(100))
			m.ID = w.methods["aKube"].ID
			return s.CreateAuthMethod(ctx, m)
		}, absent: func(ctx context.Context) error {
			_, err := s.GetAuthMethodByIdentity(ctx, c.ID, store.AuthMethodKubernetes)
			return err
		}},
		{name: "AuthMethodTypePerIdentity", create: func(ctx context.Context) error {
			return s.CreateAuthMethod(ctx, newAuthMethod(a.ID, store.AuthMethodKubernetes, at(100)))
		}},
		{name: "AuthMethodTypePerIdentityNoLookupKey", create: func(ctx context.Context) error {
			m := newAuthMethod(b.ID, store.AuthMethodUniversal, at(100))
			m.LookupKey = ""
			return s.CreateAuthMethod(ctx, m)
		}},
		{name: "LookupKey", create: func(ctx context.Context) error {
			m := newAuthMethod(c.ID, store.AuthMethodUniversal, at(100))
			m.LookupKey = w.methods["aUA"].LookupKey
			return s.CreateAuthMethod(ctx, m)
		}, absent: func(ctx context.Context) error {
			_, err := s.GetAuthMethodByIdentity(ctx, c.ID, store.AuthMethodUniversal)
			return err
		}},
		{name: "ClientSecretID", create: func(ctx context.Context) error {
			cs := newClientSecret(w.methods["bUA"].ID, at(100))
			cs.ID = w.secrets["aSecret1"].ID
			return s.CreateClientSecret(ctx, cs)
		}},
		{name: "ClientSecretHash", create: func(ctx context.Context) error {
			cs := newClientSecret(w.methods["bUA"].ID, at(100))
			cs.Hash = w.secrets["aSecret1"].Hash
			return s.CreateClientSecret(ctx, cs)
		}},
		{name: "AccessTokenID", create: func(ctx context.Context) error {
			tk := newAccessToken(w.methods["bUA"], "", at(100))
			tk.ID = w.tokens["aUA1"].ID
			return s.CreateAccessToken(ctx, tk)
		}},
		{name: "AccessTokenHash", create: func(ctx context.Context) error {
			tk := newAccessToken(w.methods["bUA"], "", at(100))
			tk.Hash = w.tokens["aUA1"].Hash
			return s.CreateAccessToken(ctx, tk)
		}},
		{name: "RootTokenHash", create: func(ctx context.Context) error {
			tk := newRootToken(at(100))
			tk.Hash = w.tokens["root"].Hash
			return s.CreateAccessToken(ctx, tk)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			wantErr(t, tc.name, tc.create(ctx), store.ErrAlreadyExists)
			if tc.absent != nil {
				wantErr(t, "looking up the refused object", tc.absent(ctx), store.ErrNotFound)
			}
			before.check(t, "after "+tc.name, w.snapshot(t, s))
		})
	}
	_, n, err := s.ListIdentities(t.Context(), 0, 1)
	must(t, err)
	if n != identities {
		t.Errorf("ListIdentities total = %d after refused creates, want %d", n, identities)
	}
}
