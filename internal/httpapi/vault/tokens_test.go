package vault

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// tokenDataMap is the map[string]any that tokenData returned before it
// became a struct: the reference its JSON must match byte for byte.
func tokenDataMap(now time.Time, raw string, rec store.AccessToken) map[string]any {
	root := rec.AuthMethodType == store.AuthMethodRoot
	var expireTime any
	if !rec.ExpiresAt.IsZero() {
		expireTime = rec.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	data := map[string]any{
		"accessor":         rec.ID,
		"id":               raw,
		"creation_time":    rec.CreatedAt.Unix(),
		"creation_ttl":     creationTTL(rec),
		"issue_time":       rec.CreatedAt.UTC().Format(time.RFC3339Nano),
		"expire_time":      expireTime,
		"display_name":     displayName(rec),
		"entity_id":        rec.IdentityID,
		"explicit_max_ttl": rec.MaxTTL,
		"meta":             metaOf(rec),
		"num_uses":         remainingUses(rec),
		"orphan":           true,
		"path":             tokenPath(rec),
		"policies":         tokenPolicies(rec),
		"renewable":        !root,
		"ttl":              token.ExpiresIn(rec, now),
		"type":             "service",
	}
	if rec.Period > 0 {
		data["period"] = rec.Period
	}
	if !rec.LastRenewedAt.Equal(rec.CreatedAt) {
		data["last_renewal_time"] = rec.LastRenewedAt.Unix()
		data["last_renewal"] = rec.LastRenewedAt.UTC().Format(time.RFC3339Nano)
	}
	return data
}

func lookupRecords(now time.Time) map[string]store.AccessToken {
	created := now.Add(-90 * time.Second)
	identityToken := store.AccessToken{
		ID: "0b6f1c9e-5c1a-4f55-9d43-1f8f0c3e2a11", IdentityID: "7d1e4c2a-9b3f-4e8d-a6c5-2f1b0e9d8c7a",
		AuthMethodID: "m-1", AuthMethodType: store.AuthMethodUniversal,
		CreatedAt: created, LastRenewedAt: created, ExpiresAt: created.Add(time.Hour),
		TTL: 3600, MaxTTL: 7200,
	}
	cases := map[string]store.AccessToken{
		"identity token":   identityToken,
		"root token":       {ID: "r-1", AuthMethodType: store.AuthMethodRoot, CreatedAt: created, LastRenewedAt: created},
		"never expires":    {ID: "n-1", IdentityID: "i-1", AuthMethodType: store.AuthMethodUniversal, CreatedAt: created, LastRenewedAt: created},
		"zero times":       {ID: "z-1", AuthMethodType: store.AuthMethodKubernetes},
		"epoch renewal":    {ID: "e-1", AuthMethodType: store.AuthMethodKubernetes, CreatedAt: created, LastRenewedAt: time.Unix(0, 0)},
		"negative period":  {ID: "p-0", AuthMethodType: store.AuthMethodKubernetes, CreatedAt: created, LastRenewedAt: created, Period: -5},
		"expired, used up": {ID: "u-1", AuthMethodType: store.AuthMethodUniversal, CreatedAt: created, LastRenewedAt: created, ExpiresAt: now.Add(-time.Second), NumUsesLimit: 3, NumUses: 3},
	}
	renewed := identityToken
	renewed.LastRenewedAt = now.Add(-10 * time.Second)
	renewed.ExpiresAt = now.Add(50 * time.Minute)
	renewed.NumUsesLimit, renewed.NumUses = 10, 4
	cases["renewed, use-limited"] = renewed

	kube := identityToken
	kube.AuthMethodType = store.AuthMethodKubernetes
	kube.Period = 600
	kube.Metadata = map[string]string{
		"mount": "kubernetes/", "policies": "web,admin,<script>&",
		"service_account_namespace": "apps", "service_account_name": "web", "role": "web \"quoted\" \u2028",
	}
	cases["kubernetes, periodic, metadata"] = kube

	onlyHidden := identityToken
	onlyHidden.Metadata = map[string]string{"mount": "k8s", "policies": ""}
	cases["metadata of hidden keys only"] = onlyHidden
	return cases
}

// TestTokenDataJSON: the lookup data encodes exactly as the map it
// replaced (same keys, order, values, nulls and omissions).
func TestTokenDataJSON(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	a := &API{Deps: Deps{Now: func() time.Time { return now }}}
	for name, rec := range lookupRecords(now) {
		for _, raw := range []string{"", "gh_at_secret-value"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				want, err := json.Marshal(tokenDataMap(now, raw, rec))
				if err != nil {
					t.Fatal(err)
				}
				got, err := json.Marshal(a.tokenData(raw, rec))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("tokenData JSON differs from the map's\n got %s\nwant %s", got, want)
				}
			})
		}
	}
}

// BenchmarkLookupSelfBody encodes a lookup-self answer for an identity
// token as WriteJSON does: "struct" is tokenData, "map" the map it
// replaced.
func BenchmarkLookupSelfBody(b *testing.B) {
	now := time.Now()
	a := &API{Deps: Deps{Now: func() time.Time { return now }}}
	rec := lookupRecords(now)["identity token"]
	raw := "gh_at_secret-value"
	for _, tc := range []struct {
		name string
		data func() any
	}{
		{"struct", func() any { return a.tokenData(raw, rec) }},
		{"map", func() any { return tokenDataMap(now, raw, rec) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp := response{RequestID: "5c1a4f559d431f8f0c3e2a11"}
				resp.Data = tc.data()
				if err := json.NewEncoder(io.Discard).Encode(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
