package store

import (
	"context"
	"time"
)

// Gateway is one gateway: a Gatehouse process inside a cluster that dials
// out to the server and carries cluster-side calls back. Its record is
// written when it connects (ConnectedAt, Version, RemoteAddr) and on each
// heartbeat (HeartbeatAt); whether it is connected right now is only known
// to the server holding its connection.
type Gateway struct {
	ID         string
	Name       string // unique
	IdentityID string // the machine identity it authenticates as
	PoolID     string // "" = in no pool
	Version    string
	RemoteAddr string
	// Replica is the internal URL of the server replica that holds the
	// gateway's connection ("" when a single server holds it, or none):
	// written on each connection, so a reconnect to another replica
	// overwrites it.
	Replica     string
	ConnectedAt time.Time // zero = never connected
	HeartbeatAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// GatewayPool groups gateways: a Kubernetes Auth config naming a pool is
// served by any connected member.
type GatewayPool struct {
	ID        string
	Name      string // unique
	CreatedAt time.Time
	UpdatedAt time.Time
}

// GatewayUser is a Kubernetes Auth configuration that names a gateway or
// pool: an identity's auth method (AuthMethodID) or a Vault mount
// (MountPath).
type GatewayUser struct {
	AuthMethodID string
	IdentityID   string
	MountPath    string
}

// GatewayStore keeps gateways and pools. A gateway goes with its identity
// (ON DELETE CASCADE); a pool's members leave it when it is deleted.
type GatewayStore interface {
	// CreateGateway stores a new gateway: ErrAlreadyExists on a taken ID or
	// name, ErrNotFound when its identity or pool does not exist.
	CreateGateway(ctx context.Context, g Gateway) error
	GetGateway(ctx context.Context, id string) (Gateway, error)
	GetGatewayByName(ctx context.Context, name string) (Gateway, error)
	// ListGateways returns every gateway ordered by name.
	ListGateways(ctx context.Context) ([]Gateway, error)
	// UpdateGateway runs update on the gateway in one transaction. ID,
	// IdentityID and CreatedAt are not written. ErrNotFound when the
	// gateway, or the pool it is moved to, does not exist.
	UpdateGateway(ctx context.Context, id string, update func(*Gateway) error) (Gateway, error)
	DeleteGateway(ctx context.Context, id string) error

	// CreateGatewayPool: ErrAlreadyExists on a taken ID or name.
	CreateGatewayPool(ctx context.Context, p GatewayPool) error
	GetGatewayPool(ctx context.Context, id string) (GatewayPool, error)
	// ListGatewayPools returns every pool ordered by name.
	ListGatewayPools(ctx context.Context) ([]GatewayPool, error)
	// UpdateGatewayPool: ID and CreatedAt are not written; ErrAlreadyExists
	// on a taken name.
	UpdateGatewayPool(ctx context.Context, id string, update func(*GatewayPool) error) (GatewayPool, error)
	// DeleteGatewayPool deletes the pool; its members stay, in no pool.
	DeleteGatewayPool(ctx context.Context, id string) error

	// GatewayUsers lists the Kubernetes Auth configurations (auth methods
	// and mounts) whose config document has "gatewayId" or
	// "gatewayPoolId" equal to id.
	GatewayUsers(ctx context.Context, id string) ([]GatewayUser, error)
}
