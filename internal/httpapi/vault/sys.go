package vault

import (
	"net/http"
	"runtime/debug"
	"time"
)

// The node Gatehouse shows itself as on the unauthenticated status routes:
// one initialized, unsealed node whose seal needs no unseal keys (the
// server key is read at start), not part of an HA cluster (replicas that
// share a PostgreSQL database are all active and need no leader).
const (
	clusterName = "gatehouse"
	sealType    = "shamir"
)

// buildDate is the VCS commit time the binary was built from, when the Go
// toolchain recorded one (Vault shows its build date); "" otherwise.
func buildDate() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.time" {
			return s.Value
		}
	}
	return ""
}

// sealStatus is GET /v1/sys/seal-status (vault status), unauthenticated
// and flat (no envelope), as in Vault.
func (a *API) sealStatus(*http.Request) (int, any, error) {
	return http.StatusOK, map[string]any{
		"type":          sealType,
		"initialized":   true,
		"sealed":        false,
		"t":             1,
		"n":             1,
		"progress":      0,
		"nonce":         "",
		"version":       a.Version,
		"build_date":    a.buildDate,
		"migration":     false,
		"cluster_name":  clusterName,
		"cluster_id":    "",
		"recovery_seal": false,
		"storage_type":  a.StorageType,
	}, nil
}

// leader is GET /v1/sys/leader, unauthenticated and flat: HA not enabled,
// as Vault answers for a single node.
func (a *API) leader(*http.Request) (int, any, error) {
	return http.StatusOK, map[string]any{
		"ha_enabled":                          false,
		"is_self":                             false,
		"active_time":                         time.Time{},
		"leader_address":                      "",
		"leader_cluster_address":              "",
		"performance_standby":                 false,
		"performance_standby_last_remote_wal": 0,
		"last_wal":                            0,
	}, nil
}
