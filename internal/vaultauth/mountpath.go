package vaultauth

import (
	"context"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

// RouteSegments are the path segments of the method's own routes under
// auth/<mount>/ (config, login, role/<name>). A mount path may not hold
// one: auth/x/role/login must mean the role "login" of mount "x", never
// the login of a mount "x/role".
var RouteSegments = []string{"config", "login", "role"}

// checkToken refuses a mount path (already cleaned) whose first segment
// is "token" in any case: auth/token/ is the token store's.
func checkToken(p string) error {
	first, _, _ := strings.Cut(p, "/")
	if strings.EqualFold(first, "token") {
		return errs.New(errs.BadRequest, "invalid mount path %q: \"token\" is reserved for the token store (auth/token/)", clip(p, 100))
	}
	return nil
}

// checkRouteSegments refuses a mount path (already cleaned) that holds
// one of RouteSegments.
func checkRouteSegments(p string) error {
	for _, s := range strings.Split(p, "/") {
		if slices.Contains(RouteSegments, s) {
			return errs.New(errs.BadRequest, "invalid mount path %q: the segment %q is reserved for the method's own routes (auth/<mount>/config, login, role)", clip(p, 100), s)
		}
	}
	return nil
}

// overlapping returns the first of paths that p is inside or around by
// whole segments (or equal to), "" when none.
func overlapping(paths []string, p string) string {
	for _, q := range paths {
		if q == p || strings.HasPrefix(p, q+"/") || strings.HasPrefix(q, p+"/") {
			return q
		}
	}
	return ""
}

// errInUse is Vault's answer for a mount path that is taken, or inside or
// around a taken one.
func errInUse(at string) error {
	return errs.New(errs.BadRequest, "path is already in use at %s/", at)
}

// inUse returns the mount path that p is, or is inside or around, "" when
// none.
func (s *Service) inUse(ctx context.Context, p string) (string, error) {
	ms, err := s.store.ListMounts(ctx)
	if err != nil {
		return "", errs.Wrap(err, "listing mounts")
	}
	paths := make([]string, len(ms))
	for i, m := range ms {
		paths[i] = m.Path
	}
	return overlapping(paths, p), nil
}
