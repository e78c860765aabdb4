package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const gatewayColumns = `id, name, identity_id, pool_id, version, remote_addr, replica, connected_at, heartbeat_at, created_at, updated_at`

func scanGateway(row pgx.Row, extra ...any) (store.Gateway, error) {
	var (
		g    store.Gateway
		pool *string
	)
	dest := append([]any{&g.ID, &g.Name, &g.IdentityID, &pool, &g.Version, &g.RemoteAddr, &g.Replica,
		timeDest{&g.ConnectedAt}, timeDest{&g.HeartbeatAt}, timeDest{&g.CreatedAt}, timeDest{&g.UpdatedAt}}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.Gateway{}, err
	}
	if pool != nil {
		g.PoolID = *pool
	}
	return g, nil
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateGateway stores a new gateway.
func (s *Store) CreateGateway(ctx context.Context, g store.Gateway) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO gateways (`+gatewayColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		g.ID, g.Name, g.IdentityID, nullText(g.PoolID), g.Version, g.RemoteAddr, g.Replica,
		timeArg(g.ConnectedAt), timeArg(g.HeartbeatAt), timeArg(g.CreatedAt), timeArg(g.UpdatedAt))
	if err != nil {
		return wrapErr("create gateway", err)
	}
	return nil
}

// GetGateway returns one gateway.
func (s *Store) GetGateway(ctx context.Context, id string) (store.Gateway, error) {
	g, err := scanGateway(s.pool.QueryRow(ctx, `SELECT `+gatewayColumns+` FROM gateways WHERE id = $1`, id))
	if err != nil {
		return store.Gateway{}, wrapErr("get gateway", err)
	}
	return g, nil
}

// GetGatewayByName returns the gateway of that name.
func (s *Store) GetGatewayByName(ctx context.Context, name string) (store.Gateway, error) {
	g, err := scanGateway(s.pool.QueryRow(ctx, `SELECT `+gatewayColumns+` FROM gateways WHERE name = $1`, name))
	if err != nil {
		return store.Gateway{}, wrapErr("get gateway by name", err)
	}
	return g, nil
}

// ListGateways returns every gateway ordered by name (byte order, as
// SQLite orders).
func (s *Store) ListGateways(ctx context.Context) ([]store.Gateway, error) {
	return list(ctx, s, "list gateways", `SELECT `+gatewayColumns+` FROM gateways ORDER BY name COLLATE "C"`, nil, scanGateway)
}

// UpdateGateway locks the gateway, lets update change it and writes it back.
func (s *Store) UpdateGateway(ctx context.Context, id string, update func(*store.Gateway) error) (store.Gateway, error) {
	return updateRow(ctx, s, "update gateway", func(tx pgx.Tx) (store.Gateway, error) {
		return scanGateway(tx.QueryRow(ctx, `SELECT `+gatewayColumns+` FROM gateways WHERE id = $1 FOR UPDATE`, id))
	}, update, func(tx pgx.Tx, g store.Gateway) (store.Gateway, error) {
		return scanGateway(tx.QueryRow(ctx, `UPDATE gateways SET name = $2, pool_id = $3, version = $4,
			remote_addr = $5, connected_at = $6, heartbeat_at = $7, updated_at = $8, replica = $9 WHERE id = $1 RETURNING `+gatewayColumns,
			id, g.Name, nullText(g.PoolID), g.Version, g.RemoteAddr, timeArg(g.ConnectedAt), timeArg(g.HeartbeatAt), timeArg(g.UpdatedAt), g.Replica))
	})
}

// DeleteGateway deletes a gateway.
func (s *Store) DeleteGateway(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "gateways", "delete gateway", id)
}

const poolColumns = `id, name, created_at, updated_at`

func scanPool(row pgx.Row, extra ...any) (store.GatewayPool, error) {
	var p store.GatewayPool
	dest := append([]any{&p.ID, &p.Name, timeDest{&p.CreatedAt}, timeDest{&p.UpdatedAt}}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.GatewayPool{}, err
	}
	return p, nil
}

// CreateGatewayPool stores a new pool.
func (s *Store) CreateGatewayPool(ctx context.Context, p store.GatewayPool) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO gateway_pools (`+poolColumns+`) VALUES ($1, $2, $3, $4)`,
		p.ID, p.Name, timeArg(p.CreatedAt), timeArg(p.UpdatedAt))
	if err != nil {
		return wrapErr("create gateway pool", err)
	}
	return nil
}

// GetGatewayPool returns one pool.
func (s *Store) GetGatewayPool(ctx context.Context, id string) (store.GatewayPool, error) {
	p, err := scanPool(s.pool.QueryRow(ctx, `SELECT `+poolColumns+` FROM gateway_pools WHERE id = $1`, id))
	if err != nil {
		return store.GatewayPool{}, wrapErr("get gateway pool", err)
	}
	return p, nil
}

// ListGatewayPools returns every pool ordered by name.
func (s *Store) ListGatewayPools(ctx context.Context) ([]store.GatewayPool, error) {
	return list(ctx, s, "list gateway pools", `SELECT `+poolColumns+` FROM gateway_pools ORDER BY name COLLATE "C"`, nil, scanPool)
}

// UpdateGatewayPool locks the pool, lets update change it and writes it back.
func (s *Store) UpdateGatewayPool(ctx context.Context, id string, update func(*store.GatewayPool) error) (store.GatewayPool, error) {
	return updateRow(ctx, s, "update gateway pool", func(tx pgx.Tx) (store.GatewayPool, error) {
		return scanPool(tx.QueryRow(ctx, `SELECT `+poolColumns+` FROM gateway_pools WHERE id = $1 FOR UPDATE`, id))
	}, update, func(tx pgx.Tx, p store.GatewayPool) (store.GatewayPool, error) {
		return scanPool(tx.QueryRow(ctx, `UPDATE gateway_pools SET name = $2, updated_at = $3 WHERE id = $1 RETURNING `+poolColumns,
			id, p.Name, timeArg(p.UpdatedAt)))
	})
}

// DeleteGatewayPool deletes a pool; ON DELETE SET NULL takes its members
// out of it.
func (s *Store) DeleteGatewayPool(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "gateway_pools", "delete gateway pool", id)
}

func (s *Store) deleteByID(ctx context.Context, table, op, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1`, id)
	if err != nil {
		return wrapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return wrapErr(op, pgx.ErrNoRows)
	}
	return nil
}

// GatewayUsers lists the auth methods and mounts whose config names id as
// gatewayId or gatewayPoolId.
func (s *Store) GatewayUsers(ctx context.Context, id string) ([]store.GatewayUser, error) {
	return list(ctx, s, "gateway users", `
		SELECT id, identity_id, '' FROM auth_methods
		WHERE config->>'gatewayId' = $1 OR config->>'gatewayPoolId' = $1
		UNION ALL
		SELECT '', '', path FROM mounts
		WHERE config->>'gatewayId' = $1 OR config->>'gatewayPoolId' = $1
		ORDER BY 1, 3`, []any{id}, func(row pgx.Row, _ ...any) (store.GatewayUser, error) {
		var u store.GatewayUser
		err := row.Scan(&u.AuthMethodID, &u.IdentityID, &u.MountPath)
		return u, err
	})
}
