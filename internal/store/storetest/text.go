package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The stores accept and refuse exactly the same text: a NUL character or
// invalid UTF-8 in any text value or key, and a NUL in a JSON document the
// store indexes (metadata, audit details), is store.ErrInvalid, whether
// written or looked up, never ErrNotFound or an internal failure; every
// other character (controls, tabs, any Unicode) is kept as given. A
// config document (kept verbatim) may hold the escape \u0000.
var textTests = []test{
	{"RefusedEverywhere", testTextRefused},
	{"RefusedUpdatesChangeNothing", testTextRefusedUpdates},
	{"OtherCharactersKept", testTextKept},
}

const (
	nul        = "a\x00b"
	badUTF8    = "a\xffb"
	oddControl = "tab\there\x01\x1f\x7f ünïcode ✓ \u2028"
)

func testTextRefused(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := createIdentity(t, s, newIdentity(at(0)))
	ua := createAuthMethod(t, s, newAuthMethod(id.ID, store.AuthMethodUniversal, at(1)))
	mount := newMount("k8s-text", at(1))
	must(t, s.CreateMount(ctx, mount))

	type op struct {
		name string
		run  func(ctx context.Context, bad string) error
	}
	ops := []op{
		{"CreateIdentity name", func(ctx context.Context, bad string) error {
			v := newIdentity(at(2))
			v.Name = bad
			return s.CreateIdentity(ctx, v)
		}},
		{"CreateIdentity metadata key", func(ctx context.Context, bad string) error {
			v := newIdentity(at(2))
			v.Metadata = []store.MetadataEntry{{Key: bad, Value: "v"}}
			return s.CreateIdentity(ctx, v)
		}},
		{"CreateIdentity metadata value", func(ctx context.Context, bad string) error {
			v := newIdentity(at(2))
			v.Metadata = []store.MetadataEntry{{Key: "k", Value: bad}}
			return s.CreateIdentity(ctx, v)
		}},
		{"GetIdentity", func(ctx context.Context, bad string) error { _, err := s.GetIdentity(ctx, bad); return err }},
		{"CreateAuthMethod lookup key", func(ctx context.Context, bad string) error {
			other := createIdentity(t, s, newIdentity(at(2)))
			m := newAuthMethod(other.ID, store.AuthMethodUniversal, at(2))
			m.LookupKey = bad
			return s.CreateAuthMethod(ctx, m)
		}},
		{"CreateAuthMethod trusted IP", func(ctx context.Context, bad string) error {
			other := createIdentity(t, s, newIdentity(at(2)))
			m := newAuthMethod(other.ID, store.AuthMethodUniversal, at(2))
			m.TokenPolicy.TrustedIPs = []string{bad}
			return s.CreateAuthMethod(ctx, m)
		}},
		{"GetAuthMethodByLookupKey", func(ctx context.Context, bad string) error {
			_, err := s.GetAuthMethodByLookupKey(ctx, store.AuthMethodUniversal, bad)
			return err
		}},
		{"GetAuthMethod", func(ctx context.Context, bad string) error { _, err := s.GetAuthMethod(ctx, bad); return err }},
		{"CreateClientSecret description", func(ctx context.Context, bad string) error {
			cs := newClientSecret(ua.ID, at(2))
			cs.Description = bad
			return s.CreateClientSecret(ctx, cs)
		}},
		{"CreateAccessToken metadata", func(ctx context.Context, bad string) error {
			tok := newAccessToken(ua, "", at(2))
			tok.Metadata = map[string]string{"k": bad}
			return s.CreateAccessToken(ctx, tok)
		}},
		{"GetAccessToken", func(ctx context.Context, bad string) error { _, err := s.GetAccessToken(ctx, bad); return err }},
		{"IssueAccessToken audit reason", func(ctx context.Context, bad string) error {
			ev := newAuditEvent(2)
			ev.Reason = bad
			return s.IssueAccessToken(ctx, store.TokenIssue{Token: newRootToken(at(2)), Event: ev})
		}},
		{"AppendAuditEvent details", func(ctx context.Context, bad string) error {
			ev := newAuditEvent(2)
			ev.Details = map[string]string{"clientId": bad}
			return s.AppendAuditEvent(ctx, ev)
		}},
		{"AppendAuditEvent client IP", func(ctx context.Context, bad string) error {
			ev := newAuditEvent(2)
			ev.ClientIP = bad
			return s.AppendAuditEvent(ctx, ev)
		}},
		{"CreateMount description", func(ctx context.Context, bad string) error {
			m := newMount("k8s-"+newID(), at(2))
			m.Description = bad
			return s.CreateMount(ctx, m)
		}},
		{"GetMount", func(ctx context.Context, bad string) error { _, err := s.GetMount(ctx, bad); return err }},
		{"RecordLoginFailure client IP", func(ctx context.Context, bad string) error {
			_, _, err := s.RecordLoginFailure(ctx, store.LockoutKey{AuthMethodID: ua.ID, ClientIP: bad}, at(2), lockPolicy)
			return err
		}},
		{"PutMetaIfAbsent", func(ctx context.Context, bad string) error {
			_, err := s.PutMetaIfAbsent(ctx, "k-"+newID(), bad)
			return err
		}},
		{"GetMeta", func(ctx context.Context, bad string) error { _, err := s.GetMeta(ctx, bad); return err }},
	}
	for _, o := range ops {
		for _, bad := range []struct{ what, v string }{{"NUL", nul}, {"invalid UTF-8", badUTF8}} {
			if bad.what == "invalid UTF-8" && (o.name == "CreateIdentity metadata key" || o.name == "CreateIdentity metadata value" ||
				o.name == "CreateAccessToken metadata" || o.name == "AppendAuditEvent details" || o.name == "CreateAuthMethod trusted IP") {
				continue // JSON encoding turns invalid UTF-8 into U+FFFD in both stores
			}
			wantErr(t, o.name+" with "+bad.what, o.run(ctx, bad.v), store.ErrInvalid)
		}
	}
	// Nothing was written by the refused calls.
	_, total, err := s.ListIdentities(ctx, 0, 100)
	must(t, err)
	events, _, err := s.ListAuditEvents(ctx, 0, 100)
	must(t, err)
	if len(events) != 0 {
		t.Errorf("refused calls left %d audit events", len(events))
	}
	// The auth-method cases each created an identity to attach to: two
	// for the lookup key (NUL, invalid UTF-8), one for the trusted IP.
	if total != 1+3 {
		t.Errorf("%d identities after the refused calls, want 4", total)
	}
}

func testTextRefusedUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := createIdentity(t, s, newIdentity(at(0)))
	_, err := s.UpdateIdentity(ctx, id.ID, func(v *store.Identity) error { v.Name = nul; return nil })
	wantErr(t, "UpdateIdentity to a NUL name", err, store.ErrInvalid)
	_, err = s.UpdateIdentity(ctx, id.ID, func(v *store.Identity) error {
		v.Metadata = []store.MetadataEntry{{Key: "k", Value: nul}}
		return nil
	})
	wantErr(t, "UpdateIdentity to NUL metadata", err, store.ErrInvalid)
	got, err := s.GetIdentity(ctx, id.ID)
	must(t, err)
	checkEqual(t, "identity after refused updates", got, id)

	m := createAuthMethod(t, s, newAuthMethod(id.ID, store.AuthMethodUniversal, at(1)))
	_, err = s.UpdateAuthMethod(ctx, m.ID, func(v *store.AuthMethod) error { v.TokenPolicy.TrustedIPs = []string{nul}; return nil })
	wantErr(t, "UpdateAuthMethod to a NUL trusted IP", err, store.ErrInvalid)
	gotM, err := s.GetAuthMethod(ctx, m.ID)
	must(t, err)
	checkEqual(t, "auth method after a refused update", gotM, m)

	mount := newMount("k8s", at(1))
	must(t, s.CreateMount(ctx, mount))
	_, err = s.UpdateMount(ctx, mount.Path, func(v *store.Mount) error { v.Description = nul; return nil })
	wantErr(t, "UpdateMount to a NUL description", err, store.ErrInvalid)
}

func testTextKept(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := newIdentity(at(0))
	v.Name = oddControl
	v.Metadata = []store.MetadataEntry{{Key: oddControl, Value: oddControl + ` \u0000 as text`}}
	createIdentity(t, s, v)
	got, err := s.GetIdentity(ctx, v.ID)
	must(t, err)
	checkEqual(t, "identity with control characters", got, v)

	m := newAuthMethod(v.ID, store.AuthMethodUniversal, at(1))
	m.Config = json.RawMessage(`{"note": "NUL as an escape: \u0000"}`)
	createAuthMethod(t, s, m)
	gotM, err := s.GetAuthMethod(ctx, m.ID)
	must(t, err)
	var cfg map[string]string
	if err := json.Unmarshal(gotM.Config, &cfg); err != nil || cfg["note"] != "NUL as an escape: \x00" {
		t.Errorf("config read back as %s (%v)", gotM.Config, err)
	}

	ev := newAuditEvent(3)
	ev.Reason = oddControl
	ev.Details = map[string]string{"k": oddControl}
	must(t, s.AppendAuditEvent(ctx, ev))
	evs, _, err := s.ListAuditEvents(ctx, 0, 1)
	must(t, err)
	if len(evs) != 1 || evs[0].Reason != oddControl || evs[0].Details["k"] != oddControl {
		t.Errorf("audit event read back as %+v", evs)
	}
}
