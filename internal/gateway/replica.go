package gateway

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Several replicas: each replica that runs with a replica URL notes it in
// the record of every gateway connected to it (store.Gateway.Replica).
// Another replica that needs a stream to that gateway opens it through the
// holder: GET ReplicaStreamPath upgraded to ReplicaProtocol, signed with
// the replicas' shared key; the holder opens a yamux stream to the gateway
// and copies bytes both ways. The stream is then used exactly as a local
// one (HTTP calls, CONNECT relays).
const (
	// ReplicaStreamPattern is the holder's route (http.ServeMux pattern).
	ReplicaStreamPattern = "GET /internal/v1/gateways/{id}/stream"
	ReplicaProtocol      = "gatehouse-replica/1"

	HeaderReplicaTime      = "Gatehouse-Replica-Time"
	HeaderReplicaSignature = "Gatehouse-Replica-Signature"

	// ReplicaKeyPurpose is what the replicas' shared HMAC key is derived
	// for from the server's encryption key (seal.Key.Derive).
	ReplicaKeyPurpose = "replica-forwarding v1"
	// replicaMaxSkew is how far a signed request's time may be from the
	// holder's clock.
	replicaMaxSkew = 30 * time.Second
)

func replicaStreamPath(gatewayID string) string {
	return "/internal/v1/gateways/" + gatewayID + "/stream"
}

// replicaSignature is the HMAC-SHA256, base64url, of one stream request.
func replicaSignature(key []byte, method, path, gatewayID string, unix int64) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s\n%s\n%s\n%d", method, path, gatewayID, unix)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verifyReplica checks a stream request's signature: 401 when it is not
// signed, 403 when the signature is wrong or its time too far off.
func (s *Service) verifyReplica(r *http.Request, gatewayID string) (int, string) {
	ts, sig := r.Header.Get(HeaderReplicaTime), r.Header.Get(HeaderReplicaSignature)
	if ts == "" || sig == "" {
		return http.StatusUnauthorized, "a replica stream request must be signed (" + HeaderReplicaTime + ", " + HeaderReplicaSignature + ")"
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return http.StatusForbidden, "bad " + HeaderReplicaTime
	}
	want := replicaSignature(s.replicaKey, r.Method, r.URL.Path, gatewayID, unix)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return http.StatusForbidden, "bad replica signature: do all replicas share one encryption key?"
	}
	if skew := s.now().Sub(time.Unix(unix, 0)); skew > replicaMaxSkew || skew < -replicaMaxSkew {
		return http.StatusForbidden, "stale replica signature: are the replicas' clocks in sync?"
	}
	return 0, ""
}

// ServeReplicaStream is the holder's side: it checks the signature, opens
// a stream to the gateway it holds and, after 101 Switching Protocols,
// copies bytes both ways until either end closes.
func (s *Service) ServeReplicaStream(w http.ResponseWriter, r *http.Request) {
	if s.replicaKey == nil {
		http.NotFound(w, r)
		return
	}
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		writeMessage(w, http.StatusBadRequest, "", "bad gateway id")
		return
	}
	if code, msg := s.verifyReplica(r, id); code != 0 {
		s.log.Warn("replica stream refused", "gateway_id", id, "remote_addr", r.RemoteAddr, "reason", msg)
		writeMessage(w, code, "", msg)
		return
	}
	if !IsUpgrade(r, ReplicaProtocol) {
		writeMessage(w, http.StatusBadRequest, "", "this endpoint takes an upgraded connection (Upgrade: "+ReplicaProtocol+")")
		return
	}
	s.mu.Lock()
	c := s.conns[id]
	s.mu.Unlock()
	if c == nil || !c.usable() {
		writeMessage(w, http.StatusServiceUnavailable, "", "gateway "+id+" is not connected to this replica")
		return
	}
	stream, err := c.open()
	if err != nil {
		writeMessage(w, http.StatusServiceUnavailable, "", "gateway "+id+" could not open a stream")
		return
	}
	down, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		stream.Close()
		writeMessage(w, http.StatusBadRequest, "", "the replica stream must be HTTP/1.1")
		return
	}
	_ = down.SetDeadline(time.Time{})
	if !s.track(down) {
		stream.Close()
		down.Close()
		return
	}
	defer s.untrack(down)
	s.served.Add(1)
	if _, err := io.WriteString(down, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+ReplicaProtocol+"\r\n\r\n"); err != nil {
		stream.Close()
		down.Close()
		return
	}
	pipe(stream, &bufferedConn{Conn: down, r: brw.Reader})
}

// ReplicaStreamsServed is how many streams this replica has opened to
// its gateways for other replicas (for metrics and tests).
func (s *Service) ReplicaStreamsServed() int64 { return s.served.Load() }

// pipe copies both ways, half-closing each side when the other is done,
// then closes both.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(a, b); closeWrite(a); done <- struct{}{} }()
	go func() { _, _ = io.Copy(b, a); closeWrite(b); done <- struct{}{} }()
	<-done
	<-done
	a.Close()
	b.Close()
}

// track notes a hijacked replica connection so that Close can end it; it
// refuses when the service is closed.
func (s *Service) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.pipes[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Service) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.pipes, c)
	s.mu.Unlock()
	s.wg.Done()
}

// IsUpgrade reports whether r asks to switch its connection to protocol
// (Connection: upgrade among its tokens, Upgrade: protocol, any case).
func IsUpgrade(r *http.Request, protocol string) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), protocol) {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return true
			}
		}
	}
	return false
}

