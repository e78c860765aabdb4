package vaultauth

import (
	"encoding/json"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func TestPolicyOnTune(t *testing.T) {
	cases := []struct {
		name                string
		role                Role
		tune                Tune
		ttl, maxTTL, period int64
	}{
		{"untuned", Role{}, Tune{}, SystemDefaultTTL, SystemDefaultTTL, 0},
		{"mount default", Role{}, Tune{DefaultLeaseTTL: 60}, 60, SystemDefaultTTL, 0},
		{"mount max caps the default", Role{}, Tune{MaxLeaseTTL: 100}, 100, 100, 0},
		{"role ttl wins over mount default", Role{TTL: 30}, Tune{DefaultLeaseTTL: 60}, 30, SystemDefaultTTL, 0},
		{"role ttl capped by mount max", Role{TTL: 500}, Tune{MaxLeaseTTL: 100}, 100, 100, 0},
		{"role max cannot raise mount max", Role{MaxTTL: 500}, Tune{MaxLeaseTTL: 100}, 100, 100, 0},
		{"role max lowers mount max", Role{MaxTTL: 50}, Tune{MaxLeaseTTL: 100, DefaultLeaseTTL: 80}, 50, 50, 0},
		{"role max cannot exceed system max", Role{MaxTTL: 2 * SystemDefaultTTL}, Tune{}, SystemDefaultTTL, SystemDefaultTTL, 0},
		{"mount max above system max", Role{TTL: 2 * SystemDefaultTTL}, Tune{MaxLeaseTTL: 3 * SystemDefaultTTL}, 2 * SystemDefaultTTL, 3 * SystemDefaultTTL, 0},
		{"explicit max", Role{ExplicitMaxTTL: 40}, Tune{MaxLeaseTTL: 100}, 40, 40, 0},
		{"period capped", Role{Period: 500}, Tune{MaxLeaseTTL: 100}, 100, 100, 100},
	}
	for _, tc := range cases {
		p := tc.role.policyOn(tc.tune)
		if p.TTL != tc.ttl || p.MaxTTL != tc.maxTTL || p.Period != tc.period {
			t.Errorf("%s: ttl %d max %d period %d; want %d %d %d", tc.name, p.TTL, p.MaxTTL, p.Period, tc.ttl, tc.maxTTL, tc.period)
		}
	}
}

// TestTuneDocument: the tune sits beside the config in one document; a
// config write keeps it, and clearing it leaves the config alone.
func TestTuneDocument(t *testing.T) {
	cfg := json.RawMessage(`{"kubernetesHost":"https://k"}`)
	doc, err := withTune(cfg, Tune{DefaultLeaseTTL: 60})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := TuneOf(store.Mount{Config: doc}); got != (Tune{DefaultLeaseTTL: 60}) {
		t.Errorf("TuneOf = %+v", got)
	}
	next, err := keepTune(doc, json.RawMessage(`{"kubernetesHost":"https://other"}`))
	if err != nil {
		t.Fatal(err)
	}
	c, ok, err := decodeConfig(store.Mount{Config: next})
	if tn, _ := TuneOf(store.Mount{Config: next}); err != nil || !ok || c.Host != "https://other" || tn.DefaultLeaseTTL != 60 {
		t.Errorf("after a config write: %+v %v %v, tune %+v", c, ok, err, tn)
	}
	cleared, err := withTune(next, Tune{})
	if err != nil {
		t.Fatal(err)
	}
	if string(cleared) != `{"kubernetesHost":"https://other"}` {
		t.Errorf("cleared = %s", cleared)
	}
	if _, ok, _ := decodeConfig(store.Mount{Config: json.RawMessage(`{"tune":{"maxLeaseTtl":5}}`)}); ok {
		t.Error("a tuned, unconfigured mount reads as configured")
	}
}
