package gateway

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// PoolView is a pool with its members.
type PoolView struct {
	store.GatewayPool
	Members []View
}

func (s *Service) poolView(ctx context.Context, p store.GatewayPool) (PoolView, error) {
	gws, err := s.store.ListGateways(ctx)
	if err != nil {
		return PoolView{}, errs.Wrap(err, "listing gateways")
	}
	v := PoolView{GatewayPool: p, Members: []View{}}
	for _, g := range gws {
		if g.PoolID == p.ID {
			v.Members = append(v.Members, s.view(g))
		}
	}
	return v, nil
}

func (s *Service) pool(ctx context.Context, id string) (store.GatewayPool, error) {
	if err := identity.CheckID("poolId", id); err != nil {
		return store.GatewayPool{}, err
	}
	p, err := s.store.GetGatewayPool(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.GatewayPool{}, errs.Because(errs.NotFound, ErrNotFound, "Gateway pool with ID %s not found", id)
	}
	if err != nil {
		return store.GatewayPool{}, errs.Wrap(err, "reading gateway pool")
	}
	return p, nil
}

// CreatePool creates a pool.
func (s *Service) CreatePool(ctx context.Context, p identity.Principal, name string) (PoolView, error) {
	if err := p.RequireAdmin("creating a gateway pool"); err != nil {
		return PoolView{}, err
	}
	if err := checkName("pool name", name); err != nil {
		return PoolView{}, err
	}
	now := s.now()
	pool := store.GatewayPool{ID: uuid.NewString(), Name: name, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateGatewayPool(ctx, pool); errors.Is(err, store.ErrAlreadyExists) {
		return PoolView{}, errs.New(errs.Conflict, "a gateway pool named %q already exists", name)
	} else if err != nil {
		return PoolView{}, errs.Wrap(err, "storing gateway pool")
	}
	s.auditRecord(ctx, store.AuditEvent{Type: TypePoolChange, Success: true, ActorID: p.ActorID(),
		Details: map[string]string{"poolId": pool.ID, "name": name, "change": "create"}})
	return PoolView{GatewayPool: pool, Members: []View{}}, nil
}

// ListPools returns every pool with its members.
func (s *Service) ListPools(ctx context.Context, p identity.Principal) ([]PoolView, error) {
	if err := p.RequireMember("listing gateway pools"); err != nil {
		return nil, err
	}
	pools, err := s.store.ListGatewayPools(ctx)
	if err != nil {
		return nil, errs.Wrap(err, "listing gateway pools")
	}
	out := make([]PoolView, 0, len(pools))
	for _, pool := range pools {
		v, err := s.poolView(ctx, pool)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// GetPool returns one pool with its members.
func (s *Service) GetPool(ctx context.Context, p identity.Principal, id string) (PoolView, error) {
	if err := p.RequireMember("reading a gateway pool"); err != nil {
		return PoolView{}, err
	}
	pool, err := s.pool(ctx, id)
	if err != nil {
		return PoolView{}, err
	}
	return s.poolView(ctx, pool)
}

// RenamePool renames a pool.
func (s *Service) RenamePool(ctx context.Context, p identity.Principal, id, name string) (PoolView, error) {
	if err := p.RequireAdmin("updating a gateway pool"); err != nil {
		return PoolView{}, err
	}
	if _, err := s.pool(ctx, id); err != nil {
		return PoolView{}, err
	}
	if err := checkName("pool name", name); err != nil {
		return PoolView{}, err
	}
	pool, err := s.store.UpdateGatewayPool(ctx, id, func(pl *store.GatewayPool) error {
		pl.Name, pl.UpdatedAt = name, s.now()
		return nil
	})
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return PoolView{}, errs.New(errs.Conflict, "a gateway pool named %q already exists", name)
	case errors.Is(err, store.ErrNotFound):
		return PoolView{}, errs.Because(errs.NotFound, ErrNotFound, "Gateway pool with ID %s not found", id)
	case err != nil:
		return PoolView{}, errs.Wrap(err, "updating gateway pool")
	}
	s.auditRecord(ctx, store.AuditEvent{Type: TypePoolChange, Success: true, ActorID: p.ActorID(),
		Details: map[string]string{"poolId": id, "name": name, "change": "rename"}})
	return s.poolView(ctx, pool)
}

// DeletePool deletes a pool; its members stay, in no pool. A pool that a
// Kubernetes Auth configuration names is refused (409).
func (s *Service) DeletePool(ctx context.Context, p identity.Principal, id string) (PoolView, error) {
	if err := p.RequireAdmin("deleting a gateway pool"); err != nil {
		return PoolView{}, err
	}
	pool, err := s.pool(ctx, id)
	if err != nil {
		return PoolView{}, err
	}
	if err := s.inUse(ctx, "gateway pool", id); err != nil {
		return PoolView{}, err
	}
	v, err := s.poolView(ctx, pool)
	if err != nil {
		return PoolView{}, err
	}
	if err := s.store.DeleteGatewayPool(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return PoolView{}, errs.Wrap(err, "deleting gateway pool")
	}
	s.setPool(func(c *conn) bool { return c.poolID == id }, "")
	s.auditRecord(ctx, store.AuditEvent{Type: TypePoolChange, Success: true, ActorID: p.ActorID(),
		Details: map[string]string{"poolId": id, "name": pool.Name, "change": "delete"}})
	return v, nil
}

// AddMember puts a gateway in a pool (moving it out of any other).
func (s *Service) AddMember(ctx context.Context, p identity.Principal, poolID, gatewayID string) (PoolView, error) {
	return s.membership(ctx, p, poolID, gatewayID, true)
}

// RemoveMember takes a gateway out of a pool.
func (s *Service) RemoveMember(ctx context.Context, p identity.Principal, poolID, gatewayID string) (PoolView, error) {
	return s.membership(ctx, p, poolID, gatewayID, false)
}

func (s *Service) membership(ctx context.Context, p identity.Principal, poolID, gatewayID string, add bool) (PoolView, error) {
	if err := p.RequireAdmin("changing gateway pool members"); err != nil {
		return PoolView{}, err
	}
	pool, err := s.pool(ctx, poolID)
	if err != nil {
		return PoolView{}, err
	}
	if _, err := s.gateway(ctx, gatewayID); err != nil {
		return PoolView{}, err
	}
	_, err = s.store.UpdateGateway(ctx, gatewayID, func(g *store.Gateway) error {
		switch {
		case add:
			g.PoolID = poolID
		case g.PoolID != poolID:
			return errs.Because(errs.NotFound, ErrNotFound, "gateway %s is not a member of pool %s", gatewayID, poolID)
		default:
			g.PoolID = ""
		}
		g.UpdatedAt = s.now()
		return nil
	})
	if err != nil {
		return PoolView{}, errs.As(err)
	}
	newPool := ""
	if add {
		newPool = poolID
	}
	s.setPool(func(c *conn) bool { return c.gw.ID == gatewayID }, newPool)
	change := "remove-member"
	if add {
		change = "add-member"
	}
	s.auditRecord(ctx, store.AuditEvent{Type: TypePoolChange, Success: true, ActorID: p.ActorID(),
		Details: map[string]string{"poolId": poolID, "gatewayId": gatewayID, "change": change}})
	return s.poolView(ctx, pool)
}
