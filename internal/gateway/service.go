package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Audit event types.
const (
	TypeConnect    = "gateway-connect"
	TypeDisconnect = "gateway-disconnect"
	TypeDelete     = "gateway-delete"
	TypePoolChange = "gateway-pool-change"
)

// Config configures a Service.
type Config struct {
	Store  store.Store
	Now    func() time.Time
	Logger *slog.Logger
	Audit  *audit.Log // nil: no audit events
	// Heartbeat is how often each live session is pinged, its identity
	// checked again and its record's heartbeat written (DefaultHeartbeat
	// when 0).
	Heartbeat time.Duration
	// Timeout bounds one call through a gateway (DefaultTimeout when 0).
	Timeout time.Duration

	// ReplicaURL is this replica's own URL, reachable by the other
	// replicas ("" = a single server: no record notes a holder). ReplicaKey
	// (nil = no forwarding) signs and checks the streams replicas open
	// through each other; ReplicaTLS verifies the holder (its RootCAs).
	ReplicaURL string
	ReplicaKey []byte
	ReplicaTLS *tls.Config
	// ReplicaNames are the DNS names of this replica's own certificate: a
	// holder reached at an IP address (a pod IP) that its certificate does
	// not cover is accepted when that certificate, verified with
	// ReplicaTLS's roots, is valid for one of them (replicas that share
	// one certificate, or certificates for one service name).
	ReplicaNames []string
}

// Service is the server side of gateways: their records and pools, who
// may act as one, and the live sessions (registry.go).
type Service struct {
	store     store.Store
	now       func() time.Time
	log       *slog.Logger
	audit     *audit.Log
	heartbeat time.Duration
	timeout   time.Duration

	replicaURL string
	replicaKey []byte
	replicaTLS *tls.Config
	// replicaNames: see Config.ReplicaNames.
	replicaNames []string

	mu      sync.Mutex
	conns   map[string]*conn      // live sessions by gateway ID
	remotes map[string]*conn      // gateways other replicas hold, by ID
	pipes   map[net.Conn]struct{} // streams this replica serves to others
	closed  bool
	rr      atomic.Uint64
	served  atomic.Int64   // streams opened here for other replicas
	wg      sync.WaitGroup // session watchers and replica pipes, for Close
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ReplicaTLS == nil {
		cfg.ReplicaTLS = &tls.Config{}
	}
	rt := cfg.ReplicaTLS.Clone()
	rt.MinVersion = max(rt.MinVersion, tls.VersionTLS12)
	rt.NextProtos = []string{"http/1.1"} // the stream is an HTTP/1.1 upgrade
	return &Service{store: cfg.Store, now: cfg.Now, log: cfg.Logger, audit: cfg.Audit,
		heartbeat: cfg.Heartbeat, timeout: cfg.Timeout,
		replicaURL: cfg.ReplicaURL, replicaKey: cfg.ReplicaKey, replicaTLS: rt, replicaNames: cfg.ReplicaNames,
		conns: map[string]*conn{}, remotes: map[string]*conn{}, pipes: map[net.Conn]struct{}{}}
}

// MayActAsGateway reports whether an identity may act as a gateway: it
// holds the admin role, or carries the metadata entry MetadataKey = "true".
func MayActAsGateway(id store.Identity) bool {
	if id.Role == store.RoleAdmin {
		return true
	}
	for _, m := range id.Metadata {
		if m.Key == MetadataKey && m.Value == "true" {
			return true
		}
	}
	return false
}

// Hello is what a connecting gateway says about itself.
type Hello struct {
	Name       string
	Pool       string // a pool ID or name; "" = keep the stored pool
	Version    string
	RemoteAddr string
}

