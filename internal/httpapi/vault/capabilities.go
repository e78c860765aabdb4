package vault

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Vault's capability names.
const (
	capCreate = "create"
	capRead   = "read"
	capUpdate = "update"
	capDelete = "delete"
	capList   = "list"
	capDeny   = "deny"
	capRoot   = "root"
)

// roleCaps are a path's capabilities by the least role that has them.
type roleCaps struct {
	anyone, member, admin []string
}

func (c roleCaps) of(role store.Role) []string {
	switch role {
	case store.RoleAdmin:
		return c.admin
	case store.RoleMember:
		return c.member
	}
	return c.anyone
}

var (
	anyone     = func(caps ...string) roleCaps { return roleCaps{caps, caps, caps} }
	adminOnly  = func(caps ...string) roleCaps { return roleCaps{admin: caps} }
	fixedPaths = map[string]roleCaps{
		"sys/health":                 anyone(capRead),
		"sys/seal-status":            anyone(capRead),
		"sys/leader":                 anyone(capRead),
		"sys/capabilities-self":      anyone(capUpdate),
		"sys/capabilities":           adminOnly(capUpdate),
		"sys/capabilities-accessor":  adminOnly(capUpdate),
		"sys/auth":                   adminOnly(capRead),
		"auth/token/lookup-self":     anyone(capRead, capUpdate),
		"auth/token/renew-self":      anyone(capUpdate),
		"auth/token/revoke-self":     anyone(capUpdate),
		"auth/token/lookup":          adminOnly(capUpdate),
		"auth/token/revoke":          adminOnly(capUpdate),
		"auth/token/lookup-accessor": adminOnly(capUpdate),
		"auth/token/revoke-accessor": adminOnly(capUpdate),
	}
)

// capabilities is what p may do on a Vault API path (without /v1/), read
// off the same checks the handlers make: the root token may do anything;
// an identity's token what its role allows (no-access: the token's own
// routes, login and the status routes; member: also reading configs and
// roles; admin: everything). Capabilities are sorted; none is "deny".
func capabilities(p identity.Principal, path string) []string {
	if p.Root {
		return []string{capRoot}
	}
	path = strings.Trim(path, "/")
	if c, ok := fixedPaths[path]; ok {
		return orDeny(c.of(p.Role))
	}
	var c roleCaps
	switch {
	case isTunePath(path, "sys/auth/"), isTunePath(path, "sys/mounts/auth/"):
		c = adminOnly(capRead, capUpdate)
	case strings.HasPrefix(path, "sys/auth/"):
		c = adminOnly(capCreate, capDelete, capUpdate)
	case strings.HasPrefix(path, "auth/") && !strings.HasPrefix(path, "auth/token/"):
		rt, ok := parseAuthPath(strings.TrimPrefix(path, "auth/"))
		if !ok {
			break
		}
		switch rt.endpoint {
		case "login":
			c = anyone(capCreate, capUpdate)
		case "config":
			c = roleCaps{member: []string{capRead}, admin: []string{capCreate, capRead, capUpdate}}
		case "role":
			c = roleCaps{member: []string{capList}, admin: []string{capList}}
		case "role/":
			c = roleCaps{member: []string{capRead}, admin: []string{capCreate, capDelete, capRead, capUpdate}}
		}
	}
	return orDeny(c.of(p.Role))
}

// isTunePath reports whether path is prefix<mount>/tune, as the tune
// routes read it.
func isTunePath(path, prefix string) bool {
	rest, ok := strings.CutPrefix(path, prefix)
	mount, tune := strings.CutSuffix(rest, "/tune")
	return ok && tune && mount != ""
}

func orDeny(caps []string) []string {
	if len(caps) == 0 {
		return []string{capDeny}
	}
	return caps
}

// capabilitiesBody is sys/capabilities-self, sys/capabilities and
// sys/capabilities-accessor: "paths", or Vault's older "path" (a list or
// a comma-separated string, as Vault's Go client sends it).
type capabilitiesBody struct {
	Paths    json.RawMessage `json:"paths"`
	Path     json.RawMessage `json:"path"`
	Token    string          `json:"token"`
	Accessor string          `json:"accessor"`
}

