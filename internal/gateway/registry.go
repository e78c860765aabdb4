package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// conn is one live gateway session, or (sess nil) a gateway held by
// another replica, whose streams are opened through that replica.
type conn struct {
	gw      store.Gateway
	poolID  string // guarded by Service.mu
	sess    *session
	replica string // the holder's URL when sess is nil
	dial    func(context.Context) (net.Conn, error)
	streams streamPool // idle streams between calls
	// draining: the gateway said GoAway (it is shutting down); no new
	// call is sent to it.
	draining atomic.Bool
}

// open opens a stream, noting a gateway that is draining.
func (c *conn) open() (net.Conn, error) {
	st, err := c.sess.OpenStream()
	if errors.Is(err, yamux.ErrRemoteGoAway) {
		c.draining.Store(true)
	}
	return st, err
}

// usable reports whether new calls may go to c.
func (c *conn) usable() bool {
	return c.sess == nil || !c.sess.IsClosed() && !c.draining.Load()
}

// newConn returns a conn on sess, or one whose streams dial opens.
func newConn(g store.Gateway, sess *session, dial func(context.Context) (net.Conn, error)) *conn {
	c := &conn{gw: g, poolID: g.PoolID, sess: sess, dial: dial}
	if dial == nil {
		c.dial = func(context.Context) (net.Conn, error) { return c.open() }
	}
	return c
}

// yamuxConfig is the session configuration of both ends: yamux's own
// keepalive pings find a dead peer between heartbeats.
func yamuxConfig(keepalive time.Duration) *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive = true
	cfg.KeepAliveInterval = keepalive
	cfg.ConnectionWriteTimeout = 10 * time.Second
	cfg.StreamOpenTimeout = 10 * time.Second
	cfg.AcceptBacklog = 1024
	cfg.LogOutput = io.Discard
	return cfg
}

// Attach takes over a connection hijacked for gateway g (after Admit) and
// serves it: the server opens streams on it, heartbeats it, and drops it
// when it closes, when the gateway's identity is deleted or demoted, or
// when the gateway is deleted. A session of the same gateway already live
// is replaced.
//
// answer (nil: none) writes the upgrade's answer (101 Switching
// Protocols) straight to the connection. It runs once the session is
// registered, and the session writes nothing before it has: so a gateway
// that has the answer (and reports itself ready) is already usable here.
func (s *Service) Attach(g store.Gateway, rwc io.ReadWriteCloser, answer func() error) error {
	gate := newGate(rwc)
	ys, err := yamux.Client(newFrameWriter(gate), yamuxConfig(s.heartbeat))
	if err != nil {
		rwc.Close()
		return errs.Wrap(err, "starting the gateway session")
	}
	sess := newSession(ys)
	c := newConn(g, sess, nil)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sess.Close()
		return errs.New(errs.Unavailable, "the server is shutting down")
	}
	old := s.conns[g.ID]
	s.conns[g.ID] = c
	s.wg.Add(1) // under mu: Close waits for every watch it has not missed
	s.mu.Unlock()
	if old != nil {
		old.sess.Close()
	}
	s.log.Info("gateway connected", "gateway_id", g.ID, "name", g.Name, "pool_id", g.PoolID, "version", g.Version, "remote_addr", g.RemoteAddr)
	s.record(context.Background(), TypeConnect, g.IdentityID, g, map[string]string{"remoteAddr": g.RemoteAddr, "version": g.Version})
	go func() {
		defer s.wg.Done()
		s.watch(c)
	}()
	if answer != nil {
		if err := answer(); err != nil {
			sess.Close() // the watcher forgets it
			return errs.Wrap(err, "answering the gateway's upgrade")
		}
	}
	gate.open()
	return nil
}

// watch heartbeats c until its session closes, then forgets it.
func (s *Service) watch(c *conn) {
	t := time.NewTicker(s.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-c.sess.CloseChan():
			s.forget(c)
			return
		case <-t.C:
			if _, err := c.sess.Ping(); err != nil {
				c.sess.Close()
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
			if reason := s.refusal(ctx, c); reason != "" {
				s.dropConn(c, reason)
			} else {
				now := s.now()
				_, _ = s.store.UpdateGateway(ctx, c.gw.ID, func(g *store.Gateway) error {
					g.HeartbeatAt = now
					return nil
				})
			}
			cancel()
		}
	}
}

func (s *Service) forget(c *conn) {
	s.mu.Lock()
	if s.conns[c.gw.ID] == c {
		delete(s.conns, c.gw.ID)
	}
	s.mu.Unlock()
	c.streams.closeIdle()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	s.release(ctx, c.gw.ID)
	cancel()
	s.log.Info("gateway disconnected", "gateway_id", c.gw.ID, "name", c.gw.Name)
}

// refusal says why c may no longer serve ("" when it may): its identity
// was deleted or may no longer act as a gateway, or the gateway was
// deleted. A store that cannot answer refuses nothing.
func (s *Service) refusal(ctx context.Context, c *conn) string {
	if err := s.allowed(ctx, c.gw.IdentityID); err != nil {
		if errs.CodeOf(err) == errs.Forbidden {
			return errs.As(err).Message
		}
		return ""
	}
	if _, err := s.store.GetGateway(ctx, c.gw.ID); errors.Is(err, store.ErrNotFound) {
		return "the gateway was deleted"
	}
	return ""
}

