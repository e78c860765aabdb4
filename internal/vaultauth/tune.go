package vaultauth

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authmethod"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Tune is what `vault auth tune` sets on a mount besides its description:
// the TTL limits of the tokens its logins issue (0 = the system's, 768h).
// It is kept in the mount's config document under "tune", beside the
// cluster config, which a config write leaves it out of (keepTune).
type Tune struct {
	DefaultLeaseTTL int64 `json:"defaultLeaseTtl,omitempty"`
	MaxLeaseTTL     int64 `json:"maxLeaseTtl,omitempty"`
	ForceNoCache    bool  `json:"forceNoCache,omitempty"`
}

// TuneInput is a tune write; nil fields are left as they are.
type TuneInput struct {
	Description                  *string
	DefaultLeaseTTL, MaxLeaseTTL *int64 // 0: back to the system's
	ForceNoCache                 *bool
}

// TuneView is a mount's tune as the API shows it.
type TuneView struct {
	Description string
	Tune
}

// EffectiveDefaultTTL and EffectiveMaxTTL are the limits in force: the
// mount's, else the system's.
func (t Tune) EffectiveDefaultTTL() int64 { return cmp.Or(t.DefaultLeaseTTL, SystemDefaultTTL) }
func (t Tune) EffectiveMaxTTL() int64     { return cmp.Or(t.MaxLeaseTTL, SystemDefaultTTL) }

// tuneDoc is the part of a mount's config document this file owns.
type tuneDoc struct {
	Tune *Tune `json:"tune,omitempty"`
}

// TuneOf reads a mount's tune (the zero Tune when never tuned).
func TuneOf(m store.Mount) (Tune, error) {
	if m.Config == nil {
		return Tune{}, nil
	}
	var d tuneDoc
	if err := json.Unmarshal(m.Config, &d); err != nil {
		return Tune{}, errs.Wrap(err, "stored config of mount %s is unreadable", m.Path)
	}
	if d.Tune == nil {
		return Tune{}, nil
	}
	return *d.Tune, nil
}

// withTune returns the config document doc (nil: none) with its tune
// replaced by t (removed when zero).
func withTune(doc json.RawMessage, t Tune) (json.RawMessage, error) {
	fields := map[string]json.RawMessage{}
	if doc != nil {
		if err := json.Unmarshal(doc, &fields); err != nil {
			return nil, errs.Wrap(err, "stored mount config is unreadable")
		}
	}
	delete(fields, "tune")
	if t != (Tune{}) {
		raw, err := json.Marshal(t)
		if err != nil {
			return nil, errs.Wrap(err, "encoding tune")
		}
		fields["tune"] = raw
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return nil, errs.Wrap(err, "encoding mount config")
	}
	return out, nil
}

// keepTune is a config write's new document next with the tune of the
// stored one, cur.
func keepTune(cur, next json.RawMessage) (json.RawMessage, error) {
	t, err := TuneOf(store.Mount{Config: cur})
	if err != nil || t == (Tune{}) {
		return next, err
	}
	return withTune(next, t)
}

// ReadTune returns a mount's description and tune.
func (s *Service) ReadTune(ctx context.Context, p identity.Principal, path string) (TuneView, error) {
	if err := p.RequireAdmin("reading an auth method's tuning"); err != nil {
		return TuneView{}, err
	}
	m, err := s.mount(ctx, path)
	if err != nil {
		return TuneView{}, err
	}
	t, err := TuneOf(m)
	if err != nil {
		return TuneView{}, err
	}
	return TuneView{Description: m.Description, Tune: t}, nil
}

