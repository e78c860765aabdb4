package vault

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// serveSysAuthOrTune is /v1/sys/auth/...: sys/auth/<path>/tune, Vault's
// alias of sys/mounts/auth/<path>/tune, else enable and disable.
func (a *API) serveSysAuthOrTune(r *http.Request) (int, any, error) {
	if path, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v1/sys/auth/"), "/tune"); ok && path != "" {
		return a.serveTune(r, path)
	}
	return a.serveSysAuth(r)
}

// serveSysMounts is /v1/sys/mounts/...: only the tune of auth mounts,
// sys/mounts/auth/<path>/tune (Gatehouse has no secrets engines).
func (a *API) serveSysMounts(r *http.Request) (int, any, error) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/sys/mounts/auth/")
	if path, tune := strings.CutSuffix(rest, "/tune"); ok && tune && path != "" {
		return a.serveTune(r, path)
	}
	return 0, nil, errs.New(errs.NotFound, "no handler for route")
}

func (a *API) serveTune(r *http.Request, path string) (int, any, error) {
	return dispatch(r, map[string]handlerFunc{
		"GET":  func(r *http.Request) (int, any, error) { return a.readTune(r, path) },
		"POST": func(r *http.Request) (int, any, error) { return a.writeTune(r, path) },
		"PUT":  func(r *http.Request) (int, any, error) { return a.writeTune(r, path) },
	})
}

func (a *API) readTune(r *http.Request, path string) (int, any, error) {
	p, _, err := a.authenticate(r)
	if err != nil {
		return 0, nil, err
	}
	v, err := a.Kubernetes.ReadTune(r.Context(), p, path)
	if err != nil {
		return 0, nil, err
	}
	// Vault shows the limits in force (the system's when the mount sets
	// none), in seconds.
	return http.StatusOK, sysAnswer(r, map[string]any{
		"description":       v.Description,
		"default_lease_ttl": v.EffectiveDefaultTTL(),
		"max_lease_ttl":     v.EffectiveMaxTTL(),
		"force_no_cache":    v.ForceNoCache,
		"token_type":        "default-service",
	}), nil
}

// tuneBody is a tune write. Vault's other tune fields (audit keys,
// listing visibility, headers, token type, plugin version, ...) are not
// served: they are ignored with Vault's warning.
type tuneBody struct {
	Description     *string         `json:"description"`
	DefaultLeaseTTL json.RawMessage `json:"default_lease_ttl"`
	MaxLeaseTTL     json.RawMessage `json:"max_lease_ttl"`
	ForceNoCache    json.RawMessage `json:"force_no_cache"`
	Options         json.RawMessage `json:"options"`
}

func (a *API) writeTune(r *http.Request, path string) (int, any, error) {
	var b tuneBody
	p, unknown, err := a.authedBody(r, &b)
	if err != nil {
		return 0, nil, err
	}
	in := vaultauth.TuneInput{Description: b.Description}
	if in.DefaultLeaseTTL, err = tuneTTL("default_lease_ttl", b.DefaultLeaseTTL); err != nil {
		return 0, nil, err
	}
	if in.MaxLeaseTTL, err = tuneTTL("max_lease_ttl", b.MaxLeaseTTL); err != nil {
		return 0, nil, err
	}
	if in.ForceNoCache, err = parseBool("force_no_cache", b.ForceNoCache); err != nil {
		return 0, nil, err
	}
	// Vault's client sends "options" with every tune; a kubernetes mount
	// has none, so only a non-empty one is worth the warning.
	if opts := strings.TrimSpace(string(b.Options)); opts != "" && opts != "null" && opts != "{}" {
		unknown = append(unknown, "options")
	}
	if err := a.Kubernetes.WriteTune(r.Context(), p, path, in); err != nil {
		return 0, nil, err
	}
	return writeAnswer(r, unknown)
}

// tuneTTL reads a tune TTL as Vault does: absent or "" leaves it as it is,
// "system" (or 0) returns to the system's, else seconds or a duration.
func tuneTTL(field string, raw json.RawMessage) (*int64, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch strings.TrimSpace(s) {
		case "":
			return nil, nil
		case "system":
			zero := int64(0)
			return &zero, nil
		}
	}
	if t := strings.TrimSpace(string(raw)); t == "" || t == "null" {
		return nil, nil
	}
	v, err := ParseDuration(field, raw)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// mountConfig is a mount's "config" in sys/auth: its tune as stored (0 =
// the system's), as Vault lists it.
func mountConfig(m store.Mount) map[string]any {
	t, _ := vaultauth.TuneOf(m) // an unreadable document shows the defaults
	return map[string]any{
		"default_lease_ttl": t.DefaultLeaseTTL,
		"max_lease_ttl":     t.MaxLeaseTTL,
		"force_no_cache":    t.ForceNoCache,
		"token_type":        "default-service",
	}
}

// sysAnswer is a sys/ read's answer: Vault's envelope with data, whose
// keys Vault also repeats at the top level for sys/ paths.
func sysAnswer(r *http.Request, data map[string]any) map[string]any {
	env := envelope(r)
	out := make(map[string]any, len(data)+8)
	for k, v := range data {
		out[k] = v
	}
	out["request_id"], out["lease_id"], out["renewable"], out["lease_duration"] = env.RequestID, "", false, 0
	out["data"], out["wrap_info"], out["warnings"], out["auth"] = data, nil, nil, nil
	return out
}