// Sweep checks every live session's identity and gateway record now (the
// heartbeat does it on each beat) and drops those refused; it returns how
// many it dropped.
func (s *Service) Sweep(ctx context.Context) int {
	n := 0
	for _, c := range s.live() {
		if reason := s.refusal(ctx, c); reason != "" {
			s.dropConn(c, reason)
			n++
		}
	}
	return n
}

func (s *Service) live() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for _, id := range sortedIDs(s.conns) {
		out = append(out, s.conns[id])
	}
	return out
}

func (s *Service) drop(gatewayID, reason string) {
	s.mu.Lock()
	c := s.conns[gatewayID]
	s.mu.Unlock()
	if c != nil {
		s.dropConn(c, reason)
	}
}

func (s *Service) dropConn(c *conn, reason string) {
	s.log.Warn("gateway session dropped", "gateway_id", c.gw.ID, "name", c.gw.Name, "reason", reason)
	s.record(context.Background(), TypeDisconnect, "gatehouse", c.gw, map[string]string{"reason": reason})
	c.sess.Close()
	s.forget(c)
}

func (s *Service) setPool(match func(*conn) bool, poolID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if match(c) {
			c.poolID = poolID
		}
	}
}

// Connected reports whether gateway id has a live session here.
func (s *Service) Connected(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conns[id]
	return c != nil && !c.sess.IsClosed()
}

// Close drops every session and every stream served to another replica,
// refuses new ones, and waits (a bounded time) for the goroutines that
// watched them to end, so that none still uses the store when the server
// closes it (server shutdown, after the HTTP server has drained: the
// requests it waited for may have needed these sessions, and it never
// sees them, being hijacked). The order: refuse new sessions and pipes;
// close the pipes served to other replicas; close each session (its
// streams unblocked first, see session.go) and release its record; wait
// for the watchers.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	conns, pipes, remotes := s.conns, s.pipes, s.remotes
	s.conns, s.pipes, s.remotes = map[string]*conn{}, map[net.Conn]struct{}{}, map[string]*conn{}
	s.mu.Unlock()
	for p := range pipes {
		p.Close()
	}
	for _, c := range remotes {
		c.streams.closeIdle()
	}
	// The records stop naming this replica (bounded: a store that does
	// not answer must not hold the shutdown up).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, c := range conns {
		c.sess.Close()
		c.streams.closeIdle()
		s.release(ctx, c.gw.ID)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.timeout + time.Second): // each store call is bounded by s.timeout
		s.log.Warn("gateway sessions still closing at shutdown")
	}
}

// pick chooses the session for a call: the gateway's own, or a connected
// member of the pool other than exclude (a gateway ID), in turn; sessions
// held here first, then those other replicas hold.
func (s *Service) pick(ctx context.Context, gatewayID, poolID, exclude string) (*conn, error) {
	s.mu.Lock()
	var chosen *conn
	if poolID == "" {
		if c := s.conns[gatewayID]; c != nil && c.usable() && gatewayID != exclude {
			chosen = c
		}
	} else {
		var members []*conn
		for _, id := range sortedIDs(s.conns) {
			if c := s.conns[id]; c.poolID == poolID && c.usable() && id != exclude {
				members = append(members, c)
			}
		}
		if len(members) > 0 {
			chosen = members[s.rr.Add(1)%uint64(len(members))]
		}
	}
	s.mu.Unlock()
	if chosen == nil {
		chosen = s.pickRemote(ctx, gatewayID, poolID, exclude)
	}
	if chosen != nil {
		return chosen, nil
	}
	return nil, s.notConnected(ctx, gatewayID, poolID)
}

// notConnected tells an unknown gateway or pool (400) from one with
// nothing connected (503).
func (s *Service) notConnected(ctx context.Context, gatewayID, poolID string) error {
	if poolID != "" {
		if _, err := s.store.GetGatewayPool(ctx, poolID); errors.Is(err, store.ErrNotFound) {
			return errs.Because(errs.BadRequest, ErrNotFound, "gateway pool %s does not exist: set gatewayPoolId to an existing pool", poolID)
		}
		return errs.Because(errs.Unavailable, ErrNotConnected, "no gateway of pool %s is connected: start a gateway of that pool in the cluster (gatehouse gateway --pool) and check its logs", poolID)
	}
	if _, err := s.store.GetGateway(ctx, gatewayID); errors.Is(err, store.ErrNotFound) {
		return errs.Because(errs.BadRequest, ErrNotFound, "gateway %s does not exist: set gatewayId to a registered gateway (GET /api/v2/gateways)", gatewayID)
	}
	return errs.Because(errs.Unavailable, ErrNotConnected, "gateway %s is not connected: check that it runs in the cluster and can reach this server", gatewayID)
}

// Answer is a gateway's answer to a call: its API server's status,
// Content-Type and body, as they were.
type Answer struct {
	Code        int
	ContentType string
	Body        []byte
}