// errHolder is a failure to open a stream through the replica holding the
// gateway's connection (unreachable, refused, or no longer holding it).
type errHolder struct {
	replica string
	err     error
}

func (e *errHolder) Error() string { return "replica " + e.replica + ": " + e.err.Error() }
func (e *errHolder) Unwrap() error { return e.err }

// dialReplica opens a stream to gateway g through the replica at base.
func (s *Service) dialReplica(ctx context.Context, base, gatewayID string) (net.Conn, error) {
	fail := func(err error) (net.Conn, error) { return nil, &errHolder{replica: base, err: err} }
	u, err := url.Parse(base)
	if err != nil {
		return fail(err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[bool]string{true: "443", false: "80"}[u.Scheme == "https"])
	}
	var nc net.Conn
	d := &net.Dialer{Timeout: s.timeout}
	if u.Scheme == "https" {
		conf := s.replicaTLS.Clone()
		conf.ServerName = u.Hostname()
		if ip := net.ParseIP(u.Hostname()); ip != nil && len(s.replicaNames) > 0 {
			// Verified below: the same chain, valid for the IP address
			// or for one of this replica's own names.
			conf.InsecureSkipVerify = true
			conf.VerifyConnection = func(cs tls.ConnectionState) error {
				return verifyReplicaPeer(cs, conf.RootCAs, u.Hostname(), s.replicaNames)
			}
		}
		nc, err = (&tls.Dialer{NetDialer: d, Config: conf}).DialContext(ctx, "tcp", host)
	} else {
		nc, err = d.DialContext(ctx, "tcp", host)
	}
	if err != nil {
		return fail(err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	defer stop()
	path := strings.TrimSuffix(u.Path, "/") + replicaStreamPath(gatewayID)
	now := s.now().Unix()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: Upgrade\r\nUpgrade: " + ReplicaProtocol +
		"\r\n" + HeaderReplicaTime + ": " + strconv.FormatInt(now, 10) +
		"\r\n" + HeaderReplicaSignature + ": " + replicaSignature(s.replicaKey, http.MethodGet, path, gatewayID, now) + "\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return fail(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		nc.Close()
		return fail(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		nc.Close()
		return fail(fmt.Errorf("HTTP %d: %s", resp.StatusCode, gatewayMessage(raw)))
	}
	if !stop() {
		nc.Close()
		return fail(ctx.Err())
	}
	_ = nc.SetDeadline(time.Time{})
	return &bufferedConn{Conn: nc, r: br}, nil
}

// heldElsewhere reports whether g's record says a replica other than this one
// holds its connection, with a heartbeat recent enough.
func (s *Service) heldElsewhere(g store.Gateway) bool {
	if s.replicaKey == nil || g.Replica == "" || g.Replica == s.replicaURL {
		return false
	}
	return s.now().Sub(g.HeartbeatAt) <= 3*s.heartbeat
}

// remote returns the (cached) handle that opens streams to gateway g
// through the replica holding it.
func (s *Service) remote(g store.Gateway) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.remotes[g.ID]; c != nil && c.replica == g.Replica {
		return c
	}
	if old := s.remotes[g.ID]; old != nil {
		go old.streams.closeIdle()
	}
	base, id := g.Replica, g.ID
	c := newConn(g, nil, func(ctx context.Context) (net.Conn, error) { return s.dialReplica(ctx, base, id) })
	c.replica = base
	s.remotes[g.ID] = c
	return c
}

// pickRemote chooses a gateway held by another replica: gatewayID's own,
// or a member of poolID other than exclude, in turn.
func (s *Service) pickRemote(ctx context.Context, gatewayID, poolID, exclude string) *conn {
	if s.replicaKey == nil {
		return nil
	}
	if poolID == "" {
		g, err := s.store.GetGateway(ctx, gatewayID)
		if err != nil || g.ID == exclude || !s.heldElsewhere(g) {
			return nil
		}
		return s.remote(g)
	}
	gws, err := s.store.ListGateways(ctx)
	if err != nil {
		return nil
	}
	var members []store.Gateway
	for _, g := range gws {
		if g.PoolID == poolID && g.ID != exclude && s.heldElsewhere(g) {
			members = append(members, g)
		}
	}
	if len(members) == 0 {
		return nil
	}
	return s.remote(members[s.rr.Add(1)%uint64(len(members))])
}

// release clears this replica from the record of a gateway whose
// connection it no longer holds (unless the gateway has reconnected
// meanwhile, here or elsewhere).
func (s *Service) release(ctx context.Context, gatewayID string) {
	if s.replicaURL == "" {
		return
	}
	errKeep := errors.New("keep")
	_, _ = s.store.UpdateGateway(ctx, gatewayID, func(g *store.Gateway) error {
		s.mu.Lock()
		_, again := s.conns[gatewayID]
		s.mu.Unlock()
		if again || g.Replica != s.replicaURL {
			return errKeep
		}
		g.Replica = ""
		return nil
	})
}

// verifyReplicaPeer verifies the certificate a holder reached at the IP
// address host presented: a chain to roots for server authentication,
// valid for host or for one of names (the DNS names of this replica's own
// certificate: the holder serves the same service).
func verifyReplicaPeer(cs tls.ConnectionState, roots *x509.CertPool, host string, names []string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the replica presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return err
	}
	if leaf.VerifyHostname(host) == nil {
		return nil
	}
	for _, n := range names {
		if leaf.VerifyHostname(n) == nil {
			return nil
		}
	}
	return fmt.Errorf("the replica's certificate is valid neither for %s nor for a name of this replica's own certificate %v", host, names)
}