// Admit checks that the caller may act as a gateway and writes the
// gateway's record (created on its first connection, found by name on the
// next ones), and returns it. A name held by another identity's gateway is
// refused.
func (s *Service) Admit(ctx context.Context, p identity.Principal, h Hello) (store.Gateway, error) {
	if p.Root {
		return store.Gateway{}, errs.Because(errs.Forbidden, ErrForbidden, "a gateway must authenticate as a machine identity, not with the root token")
	}
	if err := s.allowed(ctx, p.IdentityID); err != nil {
		return store.Gateway{}, err
	}
	if err := checkName("gateway name", h.Name); err != nil {
		return store.Gateway{}, err
	}
	poolID := ""
	if h.Pool != "" {
		pool, err := s.findPool(ctx, h.Pool)
		if err != nil {
			return store.Gateway{}, err
		}
		poolID = pool.ID
		if err := s.mayJoin(ctx, p.IdentityID, h.Name, pool); err != nil {
			return store.Gateway{}, err
		}
	}
	now := s.now()
	connect := func(g *store.Gateway) error {
		if g.IdentityID != p.IdentityID {
			return errs.Because(errs.Conflict, ErrForbidden, "the gateway name %q belongs to a gateway of another identity; choose another --name", h.Name)
		}
		if poolID != "" {
			g.PoolID = poolID
		}
		g.Version, g.RemoteAddr, g.Replica = clip(h.Version, 64), h.RemoteAddr, s.replicaURL
		g.ConnectedAt, g.HeartbeatAt, g.UpdatedAt = now, now, now
		return nil
	}
	for range 2 {
		cur, err := s.store.GetGatewayByName(ctx, h.Name)
		if err == nil {
			return s.store.UpdateGateway(ctx, cur.ID, connect)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.Gateway{}, errs.Wrap(err, "reading gateway %q", h.Name)
		}
		g := store.Gateway{ID: uuid.NewString(), Name: h.Name, IdentityID: p.IdentityID, CreatedAt: now}
		if err := connect(&g); err != nil {
			return store.Gateway{}, err
		}
		err = s.store.CreateGateway(ctx, g)
		if err == nil {
			return g, nil
		}
		if !errors.Is(err, store.ErrAlreadyExists) {
			return store.Gateway{}, errs.Wrap(err, "storing gateway %q", h.Name)
		}
		// Created meanwhile by another connection: read it again.
	}
	return store.Gateway{}, errs.New(errs.Conflict, "gateway %q is being registered by another connection; retry", h.Name)
}

// allowed fails unless the identity exists and may act as a gateway.
func (s *Service) allowed(ctx context.Context, identityID string) error {
	id, err := s.store.GetIdentity(ctx, identityID)
	if errors.Is(err, store.ErrNotFound) {
		return errs.Because(errs.Forbidden, ErrForbidden, "the identity %s no longer exists", identityID)
	}
	if err != nil {
		return errs.Wrap(err, "reading identity")
	}
	if !MayActAsGateway(id) {
		return errs.Because(errs.Forbidden, ErrForbidden,
			"identity %s may not act as a gateway: give it the admin role or the metadata entry %s=true", identityID, MetadataKey)
	}
	return nil
}

func (s *Service) findPool(ctx context.Context, ref string) (store.GatewayPool, error) {
	if _, err := uuid.Parse(ref); err == nil && len(ref) == 36 {
		p, err := s.store.GetGatewayPool(ctx, ref)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.GatewayPool{}, errs.Wrap(err, "reading gateway pool")
		}
	}
	pools, err := s.store.ListGatewayPools(ctx)
	if err != nil {
		return store.GatewayPool{}, errs.Wrap(err, "listing gateway pools")
	}
	for _, p := range pools {
		if p.Name == ref {
			return p, nil
		}
	}
	return store.GatewayPool{}, errs.New(errs.BadRequest, "gateway pool %q does not exist: create it first (POST /api/v1/gateway-pools)", ref)
}

// mayJoin lets a gateway join a pool by itself (--pool) only when no
// member of the pool authenticates as another identity: one identity
// cannot slip a gateway of its own into a pool others serve. An
// administrator can still add any gateway (AddMember).
func (s *Service) mayJoin(ctx context.Context, identityID, name string, pool store.GatewayPool) error {
	gws, err := s.store.ListGateways(ctx)
	if err != nil {
		return errs.Wrap(err, "listing gateways")
	}
	for _, g := range gws {
		if g.PoolID == pool.ID && g.IdentityID != identityID && g.Name != name {
			return errs.Because(errs.Forbidden, ErrForbidden,
				"gateway pool %q has members that authenticate as another identity: an administrator must add this gateway to it (POST /api/v1/gateway-pools/%s/memberships)", pool.Name, pool.ID)
		}
	}
	return nil
}

