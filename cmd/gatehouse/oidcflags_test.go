package main

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/oidc"
)

func TestCheckOIDCFlags(t *testing.T) {
	good := oidc.Config{Algorithm: oidc.ES256, Rotation: oidc.DefaultRotation, MaxTTL: time.Hour}
	for _, issuer := range []string{"", "https://gatehouse.example.com", "http://127.0.0.1:8080", "https://gatehouse.example.com/"} {
		c := good
		c.Issuer = issuer
		if err := checkOIDCFlags(c); err != nil {
			t.Errorf("issuer %q refused: %v", issuer, err)
		}
	}
	for name, mutate := range map[string]func(*oidc.Config){
		"issuer with a path":  func(c *oidc.Config) { c.Issuer = "https://x.example/gatehouse" },
		"issuer with a query": func(c *oidc.Config) { c.Issuer = "https://x.example?a=b" },
		"issuer not http":     func(c *oidc.Config) { c.Issuer = "ftp://x.example" },
		"issuer without host": func(c *oidc.Config) { c.Issuer = "https://" },
		"HS256":               func(c *oidc.Config) { c.Algorithm = "HS256" },
		"rotation of an hour": func(c *oidc.Config) { c.Rotation = time.Hour },
		"zero max TTL":        func(c *oidc.Config) { c.MaxTTL = 0 },
		"max TTL over a day":  func(c *oidc.Config) { c.MaxTTL = 25 * time.Hour },
	} {
		c := good
		mutate(&c)
		if err := checkOIDCFlags(c); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
