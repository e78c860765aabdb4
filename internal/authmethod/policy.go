// Package authmethod holds what every login method shares: the token
// policy an auth method puts on the tokens it issues (TTL, max TTL, period,
// use limit, trusted IPs), its validation rules and defaults, and the
// Infisical wire form of trusted-IP lists. Kubernetes Auth and Universal
// Auth validate their token settings here so the rules cannot drift apart.
package authmethod

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/clientip"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Limits and defaults of the Infisical contract.
const (
	// MaxTTLLimit bounds accessTokenTTL and accessTokenMaxTTL (ten years).
	MaxTTLLimit = 315360000
	// DefaultTTL is the default accessTokenTTL and accessTokenMaxTTL (30 days).
	DefaultTTL = 2592000
	// MaxTrustedIPs bounds the length of a trusted-IP list.
	MaxTrustedIPs = 100
)

// DefaultTrustedIPs allows every address.
func DefaultTrustedIPs() []string { return []string{"0.0.0.0/0", "::/0"} }

// TrustedIP is one entry of a trusted-IP list as clients send it.
type TrustedIP struct {
	IPAddress string `json:"ipAddress"`
}

// TrustedIPView is one entry as the API returns it (Infisical's shape).
type TrustedIPView struct {
	IPAddress string `json:"ipAddress"`
	Type      string `json:"type"`
	Prefix    int    `json:"prefix"`
}

// ViewTrustedIPs turns stored CIDRs into the API's shape.
func ViewTrustedIPs(cidrs []string) []TrustedIPView {
	out := make([]TrustedIPView, 0, len(cidrs))
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			continue
		}
		typ := "ipv4"
		if p.Addr().Is6() {
			typ = "ipv6"
		}
		out = append(out, TrustedIPView{IPAddress: p.Addr().String(), Type: typ, Prefix: p.Bits()})
	}
	return out
}

