package tokencache

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Signing keys and exchange audiences are not part of any token check:
// none of these writes can change a kept answer.

func (c *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return c.s.ListSigningKeys(ctx)
}

func (c *Store) AddSigningKeyIfDue(ctx context.Context, k store.SigningKey, notAfter time.Time) (bool, error) {
	return c.s.AddSigningKeyIfDue(ctx, k, notAfter)
}

func (c *Store) DeleteSigningKey(ctx context.Context, id string) error {
	return c.s.DeleteSigningKey(ctx, id)
}

func (c *Store) ExchangeAudiences(ctx context.Context, identityID string) ([]string, string, error) {
	return c.s.ExchangeAudiences(ctx, identityID)
}

func (c *Store) SetExchangeAudiences(ctx context.Context, identityID string, audiences []string, now time.Time) error {
	return c.s.SetExchangeAudiences(ctx, identityID, audiences, now)
}

func (c *Store) PutOIDCRole(ctx context.Context, r store.OIDCRole) error {
	return c.s.PutOIDCRole(ctx, r)
}

func (c *Store) GetOIDCRole(ctx context.Context, name string) (store.OIDCRole, error) {
	return c.s.GetOIDCRole(ctx, name)
}

func (c *Store) ListOIDCRoles(ctx context.Context) ([]store.OIDCRole, error) {
	return c.s.ListOIDCRoles(ctx)
}

func (c *Store) DeleteOIDCRole(ctx context.Context, name string) error {
	return c.s.DeleteOIDCRole(ctx, name)
}
