package tokencache

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Gateways and pools touch no access token: every call passes through.

func (c *Store) CreateGateway(ctx context.Context, g store.Gateway) error {
	return c.s.CreateGateway(ctx, g)
}
func (c *Store) GetGateway(ctx context.Context, id string) (store.Gateway, error) {
	return c.s.GetGateway(ctx, id)
}
func (c *Store) GetGatewayByName(ctx context.Context, name string) (store.Gateway, error) {
	return c.s.GetGatewayByName(ctx, name)
}
func (c *Store) ListGateways(ctx context.Context) ([]store.Gateway, error) {
	return c.s.ListGateways(ctx)
}
func (c *Store) UpdateGateway(ctx context.Context, id string, update func(*store.Gateway) error) (store.Gateway, error) {
	return c.s.UpdateGateway(ctx, id, update)
}
func (c *Store) DeleteGateway(ctx context.Context, id string) error {
	return c.s.DeleteGateway(ctx, id)
}
func (c *Store) CreateGatewayPool(ctx context.Context, p store.GatewayPool) error {
	return c.s.CreateGatewayPool(ctx, p)
}
func (c *Store) GetGatewayPool(ctx context.Context, id string) (store.GatewayPool, error) {
	return c.s.GetGatewayPool(ctx, id)
}
func (c *Store) ListGatewayPools(ctx context.Context) ([]store.GatewayPool, error) {
	return c.s.ListGatewayPools(ctx)
}
func (c *Store) UpdateGatewayPool(ctx context.Context, id string, update func(*store.GatewayPool) error) (store.GatewayPool, error) {
	return c.s.UpdateGatewayPool(ctx, id, update)
}
func (c *Store) DeleteGatewayPool(ctx context.Context, id string) error {
	return c.s.DeleteGatewayPool(ctx, id)
}
func (c *Store) GatewayUsers(ctx context.Context, id string) ([]store.GatewayUser, error) {
	return c.s.GatewayUsers(ctx, id)
}
