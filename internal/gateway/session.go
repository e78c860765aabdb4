package gateway

import (
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// session is a yamux session whose open streams it tracks, so that none
// is still blocked in Read or Write when the session shuts down.
//
// Why: in yamux v0.1.2 a Read or Write blocked on a stream whose session
// is shutting down loops without returning (its wait wakes on the closed
// shutdown channel and starts again) until Session.Close gets round to
// force-closing the streams (hashicorp/yamux#176, still open). Every idle
// keep-alive stream of an HTTP client or server has such a blocked Read,
// so with a few hundred of them on one CPU the goroutine that closes the
// session starves for tens of seconds: a gateway's shutdown, or the
// server's, stalled. So before the session closes (Close), and at once
// when the peer or a failed keepalive closed it (the watcher of
// CloseChan), every tracked stream gets an expired deadline: its blocked
// calls return a timeout, and later ones fail at once.
type session struct {
	ys *yamux.Session

	mu      sync.Mutex
	streams map[*stream]struct{}
	expired bool // every stream's deadline is in the past
}

// expiredDeadline is the deadline of a session's streams once it closes.
var expiredDeadline = time.Unix(1, 0)

func newSession(ys *yamux.Session) *session {
	s := &session{ys: ys, streams: map[*stream]struct{}{}}
	go func() {
		<-ys.CloseChan()
		s.unblock()
	}()
	return s
}

// OpenStream opens a tracked stream.
func (s *session) OpenStream() (net.Conn, error) {
	st, err := s.ys.OpenStream()
	if err != nil {
		return nil, err
	}
	return s.track(st), nil
}

// Accept waits for the peer's next stream and tracks it.
func (s *session) Accept() (net.Conn, error) {
	st, err := s.ys.AcceptStream()
	if err != nil {
		return nil, err
	}
	return s.track(st), nil
}

// Close unblocks every stream, then closes the session.
func (s *session) Close() error {
	s.unblock()
	return s.ys.Close()
}

func (s *session) CloseChan() <-chan struct{}   { return s.ys.CloseChan() }
func (s *session) IsClosed() bool               { return s.ys.IsClosed() }
func (s *session) Ping() (time.Duration, error) { return s.ys.Ping() }
func (s *session) GoAway() error                { return s.ys.GoAway() }
func (s *session) Addr() net.Addr               { return s.ys.Addr() }

// tracked is how many streams are open and tracked.
func (s *session) tracked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

func (s *session) untrack(st *stream) {
	s.mu.Lock()
	delete(s.streams, st)
	s.mu.Unlock()
}

func (s *session) setDeadline(f func(time.Time) error, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expired {
		t = expiredDeadline // a closing session's streams stay unblocked
	}
	return f(t)
}

func (s *session) track(ys *yamux.Stream) *stream {
	st := &stream{Stream: ys, sess: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expired {
		_ = ys.SetDeadline(expiredDeadline)
		return st
	}
	s.streams[st] = struct{}{}
	return st
}

// unblock gives every tracked stream, and every later one, an expired
// deadline (yamux's SetDeadline wakes the calls blocked on it).
func (s *session) unblock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired = true
	for st := range s.streams {
		_ = st.Stream.SetDeadline(expiredDeadline)
	}
	clear(s.streams)
}

// stream is a tracked yamux stream.
type stream struct {
	*yamux.Stream
	sess *session
}

func (st *stream) Close() error {
	st.sess.untrack(st)
	return st.Stream.Close()
}

// The deadline setters keep an unblocked stream's expired deadline.
func (st *stream) SetDeadline(t time.Time) error {
	return st.sess.setDeadline(st.Stream.SetDeadline, t)
}
func (st *stream) SetReadDeadline(t time.Time) error {
	return st.sess.setDeadline(st.Stream.SetReadDeadline, t)
}
func (st *stream) SetWriteDeadline(t time.Time) error {
	return st.sess.setDeadline(st.Stream.SetWriteDeadline, t)
}
