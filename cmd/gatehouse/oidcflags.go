package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/internal/oidc"
)

// addOIDCFlags adds the OIDC issuer's flags.
func addOIDCFlags(fl *pflag.FlagSet, c *oidc.Config) {
	fl.StringVar(&c.Issuer, "issuer-url", "", "the OIDC issuer URL (iss) of exchanged JWTs, as verifiers reach this server, e.g. https://gatehouse.example.com (default: the --listen address's URL)")
	fl.StringVar(&c.Algorithm, "signing-key-algorithm", oidc.ES256, "algorithm of new JWT signing keys: ES256 or RS256")
	fl.DurationVar(&c.Rotation, "signing-key-rotation", oidc.DefaultRotation, "how long a JWT signing key signs before the next one takes over (the next is published one hour before)")
	fl.DurationVar(&c.MaxTTL, "max-exchange-ttl", oidc.DefaultMaxTTL, "the longest life of a JWT minted by token exchange (never past the subject token's own expiry)")
}

// checkOIDCFlags refuses values the issuer cannot work with.
func checkOIDCFlags(c oidc.Config) error {
	if c.Issuer != "" {
		u, err := url.Parse(c.Issuer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("--issuer-url %q: want an http(s) URL without query or fragment", c.Issuer)
		}
		if u.Path != "" && u.Path != "/" {
			return fmt.Errorf("--issuer-url %q: the issuer is served at the root of this server; a path is not supported", c.Issuer)
		}
	}
	if c.Algorithm != oidc.ES256 && c.Algorithm != oidc.RS256 {
		return fmt.Errorf("--signing-key-algorithm must be ES256 or RS256")
	}
	if c.Rotation < 2*oidc.DefaultPublishLead {
		return fmt.Errorf("--signing-key-rotation must be at least %s", 2*oidc.DefaultPublishLead)
	}
	if c.MaxTTL <= 0 || c.MaxTTL > 24*time.Hour {
		return fmt.Errorf("--max-exchange-ttl must be positive and at most 24h")
	}
	return nil
}
