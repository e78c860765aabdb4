package bounded

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Gateways and pools: each call bounded like every other.

func (b *Store) CreateGateway(ctx context.Context, g store.Gateway) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.CreateGateway(ctx, g) })
}

func (b *Store) GetGateway(ctx context.Context, id string) (store.Gateway, error) {
	return call(ctx, b, func(ctx context.Context) (store.Gateway, error) { return b.s.GetGateway(ctx, id) })
}

func (b *Store) GetGatewayByName(ctx context.Context, name string) (store.Gateway, error) {
	return call(ctx, b, func(ctx context.Context) (store.Gateway, error) { return b.s.GetGatewayByName(ctx, name) })
}

func (b *Store) ListGateways(ctx context.Context) ([]store.Gateway, error) {
	return call(ctx, b, func(ctx context.Context) ([]store.Gateway, error) { return b.s.ListGateways(ctx) })
}

func (b *Store) UpdateGateway(ctx context.Context, id string, update func(*store.Gateway) error) (store.Gateway, error) {
	return call(ctx, b, func(ctx context.Context) (store.Gateway, error) { return b.s.UpdateGateway(ctx, id, update) })
}

func (b *Store) DeleteGateway(ctx context.Context, id string) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.DeleteGateway(ctx, id) })
}

func (b *Store) CreateGatewayPool(ctx context.Context, p store.GatewayPool) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.CreateGatewayPool(ctx, p) })
}

func (b *Store) GetGatewayPool(ctx context.Context, id string) (store.GatewayPool, error) {
	return call(ctx, b, func(ctx context.Context) (store.GatewayPool, error) { return b.s.GetGatewayPool(ctx, id) })
}

func (b *Store) ListGatewayPools(ctx context.Context) ([]store.GatewayPool, error) {
	return call(ctx, b, func(ctx context.Context) ([]store.GatewayPool, error) { return b.s.ListGatewayPools(ctx) })
}

func (b *Store) UpdateGatewayPool(ctx context.Context, id string, update func(*store.GatewayPool) error) (store.GatewayPool, error) {
	return call(ctx, b, func(ctx context.Context) (store.GatewayPool, error) { return b.s.UpdateGatewayPool(ctx, id, update) })
}

func (b *Store) DeleteGatewayPool(ctx context.Context, id string) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.DeleteGatewayPool(ctx, id) })
}

func (b *Store) GatewayUsers(ctx context.Context, id string) ([]store.GatewayUser, error) {
	return call(ctx, b, func(ctx context.Context) ([]store.GatewayUser, error) { return b.s.GatewayUsers(ctx, id) })
}
