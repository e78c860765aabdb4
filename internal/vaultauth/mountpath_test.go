package vaultauth

import "testing"

func TestCleanMountPathReserved(t *testing.T) {
	for _, bad := range []string{"token", "Token", "TOKEN/x", "x/config", "config", "a/login/b", "role", "x/role"} {
		if got, err := CleanMountPath(bad); err == nil {
			t.Errorf("CleanMountPath(%q) = %q accepted", bad, got)
		}
	}
	for _, ok := range []string{"tokens", "x/token", "configs", "roles/x", "my-login", "Config"} {
		if _, err := CleanMountPath(ok); err != nil {
			t.Errorf("CleanMountPath(%q): %v", ok, err)
		}
	}
}

func TestOverlapping(t *testing.T) {
	paths := []string{"a/b", "kubernetes"}
	for p, want := range map[string]string{
		"a": "a/b", "a/b": "a/b", "a/b/c": "a/b", "kubernetes/role": "kubernetes", "kubernetes": "kubernetes",
		"ab": "", "a/bc": "", "kube": "", "kubernetes2": "", "b": "",
	} {
		if got := overlapping(paths, p); got != want {
			t.Errorf("overlapping(%q) = %q, want %q", p, got, want)
		}
	}
}
