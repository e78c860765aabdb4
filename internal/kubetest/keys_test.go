package kubetest

import (
	"testing"
)

func TestClustersOfOneTestHaveTheirOwnKeys(t *testing.T) {
	t.Parallel()
	a, b := New(t), New(t)
	if a.KeyID() == b.KeyID() {
		t.Fatal("two live clusters of one test share a key")
	}
	t.Run("subtest", func(t *testing.T) {
		c := New(t)
		if c.KeyID() == a.KeyID() || c.KeyID() == b.KeyID() {
			t.Error("a subtest's cluster shares a key with its parent's")
		}
	})
}

func TestSharedSigningKey(t *testing.T) {
	t.Parallel()
	a := New(t)
	b := New(t, WithSigningKey(a.SigningKey()))
	if a.KeyID() != b.KeyID() || a.SigningKeyPEM() != b.SigningKeyPEM() {
		t.Fatal("WithSigningKey did not share the key")
	}
	// The signature now passes in b; the account is what b does not know.
	tr := mustReview(t, b, b.AdminToken(), a.Token("ns", "app"))
	if tr.Status.Error != `[invalid bearer token, serviceaccounts "app" not found]` {
		t.Errorf("status.error = %q", tr.Status.Error)
	}
}

func TestKeyPoolLeases(t *testing.T) {
	t.Parallel()
	const owner, bits = "TestKeyPoolLeases", 1024
	k1, release1, err := leaseKey(owner, bits)
	if err != nil {
		t.Fatal(err)
	}
	k2, release2, err := leaseKey(owner, bits)
	if err != nil {
		t.Fatal(err)
	}
	if k1.Equal(k2) {
		t.Fatal("two leases held at once got the same key")
	}
	release1()
	k3, release3, err := leaseKey(owner, bits)
	if err != nil {
		t.Fatal(err)
	}
	if !k3.Equal(k1) {
		t.Error("a released key was not reused")
	}
	release2()
	release3()
	fresh, _, err := leaseKey("", bits)
	if err != nil || fresh.Equal(k1) || fresh.Equal(k2) {
		t.Errorf("Start's key came from the pool (%v)", err)
	}
}

func TestStart(t *testing.T) {
	t.Parallel()
	c, err := Start(WithRSAKeyBits(1024))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SigningKey().N.BitLen(); got != 1024 {
		t.Errorf("key size %d", got)
	}
	reviewer := c.ReviewerToken("kube-system", "bench")
	if tr := mustReview(t, c, reviewer, c.Token("ns", "app")); !tr.Status.Authenticated {
		t.Errorf("review: %+v", tr.Status)
	}
	client := c.Client()
	c.Close()
	c.Close() // twice is fine
	if _, err := client.Get(c.URL() + "/version"); err == nil {
		t.Error("closed cluster still answers")
	}
}