func checkName(what, name string) error {
	if name == "" || len(name) > MaxNameLen || strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) {
		return errs.Validation(errs.FieldError{Path: "name", Message: what + " must be 1 to 64 letters, digits, '-', '_' or '.'"})
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// View is a gateway as the API shows it.
type View struct {
	store.Gateway
	Connected bool
}

func (s *Service) view(g store.Gateway) View {
	s.mu.Lock()
	c := s.conns[g.ID]
	s.mu.Unlock()
	return View{Gateway: g, Connected: c != nil && !c.sess.IsClosed() || c == nil && s.heldElsewhere(g)}
}

// List returns every gateway.
func (s *Service) List(ctx context.Context, p identity.Principal) ([]View, error) {
	if err := p.RequireMember("listing gateways"); err != nil {
		return nil, err
	}
	gws, err := s.store.ListGateways(ctx)
	if err != nil {
		return nil, errs.Wrap(err, "listing gateways")
	}
	out := make([]View, 0, len(gws))
	for _, g := range gws {
		out = append(out, s.view(g))
	}
	return out, nil
}

// Get returns one gateway.
func (s *Service) Get(ctx context.Context, p identity.Principal, id string) (View, error) {
	if err := p.RequireMember("reading a gateway"); err != nil {
		return View{}, err
	}
	g, err := s.gateway(ctx, id)
	if err != nil {
		return View{}, err
	}
	return s.view(g), nil
}

func (s *Service) gateway(ctx context.Context, id string) (store.Gateway, error) {
	if err := identity.CheckID("gatewayId", id); err != nil {
		return store.Gateway{}, err
	}
	g, err := s.store.GetGateway(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Gateway{}, errs.Because(errs.NotFound, ErrNotFound, "Gateway with ID %s not found", id)
	}
	if err != nil {
		return store.Gateway{}, errs.Wrap(err, "reading gateway")
	}
	return g, nil
}

// inUse refuses to delete a gateway or pool that a Kubernetes Auth
// configuration names.
func (s *Service) inUse(ctx context.Context, what, id string) error {
	users, err := s.store.GatewayUsers(ctx, id)
	if err != nil {
		return errs.Wrap(err, "finding the users of %s", what)
	}
	if len(users) == 0 {
		return nil
	}
	var names []string
	for _, u := range users {
		if u.MountPath != "" {
			names = append(names, "Vault mount auth/"+u.MountPath)
		} else {
			names = append(names, "identity "+u.IdentityID)
		}
	}
	return errs.Because(errs.Conflict, ErrInUse, "%s %s is used by the Kubernetes Auth of %s: point those configurations elsewhere first",
		what, id, strings.Join(names, ", "))
}

// Delete deletes a gateway and drops its live session. A gateway that a
// Kubernetes Auth configuration names is refused (409).
func (s *Service) Delete(ctx context.Context, p identity.Principal, id string) (View, error) {
	if err := p.RequireAdmin("deleting a gateway"); err != nil {
		return View{}, err
	}
	g, err := s.gateway(ctx, id)
	if err != nil {
		return View{}, err
	}
	if err := s.inUse(ctx, "gateway", id); err != nil {
		return View{}, err
	}
	if err := s.store.DeleteGateway(ctx, id); errors.Is(err, store.ErrNotFound) {
		return View{}, errs.Because(errs.NotFound, ErrNotFound, "Gateway with ID %s not found", id)
	} else if err != nil {
		return View{}, errs.Wrap(err, "deleting gateway")
	}
	v := s.view(g)
	s.drop(id, "deleted by an administrator")
	s.record(ctx, TypeDelete, p.ActorID(), g, nil)
	return v, nil
}

func (s *Service) record(ctx context.Context, typ, actor string, g store.Gateway, extra map[string]string) {
	d := map[string]string{"gatewayId": g.ID, "name": g.Name}
	for k, v := range extra {
		d[k] = v
	}
	s.auditRecord(ctx, store.AuditEvent{Type: typ, Success: true, ActorID: actor, IdentityID: g.IdentityID, Details: d})
}

// sortedIDs is for deterministic selection order.
func sortedIDs(m map[string]*conn) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (s *Service) auditRecord(ctx context.Context, e store.AuditEvent) {
	if s.audit != nil {
		s.audit.Record(ctx, e)
	}
}
