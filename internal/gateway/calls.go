package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

// Review has a gateway (or a member of a pool) post a TokenReview body to
// its API server with its own service-account token. When the session
// drops during the call, it is retried once on another connected member
// of the pool. Errors: unknown gateway or pool (400), none connected or
// the connection lost (503), no answer within the timeout (504), the
// gateway could not reach its API server (502).
func (s *Service) Review(ctx context.Context, gatewayID, poolID string, body []byte) (Answer, error) {
	return s.call(ctx, gatewayID, poolID, http.MethodPost, ReviewPath, body)
}

// Document has a gateway read one of its API server's issuer discovery
// documents (DiscoveryPath or JWKSPath) with its own token.
func (s *Service) Document(ctx context.Context, gatewayID, poolID, path string) (Answer, error) {
	return s.call(ctx, gatewayID, poolID, http.MethodGet, path, nil)
}

func (s *Service) call(ctx context.Context, gatewayID, poolID, method, path string, body []byte) (Answer, error) {
	return withMember(ctx, s, gatewayID, poolID, func(ctx context.Context, c *conn) (Answer, error) {
		return c.do(ctx, method, path, body)
	})
}

// withMember runs f, within the timeout, on the session of the gateway or
// of a connected member of the pool. When the session fails under f on a
// pool, f is tried once more on another member. A domain error (*errs.Error)
// from f is returned as it is.
func withMember[T any](ctx context.Context, s *Service, gatewayID, poolID string, f func(context.Context, *conn) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var zero T
	var tried *conn
	var lastErr error
	for attempt := 0; ; attempt++ {
		c, err := s.pick(ctx, gatewayID, poolID, triedID(tried))
		if err != nil {
			if tried != nil {
				return zero, s.lost(tried, poolID, lastErr)
			}
			return zero, err
		}
		v, err := f(ctx, c)
		if err == nil {
			return v, nil
		}
		if cerr := s.ctxError(ctx, c); cerr != nil {
			return zero, cerr
		}
		var de *errs.Error
		if errors.As(err, &de) {
			return zero, err
		}
		// The session failed under the call.
		if poolID == "" || attempt > 0 {
			return zero, s.lost(c, poolID, err)
		}
		tried, lastErr = c, err
	}
}

func triedID(c *conn) string {
	if c == nil {
		return ""
	}
	return c.gw.ID
}

// lost is the error for a call whose session failed under it (err), or
// whose stream could not be opened through the replica holding it.
func (s *Service) lost(c *conn, poolID string, err error) error {
	var he *errHolder
	if errors.As(err, &he) {
		s.log.Warn("gateway stream through another replica failed", "gateway_id", c.gw.ID, "replica", he.replica, "error", he.err)
		in := ""
		if poolID != "" {
			in = fmt.Sprintf(" (no other member of pool %s could answer)", poolID)
		}
		return errs.Because(errs.Unavailable, ErrNotConnected,
			"gateway %s (%s) is connected to the replica %s, which could not be reached%s: check that every replica's --replica-url is reachable from the others; retry",
			c.gw.Name, c.gw.ID, he.replica, in)
	}
	if poolID != "" {
		return errs.Because(errs.Unavailable, ErrConnectionLost, "the connection to gateway %s (%s) of pool %s was lost during the call, and no other member could answer; retry", c.gw.Name, c.gw.ID, poolID)
	}
	return errs.Because(errs.Unavailable, ErrConnectionLost, "the connection to gateway %s (%s) was lost during the call; retry when it has reconnected", c.gw.Name, c.gw.ID)
}

// ctxError is the error for a call cut by its context: the timeout (504)
// or the caller gone.
func (s *Service) ctxError(ctx context.Context, c *conn) error {
	switch err := ctx.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return errs.Because(errs.Timeout, ErrTimeout, "gateway %s (%s) did not answer within %s: check the gateway's logs and its API server's health", c.gw.Name, c.gw.ID, s.timeout)
	default:
		return err
	}
}

// do makes one call on c's session.
func (c *conn) do(ctx context.Context, method, path string, body []byte) (Answer, error) {
	resp, raw, err := c.call(ctx, method, path, body)
	if err != nil {
		return Answer{}, err
	}
	if len(raw) > maxAnswerBytes {
		return Answer{}, errs.Because(errs.BadGateway, ErrUpstream, "gateway %s answered more than %d KiB", c.gw.Name, maxAnswerBytes>>10)
	}
	if resp.Header.Get(HeaderUpstreamError) != "" {
		return Answer{}, errs.Because(errs.BadGateway, ErrUpstream, "gateway %s could not get an answer from its Kubernetes API server: %s",
			c.gw.Name, gatewayMessage(raw))
	}
	return Answer{Code: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: raw}, nil
}

// Dial opens a TCP relay through a gateway (or a member of a pool) to
// addr ("host:port"): the gateway connects and from then on copies bytes
// both ways. The caller does TLS over it, end to end. A gateway that
// refuses addr (not its API server, not on its allow list) is a 502
// GatewayRelayRefused; a failure to open the relay on a pool is tried once
// on another member.
func (s *Service) Dial(ctx context.Context, gatewayID, poolID, addr string) (net.Conn, error) {
	return withMember(ctx, s, gatewayID, poolID, func(ctx context.Context, c *conn) (net.Conn, error) {
		return c.connect(ctx, addr)
	})
}

func (c *conn) connect(ctx context.Context, addr string) (net.Conn, error) {
	stream, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = stream.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = stream.SetDeadline(time.Now()) })
	defer stop()
	if _, err := fmt.Fprintf(stream, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr); err != nil {
		stream.Close()
		return nil, err
	}
	br := bufio.NewReader(stream)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		stream.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		stream.Close()
		if resp.StatusCode == http.StatusForbidden {
			return nil, errs.Because(errs.BadGateway, ErrRelayRefused,
				"gateway %s refused to relay to %s: %s; set kubernetesHost to the API server the gateway serves, or add the host to the gateway's --allow-relay list",
				c.gw.Name, addr, gatewayMessage(raw))
		}
		return nil, errs.Because(errs.BadGateway, ErrUpstream, "gateway %s could not relay to %s (HTTP %d): %s", c.gw.Name, addr, resp.StatusCode, gatewayMessage(raw))
	}
	if !stop() {
		stream.Close()
		return nil, ctx.Err()
	}
	_ = stream.SetDeadline(time.Time{})
	return &bufferedConn{Conn: stream, r: br}, nil
}

// bufferedConn reads first what the CONNECT answer's reader holds.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// gatewayMessage is the "message" of a gateway's JSON error body, clipped.
func gatewayMessage(raw []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &m) == nil && m.Message != "" {
		return clip(m.Message, 300)
	}
	return clip(strings.TrimSpace(string(raw)), 200)
}
