package bounded

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The OIDC issuer's keys, exchange audiences and Vault roles: each call
// bounded like every other.

func (b *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return call(ctx, b, func(ctx context.Context) ([]store.SigningKey, error) { return b.s.ListSigningKeys(ctx) })
}

func (b *Store) AddSigningKeyIfDue(ctx context.Context, k store.SigningKey, notAfter time.Time) (bool, error) {
	return call(ctx, b, func(ctx context.Context) (bool, error) { return b.s.AddSigningKeyIfDue(ctx, k, notAfter) })
}

func (b *Store) DeleteSigningKey(ctx context.Context, id string) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.DeleteSigningKey(ctx, id) })
}

func (b *Store) ExchangeAudiences(ctx context.Context, identityID string) ([]string, string, error) {
	type r struct {
		auds []string
		name string
	}
	x, err := call(ctx, b, func(ctx context.Context) (r, error) {
		auds, name, err := b.s.ExchangeAudiences(ctx, identityID)
		return r{auds, name}, err
	})
	return x.auds, x.name, err
}

func (b *Store) SetExchangeAudiences(ctx context.Context, identityID string, audiences []string, now time.Time) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.SetExchangeAudiences(ctx, identityID, audiences, now) })
}

func (b *Store) PutOIDCRole(ctx context.Context, r store.OIDCRole) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.PutOIDCRole(ctx, r) })
}

func (b *Store) GetOIDCRole(ctx context.Context, name string) (store.OIDCRole, error) {
	return call(ctx, b, func(ctx context.Context) (store.OIDCRole, error) { return b.s.GetOIDCRole(ctx, name) })
}

func (b *Store) ListOIDCRoles(ctx context.Context) ([]store.OIDCRole, error) {
	return call(ctx, b, func(ctx context.Context) ([]store.OIDCRole, error) { return b.s.ListOIDCRoles(ctx) })
}

func (b *Store) DeleteOIDCRole(ctx context.Context, name string) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.DeleteOIDCRole(ctx, name) })
}
