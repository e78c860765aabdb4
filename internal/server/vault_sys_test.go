package server_test

import (
	"context"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/gatehouse-dev/gatehouse/internal/buildinfo"
)

// vaultClient is Vault's Go client on ls with token tok ("" for none).
func vaultClient(t *testing.T, ls *liveServer, tok string) *vaultapi.Client {
	t.Helper()
	return vaultClientAt(t, ls.base, tok)
}

// vaultClientAt is Vault's Go client on the server at addr.
func vaultClientAt(t *testing.T, addr, tok string) *vaultapi.Client {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = addr
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	if tok != "" {
		c.SetToken(tok)
	}
	return c
}

// TestVaultStatus is what `vault status` reads: sys/seal-status and
// sys/leader, without a token, as an initialized, unsealed single node.
func TestVaultStatus(t *testing.T) {
	ls := startLiveServer(t)
	c := vaultClient(t, ls, "")
	ctx := context.Background()

	st, err := c.Sys().SealStatusWithContext(ctx)
	if err != nil {
		t.Fatalf("seal-status: %v", err)
	}
	if st.Type != "shamir" || !st.Initialized || st.Sealed || st.T != 1 || st.N != 1 || st.Progress != 0 ||
		st.Nonce != "" || st.Version != buildinfo.Get().Version || st.Migration || st.RecoverySeal ||
		st.ClusterName != "gatehouse" || st.StorageType != "sqlite" {
		t.Errorf("seal-status = %+v", st)
	}
	l, err := c.Sys().LeaderWithContext(ctx)
	if err != nil {
		t.Fatalf("leader: %v", err)
	}
	if l.HAEnabled || l.IsSelf || l.LeaderAddress != "" || l.PerfStandby || !l.ActiveTime.IsZero() {
		t.Errorf("leader = %+v", l)
	}

	// The raw bodies: flat, with Vault's keys.
	ts, _ := newVaultServer(t)
	r := ts.vault("GET", "sys/seal-status", "", nil)
	if r.status != 200 {
		t.Fatalf("seal-status: %d %s", r.status, r.raw)
	}
	for _, k := range []string{"type", "initialized", "sealed", "t", "n", "progress", "nonce", "version", "build_date",
		"migration", "cluster_name", "cluster_id", "recovery_seal", "storage_type"} {
		if _, ok := r.body[k]; !ok {
			t.Errorf("seal-status has no %q: %s", k, r.raw)
		}
	}
	r = ts.vault("GET", "sys/leader", "", nil)
	for _, k := range []string{"ha_enabled", "is_self", "active_time", "leader_address", "leader_cluster_address",
		"performance_standby", "performance_standby_last_remote_wal"} {
		if _, ok := r.body[k]; !ok {
			t.Errorf("leader has no %q: %s", k, r.raw)
		}
	}
	vaultErrorOK(t, ts.vault("POST", "sys/seal-status", "", nil), 405, "unsupported operation")
}
