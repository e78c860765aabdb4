package audit

import "github.com/gatehouse-dev/gatehouse/internal/store"

// Causes of token.revoke events (their "cause" detail).
const (
	CauseRevokeSelf         = "revoke-self"     // a token revoked itself (logout)
	CauseRevoke             = "revoke"          // an administrator revoked a token by its value
	CauseRevokeAccessor     = "revoke-accessor" // an administrator revoked a token by its accessor
	CauseIdentityDelete     = "identity.delete"
	CauseAuthMethodDelete   = "auth-method.delete"
	CauseRoleDelete         = "role.delete"
	CauseMountDelete        = "mount.delete"
	CauseClientSecretRevoke = "client-secret.revoke"
	CauseGenerateRoot       = "generate-root" // operator generate-root --revoke-others: every other root token
)

// DetailTokenType marks token.revoke events of a root token ("root"): the
// audit-log API hides their accessor from everyone but root callers.
const DetailTokenType = "tokenType"

// TokenRevoked is the token.revoke event of one token, revoked by actorID
// for cause. It names the token by its accessor, never its value.
func TokenRevoked(actorID, cause string, rec store.AccessToken) store.AuditEvent {
	ev := store.AuditEvent{Type: TypeTokenRevoke, Success: true, ActorID: actorID, IdentityID: rec.IdentityID,
		AuthMethod: string(rec.AuthMethodType), Details: map[string]string{"cause": cause, "accessor": rec.ID}}
	if rec.AuthMethodType == store.AuthMethodRoot {
		ev.Details[DetailTokenType] = string(store.AuthMethodRoot)
	}
	return ev
}

// TokensRevoked is the token.revoke event of an action that revoked, with
// what it removed, every token that scope selects: cause names the action
// and scope what it removed (e.g. {"authMethodId": …}).
func TokensRevoked(actorID, cause, identityID string, scope map[string]string) store.AuditEvent {
	d := map[string]string{"cause": cause}
	for k, v := range scope {
		d[k] = v
	}
	return store.AuditEvent{Type: TypeTokenRevoke, Success: true, ActorID: actorID, IdentityID: identityID, Details: d}
}

// HiddenAccessor replaces a root token's accessor in events shown to
// identities.
const HiddenAccessor = "(hidden: root token)"

// HideRootAccessor returns e without the accessor of a root token (the
// events of its creation and revocation), for a reader who is not root:
// with a root token's accessor an identity could try to look it up or
// revoke it (it is refused, but the accessor is root's alone to know). The
// stored event keeps it, and root callers see it.
func HideRootAccessor(e store.AuditEvent) store.AuditEvent {
	if _, ok := e.Details["accessor"]; !ok {
		return e
	}
	if e.Type != TypeRootTokenCreate && e.Details[DetailTokenType] != string(store.AuthMethodRoot) {
		return e
	}
	d := make(map[string]string, len(e.Details))
	for k, v := range e.Details {
		d[k] = v
	}
	d["accessor"] = HiddenAccessor
	e.Details = d
	return e
}
