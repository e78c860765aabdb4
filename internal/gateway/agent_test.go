package gateway

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	lo := func(int64) int64 { return 0 }
	hi := func(n int64) int64 { return n - 1 }
	min, max := 100*time.Millisecond, 2*time.Second
	for _, tc := range []struct {
		n      int
		lo, hi time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, time.Second, 2 * time.Second},  // capped
		{60, time.Second, 2 * time.Second}, // no overflow
	} {
		if got := Backoff(tc.n, min, max, lo); got != tc.lo {
			t.Errorf("Backoff(%d) lowest = %v, want %v", tc.n, got, tc.lo)
		}
		if got := Backoff(tc.n, min, max, hi); got != tc.hi {
			t.Errorf("Backoff(%d) highest = %v, want %v", tc.n, got, tc.hi)
		}
	}
}

func TestRelayAllowList(t *testing.T) {
	h := &Handler{Upstream: &Upstream{URL: "https://kubernetes.default.svc"}, Allow: []string{"10.0.0.5:6443"}}
	for addr, want := range map[string]bool{
		"kubernetes.default.svc:443": true,
		"KUBERNETES.default.svc:443": true,
		"kubernetes.default.svc:80":  false,
		"10.0.0.5:6443":              true,
		"10.0.0.5:22":                false,
		"169.254.169.254:80":         false,
	} {
		if got := h.allowed(addr); got != want {
			t.Errorf("allowed(%q) = %v, want %v", addr, got, want)
		}
	}
}
