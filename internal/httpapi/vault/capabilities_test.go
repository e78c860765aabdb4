package vault

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestCapabilitiesEdges: paths that only look like routes are denied.
func TestCapabilitiesEdges(t *testing.T) {
	admin := identity.Principal{IdentityID: "a", Role: store.RoleAdmin}
	for path, want := range map[string]string{
		"sys/auth/tune":               "create delete update", // enabling a mount named "tune"
		"sys/auth/k8s/tune":           "read update",
		"/sys/auth/k8s/tune/":         "read update",
		"sys/mounts/auth/tune":        "deny",
		"sys/mounts/kv":               "deny",
		"auth/token/role/x":           "deny",
		"auth/k8s":                    "deny",
		"auth/k8s/role/a/b":           "deny",
		"auth/k8s/role/login":         "create delete read update",
		"auth/team/k8s/login":         "create update",
		"sys/capabilities-self/extra": "deny",
		"":                            "deny",
	} {
		if got := strings.Join(capabilities(admin, path), " "); got != want {
			t.Errorf("capabilities(admin, %q) = %s, want %s", path, got, want)
		}
	}
	if got := capabilities(identity.Principal{Root: true}, "anything"); len(got) != 1 || got[0] != "root" {
		t.Errorf("root = %v", got)
	}
}