// parseTrustedIPs validates a list and returns its canonical CIDRs.
func parseTrustedIPs(field string, in []TrustedIP) ([]string, []errs.FieldError) {
	if len(in) == 0 {
		return nil, []errs.FieldError{{Path: field, Message: "must have at least 1 entry"}}
	}
	if len(in) > MaxTrustedIPs {
		return nil, []errs.FieldError{{Path: field, Message: fmt.Sprintf("must have at most %d entries", MaxTrustedIPs)}}
	}
	var fields []errs.FieldError
	entries := make([]string, len(in))
	for i, e := range in {
		entries[i] = strings.TrimSpace(e.IPAddress)
		if _, err := clientip.ParsePrefixList(entries[i : i+1]); err != nil {
			fields = append(fields, errs.FieldError{Path: fmt.Sprintf("%s.%d.ipAddress", field, i), Message: "must be an IPv4 or IPv6 address or CIDR"})
		}
	}
	if len(fields) > 0 {
		return nil, fields
	}
	prefixes, err := clientip.ParsePrefixList(entries)
	if err != nil {
		return nil, []errs.FieldError{{Path: field, Message: err.Error()}}
	}
	out := make([]string, 0, len(prefixes))
	seen := map[string]bool{}
	for _, p := range prefixes {
		if s := p.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// PolicyInput is the token settings of a create or update request; nil
// fields are absent. TrustedIPsField names the JSON field of TrustedIPs
// (e.g. "accessTokenTrustedIps").
type PolicyInput struct {
	TTL          *int64
	MaxTTL       *int64
	NumUsesLimit *int64
	Period       *int64
	TrustedIPs   *[]TrustedIP
}

// Field names in the Infisical API.
const (
	FieldTTL          = "accessTokenTTL"
	FieldMaxTTL       = "accessTokenMaxTTL"
	FieldNumUsesLimit = "accessTokenNumUsesLimit"
	FieldPeriod       = "accessTokenPeriod"
	FieldTrustedIPs   = "accessTokenTrustedIps"
)

// Create validates the settings of a new auth method, fills in defaults
// and returns the policy. TTLs must be 0 < x < MaxTTLLimit, as Infisical's
// attach contract says, and the TTL may not exceed the max TTL.
func (in PolicyInput) Create() (store.TokenPolicy, error) {
	p := store.TokenPolicy{TTL: DefaultTTL, MaxTTL: DefaultTTL, TrustedIPs: DefaultTrustedIPs()}
	var fields []errs.FieldError
	setInt := func(dst *int64, v *int64, field string, min, max int64, msg string) {
		if v == nil {
			return
		}
		if *v < min || *v > max {
			fields = append(fields, errs.FieldError{Path: field, Message: msg})
			return
		}
		*dst = *v
	}
	setInt(&p.TTL, in.TTL, FieldTTL, 1, MaxTTLLimit-1, "must be greater than 0 and less than 315360000")
	setInt(&p.MaxTTL, in.MaxTTL, FieldMaxTTL, 1, MaxTTLLimit-1, "must be greater than 0 and less than 315360000")
	setInt(&p.NumUsesLimit, in.NumUsesLimit, FieldNumUsesLimit, 0, 1<<53, "must be an integer >= 0")
	setInt(&p.Period, in.Period, FieldPeriod, 0, MaxTTLLimit, "must be an integer from 0 to 315360000")
	return in.finish(p, fields)
}

// Update applies the set fields to cur. TTLs may be 0 ("no limit from this
// field") up to MaxTTLLimit; the resulting TTL may not exceed the resulting
// max TTL when both are set.
func (in PolicyInput) Update(cur store.TokenPolicy) (store.TokenPolicy, error) {
	p := cur
	p.TrustedIPs = append([]string(nil), cur.TrustedIPs...)
	var fields []errs.FieldError
	setInt := func(dst *int64, v *int64, field string, max int64) {
		if v == nil {
			return
		}
		if *v < 0 || *v > max {
			fields = append(fields, errs.FieldError{Path: field, Message: fmt.Sprintf("must be an integer from 0 to %d", max)})
			return
		}
		*dst = *v
	}
	setInt(&p.TTL, in.TTL, FieldTTL, MaxTTLLimit)
	setInt(&p.MaxTTL, in.MaxTTL, FieldMaxTTL, MaxTTLLimit)
	setInt(&p.NumUsesLimit, in.NumUsesLimit, FieldNumUsesLimit, 1<<53)
	setInt(&p.Period, in.Period, FieldPeriod, MaxTTLLimit)
	return in.finish(p, fields)
}

// finish applies the trusted IPs of in to p, then reports the field errors
// collected so far, or else the rules across fields.
func (in PolicyInput) finish(p store.TokenPolicy, fields []errs.FieldError) (store.TokenPolicy, error) {
	if in.TrustedIPs != nil {
		ips, fe := parseTrustedIPs(FieldTrustedIPs, *in.TrustedIPs)
		fields = append(fields, fe...)
		p.TrustedIPs = ips
	}
	if len(fields) > 0 {
		return store.TokenPolicy{}, errs.Validation(fields...)
	}
	if err := checkTTLs(p); err != nil {
		return store.TokenPolicy{}, err
	}
	return p, nil
}

// ParseTrustedIPList validates another trusted-IP list of a method (e.g.
// Universal Auth's clientSecretTrustedIps) under the same rules.
func ParseTrustedIPList(field string, in []TrustedIP) ([]string, error) {
	ips, fields := parseTrustedIPs(field, in)
	if len(fields) > 0 {
		return nil, errs.Validation(fields...)
	}
	return ips, nil
}

func checkTTLs(p store.TokenPolicy) error {
	if p.TTL > 0 && p.MaxTTL > 0 && p.TTL > p.MaxTTL {
		return errs.New(errs.BadRequest, "Access token TTL cannot be greater than max TTL (accessTokenTTL %d > accessTokenMaxTTL %d)", p.TTL, p.MaxTTL)
	}
	return nil
}
