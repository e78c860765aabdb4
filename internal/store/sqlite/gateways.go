package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const gatewayCols = `id, name, identity_id, pool_id, version, remote_addr, replica, connected_at, heartbeat_at, created_at, updated_at`

func scanGateway(r rowScanner) (store.Gateway, error) {
	var (
		g                                      store.Gateway
		pool                                   sql.NullString
		connected, heartbeat, created, updated sql.NullInt64
	)
	if err := r.Scan(&g.ID, &g.Name, &g.IdentityID, &pool, &g.Version, &g.RemoteAddr, &g.Replica,
		&connected, &heartbeat, &created, &updated); err != nil {
		return store.Gateway{}, err
	}
	g.PoolID = pool.String
	g.ConnectedAt, g.HeartbeatAt = fromMicros(connected), fromMicros(heartbeat)
	g.CreatedAt, g.UpdatedAt = fromMicros(created), fromMicros(updated)
	return g, nil
}

// CreateGateway stores a new gateway.
func (s *Store) CreateGateway(ctx context.Context, g store.Gateway) error {
	if err := checkText("create gateway", g.ID, g.Name, g.IdentityID, g.PoolID, g.Version, g.RemoteAddr, g.Replica); err != nil {
		return err
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO gateways (`+gatewayCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.Name, g.IdentityID, nullString(g.PoolID), g.Version, g.RemoteAddr, g.Replica,
		micros(g.ConnectedAt), micros(g.HeartbeatAt), micros(g.CreatedAt), micros(g.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create gateway %q: %w", g.Name, mapErr(err))
	}
	return nil
}

// GetGateway returns one gateway.
func (s *Store) GetGateway(ctx context.Context, id string) (store.Gateway, error) {
	if err := checkText("get gateway", id); err != nil {
		return store.Gateway{}, err
	}
	g, err := scanGateway(s.read.QueryRowContext(ctx, `SELECT `+gatewayCols+` FROM gateways WHERE id = ?`, id))
	if err != nil {
		return store.Gateway{}, notFound(err, "gateway %s", id)
	}
	return g, nil
}

// GetGatewayByName returns the gateway of that name.
func (s *Store) GetGatewayByName(ctx context.Context, name string) (store.Gateway, error) {
	if err := checkText("get gateway", name); err != nil {
		return store.Gateway{}, err
	}
	g, err := scanGateway(s.read.QueryRowContext(ctx, `SELECT `+gatewayCols+` FROM gateways WHERE name = ?`, name))
	if err != nil {
		return store.Gateway{}, notFound(err, "gateway %q", name)
	}
	return g, nil
}

// ListGateways returns every gateway ordered by name.
func (s *Store) ListGateways(ctx context.Context) ([]store.Gateway, error) {
	return listRows(ctx, s, "list gateways", `SELECT `+gatewayCols+` FROM gateways ORDER BY name`, nil, scanGateway)
}

// UpdateGateway runs update on the gateway and stores the result.
func (s *Store) UpdateGateway(ctx context.Context, id string, update func(*store.Gateway) error) (store.Gateway, error) {
	if err := checkText("update gateway", id); err != nil {
		return store.Gateway{}, err
	}
	return updateRow(ctx, s, "gateway "+id, func(tx *sql.Tx) (store.Gateway, error) {
		return scanGateway(tx.QueryRowContext(ctx, `SELECT `+gatewayCols+` FROM gateways WHERE id = ?`, id))
	}, update, func(tx *sql.Tx, g store.Gateway) (store.Gateway, error) {
		if err := checkText("update gateway", g.Name, g.PoolID, g.Version, g.RemoteAddr, g.Replica); err != nil {
			return store.Gateway{}, err
		}
		return scanGateway(tx.QueryRowContext(ctx, `UPDATE gateways SET name = ?, pool_id = ?, version = ?,
			remote_addr = ?, replica = ?, connected_at = ?, heartbeat_at = ?, updated_at = ? WHERE id = ? RETURNING `+gatewayCols,
			g.Name, nullString(g.PoolID), g.Version, g.RemoteAddr, g.Replica, micros(g.ConnectedAt), micros(g.HeartbeatAt),
			micros(g.UpdatedAt), id))
	})
}

// DeleteGateway deletes a gateway.
func (s *Store) DeleteGateway(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "gateways", "gateway", id)
}

const poolCols = `id, name, created_at, updated_at`

func scanPool(r rowScanner) (store.GatewayPool, error) {
	var (
		p                store.GatewayPool
		created, updated sql.NullInt64
	)
	if err := r.Scan(&p.ID, &p.Name, &created, &updated); err != nil {
		return store.GatewayPool{}, err
	}
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	return p, nil
}

// CreateGatewayPool stores a new pool.
func (s *Store) CreateGatewayPool(ctx context.Context, p store.GatewayPool) error {
	if err := checkText("create gateway pool", p.ID, p.Name); err != nil {
		return err
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO gateway_pools (`+poolCols+`) VALUES (?, ?, ?, ?)`,
		p.ID, p.Name, micros(p.CreatedAt), micros(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create gateway pool %q: %w", p.Name, mapErr(err))
	}
	return nil
}

// GetGatewayPool returns one pool.
func (s *Store) GetGatewayPool(ctx context.Context, id string) (store.GatewayPool, error) {
	if err := checkText("get gateway pool", id); err != nil {
		return store.GatewayPool{}, err
	}
	p, err := scanPool(s.read.QueryRowContext(ctx, `SELECT `+poolCols+` FROM gateway_pools WHERE id = ?`, id))
	if err != nil {
		return store.GatewayPool{}, notFound(err, "gateway pool %s", id)
	}
	return p, nil
}

// ListGatewayPools returns every pool ordered by name.
func (s *Store) ListGatewayPools(ctx context.Context) ([]store.GatewayPool, error) {
	return listRows(ctx, s, "list gateway pools", `SELECT `+poolCols+` FROM gateway_pools ORDER BY name`, nil, scanPool)
}

// UpdateGatewayPool runs update on the pool and stores the result.
func (s *Store) UpdateGatewayPool(ctx context.Context, id string, update func(*store.GatewayPool) error) (store.GatewayPool, error) {
	if err := checkText("update gateway pool", id); err != nil {
		return store.GatewayPool{}, err
	}
	return updateRow(ctx, s, "gateway pool "+id, func(tx *sql.Tx) (store.GatewayPool, error) {
		return scanPool(tx.QueryRowContext(ctx, `SELECT `+poolCols+` FROM gateway_pools WHERE id = ?`, id))
	}, update, func(tx *sql.Tx, p store.GatewayPool) (store.GatewayPool, error) {
		if err := checkText("update gateway pool", p.Name); err != nil {
			return store.GatewayPool{}, err
		}
		return scanPool(tx.QueryRowContext(ctx, `UPDATE gateway_pools SET name = ?, updated_at = ? WHERE id = ? RETURNING `+poolCols,
			p.Name, micros(p.UpdatedAt), id))
	})
}

// DeleteGatewayPool deletes a pool; ON DELETE SET NULL takes its members
// out of it.
func (s *Store) DeleteGatewayPool(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "gateway_pools", "gateway pool", id)
}

func (s *Store) deleteByID(ctx context.Context, table, what, id string) error {
	if err := checkText("delete "+what, id); err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete %s %s: %w", what, id, mapErr(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: delete %s %s: %w", what, id, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: delete %s %s: %w", what, id, store.ErrNotFound)
	}
	return nil
}

