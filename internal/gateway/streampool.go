package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The server's end of the calls on a gateway's session (the gateway's own
// client to its API server keeps its connections the same way,
// upstream.go). A call is one HTTP/1.1 request and its answer on a stream
// of the session (or, for a gateway another replica holds, on a
// connection through that replica).
// Streams are kept open between calls, as HTTP keep-alive connections
// are. Unlike http.Transport, whose every round trip crosses two
// goroutines of its own (a write loop and a read loop), the calling
// goroutine writes the request and reads the answer itself: on the login
// path, two goroutine hand-offs fewer per review.

// Stream pool limits.
const (
	maxIdleStreams = 256
	// idleStreamLife is how long an idle stream is kept: well under the
	// gateway's own idle limit (streamIdleTimeout), so a stream the
	// gateway is about to close is never chosen.
	idleStreamLife = 60 * time.Second
)

// poolStream is an open stream and the reader of its answers.
type poolStream struct {
	net.Conn
	br   *bufio.Reader
	idle time.Time // when it was put back
}

// streamPool holds a conn's idle streams, the most recently used on top.
type streamPool struct {
	mu   sync.Mutex
	idle []*poolStream
}

// get returns an idle stream (reused true) or, when none is left or fresh
// is set, one that dial opens.
func (p *streamPool) get(ctx context.Context, dial func(context.Context) (net.Conn, error), now time.Time, fresh bool) (ps *poolStream, reused bool, err error) {
	p.mu.Lock()
	for n := len(p.idle); n > 0 && !fresh; n = len(p.idle) {
		ps = p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if now.Sub(ps.idle) < idleStreamLife {
			p.mu.Unlock()
			return ps, true, nil
		}
		// The rest are older still.
		stale := append([]*poolStream{ps}, p.idle...)
		clear(p.idle)
		p.idle = p.idle[:0]
		p.mu.Unlock()
		closeAll(stale)
		p.mu.Lock()
	}
	p.mu.Unlock()
	c, err := dial(ctx)
	if err != nil {
		return nil, false, err
	}
	return &poolStream{Conn: c, br: bufio.NewReaderSize(c, 4<<10)}, false, nil
}

// put keeps ps for the next call, or closes it when the pool is full.
func (p *streamPool) put(ps *poolStream, now time.Time) {
	ps.idle = now
	p.mu.Lock()
	if len(p.idle) < maxIdleStreams {
		p.idle = append(p.idle, ps)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	ps.Close()
}

// closeIdle closes every idle stream.
func (p *streamPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	closeAll(idle)
}

func closeAll(streams []*poolStream) {
	for _, ps := range streams {
		ps.Close()
	}
}

// errNoAnswer marks a call whose stream failed before any byte of the
// answer came back: on a reused stream (which the gateway may have closed
// meanwhile), the call is made again on a new one.
type errNoAnswer struct{ err error }

func (e *errNoAnswer) Error() string { return e.err.Error() }
func (e *errNoAnswer) Unwrap() error { return e.err }

// appendRequest appends an HTTP/1.1 request to b: method, path, Host,
// the extra header lines ("Name: value", no line breaks) and a JSON body.
func appendRequest(b []byte, method, path, host string, body []byte, extra []string) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for _, h := range extra {
		b = append(b, h...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// roundTrip writes msg (a request of method) on ps and reads the answer,
// its body up to maxAnswerBytes+1 bytes, within ctx. keep reports whether
// ps may carry another call.
func (ps *poolStream) roundTrip(ctx context.Context, msg []byte, method string) (resp *http.Response, body []byte, keep bool, err error) {
	// The context alone bounds the call (not a deadline of the stream's
	// own, which could pass a moment before the context's: the call must
	// fail as the context's timeout, a 504, not as a lost stream).
	stop := context.AfterFunc(ctx, func() { _ = ps.SetDeadline(expiredDeadline) })
	defer stop()
	if _, err := ps.Write(msg); err != nil {
		return nil, nil, false, &errNoAnswer{err}
	}
	if _, err := ps.br.Peek(1); err != nil {
		return nil, nil, false, &errNoAnswer{err}
	}
	resp, err = http.ReadResponse(ps.br, &http.Request{Method: method})
	if err != nil {
		return nil, nil, false, err
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, nil, false, err
	}
	// The answer was read to its end (ReadAll stopped short of the limit),
	// nothing asked to close and the context did not cut the call: the
	// stream can carry the next one.
	keep = len(body) <= maxAnswerBytes && !resp.Close && stop()
	return resp, body, keep, nil
}

// call makes one call on c's streams.
func (c *conn) call(ctx context.Context, method, path string, body []byte) (*http.Response, []byte, error) {
	msg := appendRequest(make([]byte, 0, 128+len(body)), method, path, "gateway", body, nil)
	resp, raw, err := c.streams.call(ctx, c.dial, msg, method)
	if err != nil {
		return nil, nil, fmt.Errorf("the call on the gateway's stream failed: %w", err)
	}
	return resp, raw, nil
}

// call writes msg (a request of method) on a kept connection (or one dial
// opens) and reads its answer; when a reused connection turns out closed
// before answering, the call is made once more on a new one.
func (p *streamPool) call(ctx context.Context, dial func(context.Context) (net.Conn, error), msg []byte, method string) (*http.Response, []byte, error) {
	for fresh := false; ; fresh = true {
		ps, reused, err := p.get(ctx, dial, time.Now(), fresh)
		if err != nil {
			return nil, nil, err
		}
		resp, raw, keep, err := ps.roundTrip(ctx, msg, method)
		if keep {
			p.put(ps, time.Now())
		} else {
			ps.Close()
		}
		var na *errNoAnswer
		if err != nil && reused && errors.As(err, &na) && ctx.Err() == nil {
			// The other idle ones were likely closed with it (a gateway that
			// drains closes its idle streams): once more, on a new one.
			p.closeIdle()
			continue
		}
		return resp, raw, err
	}
}
