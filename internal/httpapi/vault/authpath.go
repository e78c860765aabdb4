package vault

import (
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// parseAuthPath splits the path after /v1/auth/: the mount is everything
// before the first route segment (config, login, role) after its first
// segment. Mount paths hold no route segment (vaultauth refuses them), so
// the split is never ambiguous and a role may be named "login", "config"
// or "role".
func parseAuthPath(p string) (authRoute, bool) {
	segs := strings.Split(strings.TrimSuffix(p, "/"), "/")
	i := slices.IndexFunc(segs[1:], func(s string) bool { return slices.Contains(vaultauth.RouteSegments, s) }) + 1
	if i == 0 || segs[0] == "" {
		return authRoute{}, false
	}
	rt := authRoute{mount: strings.Join(segs[:i], "/"), endpoint: segs[i]}
	switch rest := segs[i+1:]; {
	case len(rest) == 0:
		return rt, true
	case rt.endpoint == "role" && len(rest) == 1 && rest[0] != "":
		rt.endpoint, rt.role = "role/", rest[0]
		return rt, true
	}
	return authRoute{}, false
}