// GatewayUsers lists the auth methods and mounts whose config names id as
// gatewayId or gatewayPoolId.
func (s *Store) GatewayUsers(ctx context.Context, id string) ([]store.GatewayUser, error) {
	if err := checkText("gateway users", id); err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, `
		SELECT id, identity_id, '' FROM auth_methods
		WHERE json_valid(config) AND (json_extract(config, '$.gatewayId') = ?1 OR json_extract(config, '$.gatewayPoolId') = ?1)
		UNION ALL
		SELECT '', '', path FROM mounts
		WHERE json_valid(config) AND (json_extract(config, '$.gatewayId') = ?1 OR json_extract(config, '$.gatewayPoolId') = ?1)
		ORDER BY 1, 3`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: gateway users: %w", err)
	}
	defer rows.Close()
	out := []store.GatewayUser{}
	for rows.Next() {
		var u store.GatewayUser
		if err := rows.Scan(&u.AuthMethodID, &u.IdentityID, &u.MountPath); err != nil {
			return nil, fmt.Errorf("sqlite: gateway users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: gateway users: %w", err)
	}
	return out, nil
}

// listRows reads every row of a query.
func listRows[T any](ctx context.Context, s *Store, op, query string, args []any, scan func(rowScanner) (T, error)) ([]T, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return out, nil
}