// WriteTune changes a mount's description and tune, in one store
// transaction. The default TTL may not exceed the max TTL (the system's
// when the mount sets none), as in Vault. The new limits apply to the
// tokens of later logins.
func (s *Service) WriteTune(ctx context.Context, p identity.Principal, path string, in TuneInput) error {
	if err := p.RequireAdmin("tuning an auth method"); err != nil {
		return err
	}
	m, err := s.mount(ctx, path)
	if err != nil {
		return err
	}
	if in.Description != nil && len(*in.Description) > MaxDescriptionLen {
		return errs.New(errs.BadRequest, "description must be at most %d characters", MaxDescriptionLen)
	}
	for _, d := range []struct {
		field string
		v     *int64
	}{{"default_lease_ttl", in.DefaultLeaseTTL}, {"max_lease_ttl", in.MaxLeaseTTL}} {
		if d.v != nil && (*d.v < 0 || *d.v > authmethod.MaxTTLLimit) {
			return errs.New(errs.BadRequest, "%s must be between 0 (the system's) and %d seconds", d.field, authmethod.MaxTTLLimit)
		}
	}
	var tuned Tune
	m, err = s.store.UpdateMount(ctx, m.Path, func(m *store.Mount) error {
		t, err := TuneOf(*m)
		if err != nil {
			return err
		}
		if in.DefaultLeaseTTL != nil {
			t.DefaultLeaseTTL = *in.DefaultLeaseTTL
		}
		if in.MaxLeaseTTL != nil {
			t.MaxLeaseTTL = *in.MaxLeaseTTL
		}
		if in.ForceNoCache != nil {
			t.ForceNoCache = *in.ForceNoCache
		}
		switch {
		case t.MaxLeaseTTL == 0 && t.DefaultLeaseTTL > SystemDefaultTTL:
			return errs.New(errs.BadRequest, "new backend default lease TTL of %d greater than system max lease TTL of %d", t.DefaultLeaseTTL, SystemDefaultTTL)
		case t.MaxLeaseTTL != 0 && t.DefaultLeaseTTL > t.MaxLeaseTTL:
			return errs.New(errs.BadRequest, "new backend default lease TTL of %d greater than backend max lease TTL of %d", t.DefaultLeaseTTL, t.MaxLeaseTTL)
		}
		// A mount never configured nor tuned keeps a nil document.
		if t != (Tune{}) || m.Config != nil {
			if m.Config, err = withTune(m.Config, t); err != nil {
				return err
			}
		}
		if in.Description != nil {
			m.Description = *in.Description
		}
		m.UpdatedAt, tuned = s.now(), t
		return nil
	})
	if err != nil {
		if e := errs.As(err); e.Code == errs.BadRequest {
			return err
		}
		return errs.Wrap(err, "storing tune")
	}
	s.audit.Record(ctx, store.AuditEvent{Type: audit.TypeMountConfigure, Success: true, ActorID: p.ActorID(),
		AuthMethod: string(store.AuthMethodVaultKubernetes), Details: map[string]string{
			"path": m.Path, "defaultLeaseTtl": strconv.FormatInt(tuned.DefaultLeaseTTL, 10), "maxLeaseTtl": strconv.FormatInt(tuned.MaxLeaseTTL, 10),
		}})
	return nil
}

// policyOn is the token policy a role's tokens get on a mount tuned t,
// Vault's rules: the TTL is the role's, else the mount's default, else
// the system's; the max TTL is the mount's (else the system's), lowered
// by the role's max TTL and explicit max TTL, and caps the TTL and the
// period; the bound CIDRs are the trusted IPs.
func (r Role) policyOn(t Tune) store.TokenPolicy {
	maxTTL := t.EffectiveMaxTTL()
	for _, lower := range []int64{r.MaxTTL, r.ExplicitMaxTTL} {
		if lower > 0 && lower < maxTTL {
			maxTTL = lower
		}
	}
	ttl := min(cmp.Or(r.TTL, t.EffectiveDefaultTTL()), maxTTL)
	p := store.TokenPolicy{TTL: ttl, MaxTTL: maxTTL, Period: min(r.Period, maxTTL), NumUsesLimit: r.NumUses,
		TrustedIPs: authmethod.DefaultTrustedIPs()}
	if len(r.BoundCIDRs) > 0 {
		p.TrustedIPs = slices.Clone(r.BoundCIDRs)
	}
	return p
}
