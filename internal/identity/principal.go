package identity

import (
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Principal is the authenticated caller of an API request: the root admin
// or a machine identity acting through one of its access tokens.
type Principal struct {
	Root       bool
	IdentityID string // "" for root
	Role       store.Role
	TokenID    string
}

// ActorID names the caller in audit events.
func (p Principal) ActorID() string {
	if p.Root {
		return "root"
	}
	return p.IdentityID
}

// rank orders roles by power; unknown roles rank below no-access.
func rank(r store.Role) int {
	switch r {
	case store.RoleAdmin:
		return 3
	case store.RoleMember:
		return 2
	case store.RoleNoAccess:
		return 1
	}
	return 0
}

// ValidRole reports whether r is one of the known roles.
func ValidRole(r store.Role) bool { return rank(r) > 0 }

// atLeast reports whether the principal holds role r or a stronger one.
func (p Principal) atLeast(r store.Role) bool {
	return p.Root || rank(p.Role) >= rank(r)
}

// RequireAdmin fails with Forbidden unless the caller may manage
// identities and auth methods.
func (p Principal) RequireAdmin(action string) error {
	if p.atLeast(store.RoleAdmin) {
		return nil
	}
	return errs.New(errs.Forbidden, "permission denied: %s requires the admin role (caller has role %q)", action, p.Role)
}

// RequireMember fails with Forbidden unless the caller may read identities
// and auth-method configs.
func (p Principal) RequireMember(action string) error {
	if p.atLeast(store.RoleMember) {
		return nil
	}
	return errs.New(errs.Forbidden, "permission denied: %s requires the member or admin role (caller has role %q)", action, p.Role)
}

// mayGrant fails unless the caller may give an identity role r: nobody
// grants a role above their own.
func (p Principal) mayGrant(r store.Role) error {
	if p.atLeast(r) {
		return nil
	}
	return errs.New(errs.Forbidden, "permission denied: cannot grant role %q, which is above the caller's role %q", r, p.Role)
}