func (b capabilitiesBody) paths() ([]string, error) {
	raw, field := b.Paths, "paths"
	if strings.TrimSpace(string(raw)) == "" || string(raw) == "null" {
		raw, field = b.Path, "path"
	}
	list, err := parseStringList(field, raw)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range list {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errs.New(errs.BadRequest, "paths must be supplied")
	}
	return out, nil
}

// capabilitiesAnswer is Vault's answer: each path's capabilities keyed by
// the path, and "capabilities" too when one path was asked.
func capabilitiesAnswer(r *http.Request, p identity.Principal, paths []string, unknown []string) (int, any, error) {
	data := make(map[string]any, len(paths)+1)
	for _, path := range paths {
		data[path] = capabilities(p, path)
	}
	if len(paths) == 1 {
		data["capabilities"] = capabilities(p, paths[0])
	}
	out := sysAnswer(r, data)
	out["warnings"] = ignoredWarning(unknown)
	return http.StatusOK, out, nil
}

// capabilitiesSelf is sys/capabilities-self: the caller's own token.
func (a *API) capabilitiesSelf(r *http.Request) (int, any, error) {
	var b capabilitiesBody
	p, unknown, err := a.authedBody(r, &b)
	if err != nil {
		return 0, nil, err
	}
	paths, err := b.paths()
	if err != nil {
		return 0, nil, err
	}
	return capabilitiesAnswer(r, p, paths, drop(unknown, "token"))
}

// capabilitiesOther is sys/capabilities ({token, paths}) and
// sys/capabilities-accessor ({accessor, paths}), for an administrator:
// another token's capabilities, without spending its uses.
func (a *API) capabilitiesOther(byAccessor bool) handlerFunc {
	return func(r *http.Request) (int, any, error) {
		var b capabilitiesBody
		caller, unknown, err := a.authedBody(r, &b)
		if err != nil {
			return 0, nil, err
		}
		if err := caller.RequireAdmin("reading another token's capabilities"); err != nil {
			return 0, nil, err
		}
		paths, err := b.paths()
		if err != nil {
			return 0, nil, err
		}
		var rec store.AccessToken
		if byAccessor {
			acc := strings.ToLower(strings.TrimSpace(b.Accessor))
			if acc == "" {
				return 0, nil, errs.New(errs.BadRequest, "missing accessor")
			}
			if _, err := uuid.Parse(acc); err != nil || len(acc) != 36 {
				return 0, nil, errs.New(errs.BadRequest, "invalid accessor")
			}
			if rec, err = a.Tokens.InspectAccessor(r.Context(), acc); err != nil {
				return 0, nil, invalid(err, "invalid accessor")
			}
			unknown = drop(unknown, "token")
		} else {
			raw := strings.TrimSpace(b.Token)
			if raw == "" {
				return 0, nil, errs.New(errs.BadRequest, "missing token")
			}
			if rec, err = a.Tokens.Inspect(r.Context(), raw); err != nil {
				return 0, nil, invalid(err, "invalid token")
			}
			unknown = drop(unknown, "accessor")
		}
		p := identity.Principal{Root: rec.AuthMethodType == store.AuthMethodRoot, IdentityID: rec.IdentityID, TokenID: rec.ID}
		if !p.Root {
			id, err := a.Identities.Get(r.Context(), caller, rec.IdentityID)
			if err != nil {
				return 0, nil, invalid(err, "invalid token")
			}
			p.Role = id.Role
		}
		return capabilitiesAnswer(r, p, paths, unknown)
	}
}

// invalid turns a token that is not there (or not live) into Vault's 400.
func invalid(err error, msg string) error {
	if e := errs.As(err); e.Code == errs.NotFound {
		return errs.New(errs.BadRequest, "%s", msg)
	}
	return err
}

// drop removes name from a list of unknown fields.
func drop(unknown []string, name string) []string {
	out := unknown[:0:0]
	for _, u := range unknown {
		if u != name {
			out = append(out, u)
		}
	}
	return out
}
