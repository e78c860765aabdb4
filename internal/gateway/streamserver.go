package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The gateway's end of the calls on its session: each stream the server
// opens carries HTTP/1.1 requests one after the other, each answered
// before the next is read (the server's streamPool). One goroutine per
// stream reads a request with net/http's parser, has the handler answer
// it into a buffer, and writes the answer in one write (one yamux frame).
// http.Server would do the same with more per request: a background read
// to notice a closed peer, started and stopped at every call, and a
// buffered writer flushed in pieces. A CONNECT's handler hijacks the
// stream, as it would from http.Server.

// streamIdleTimeout closes a stream the server left idle this long;
// streamBodyTimeout bounds the reading of a request's body.
const (
	streamIdleTimeout = 5 * time.Minute
	streamBodyTimeout = 30 * time.Second
)

// streamServer serves a handler on a session's streams.
type streamServer struct {
	h   http.Handler
	log *slog.Logger

	base   context.Context // the requests' context: cancelled by stop
	cancel context.CancelFunc

	mu       sync.Mutex
	busy     map[net.Conn]bool // every open stream: answering a call or idle
	draining bool
	wg       sync.WaitGroup
}

func newStreamServer(h http.Handler, log *slog.Logger) *streamServer {
	base, cancel := context.WithCancel(context.Background())
	return &streamServer{h: h, log: log, base: base, cancel: cancel, busy: map[net.Conn]bool{}}
}

// serve answers the streams sess accepts until it closes.
func (s *streamServer) serve(sess *session) {
	for {
		st, err := sess.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.draining {
			s.mu.Unlock()
			st.Close()
			continue
		}
		s.busy[st] = false
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveStream(st)
	}
}

// drain stops taking calls: idle streams close at once (a call the server
// was sending on one is made again on a new stream, which a session that
// said GoAway refuses), busy ones after their call. It waits for those
// until ctx ends, then cuts what is left.
func (s *streamServer) drain(ctx context.Context) {
	s.mu.Lock()
	s.draining = true
	for st, busy := range s.busy {
		if !busy {
			abort(st)
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.stop()
	}
}

// stop cuts every call and stream at once.
func (s *streamServer) stop() {
	s.cancel()
	s.mu.Lock()
	s.draining = true
	for st := range s.busy {
		abort(st)
	}
	s.mu.Unlock()
}

// abort closes st and wakes the read waiting on it (a yamux Close only
// half-closes: the read would wait for the peer's).
func abort(st net.Conn) {
	_ = st.SetDeadline(expiredDeadline)
	st.Close()
}

// setBusy marks st busy or idle; false: the server drains, st must close
// once idle.
func (s *streamServer) setBusy(st net.Conn, busy bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy[st] = busy
	return busy || !s.draining
}

func (s *streamServer) serveStream(st net.Conn) {
	hijacked := false
	defer func() {
		if hijacked {
			return // the handler closes it; a drain does not wait for it
		}
		s.mu.Lock()
		delete(s.busy, st)
		s.mu.Unlock()
		st.Close()
		s.wg.Done()
	}()
	br := bufio.NewReaderSize(st, 4<<10)
	for {
		_ = st.SetReadDeadline(time.Now().Add(streamIdleTimeout))
		req, err := http.ReadRequest(br)
		if err != nil {
			var ne net.Error
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !(errors.As(err, &ne) && ne.Timeout()) {
				s.log.Warn("malformed call on the session", "err", err)
				writeAnswer(st, http.StatusBadRequest, http.Header{"Content-Type": {"application/json"}},
					[]byte(`{"message":"malformed request"}`+"\n"), false)
			}
			return
		}
		s.setBusy(st, true)
		// The body must come within streamBodyTimeout.
		_ = st.SetReadDeadline(time.Now().Add(streamBodyTimeout))
		keep := s.answer(st, br, req, func() { hijacked = true; s.release(st) })
		if !keep || !s.setBusy(st, false) {
			return
		}
	}
}

// release forgets a stream a handler hijacked: like http.Server, a drain
// does not wait for relays (they end with the session).
func (s *streamServer) release(st net.Conn) {
	s.mu.Lock()
	delete(s.busy, st)
	s.mu.Unlock()
	s.wg.Done()
}

// answer has the handler answer req and writes the answer; false: the
// stream carries no further call. onHijack runs when the handler takes
// the stream over.
func (s *streamServer) answer(st net.Conn, br *bufio.Reader, req *http.Request, onHijack func()) (keep bool) {
	ctx, cancel := context.WithCancel(s.base)
	defer cancel()
	req = req.WithContext(ctx)
	req.RemoteAddr = st.RemoteAddr().String()
	w := &bufferedAnswer{header: http.Header{}, st: st, br: br, onHijack: onHijack}
	defer func() {
		// As http.Server does: a handler's panic ends its stream, not the
		// gateway.
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				s.log.Error("the gateway's handler panicked", "panic", fmt.Sprint(p))
			}
			keep = false
		}
	}()
	s.h.ServeHTTP(w, req)
	if w.hijacked {
		return false
	}
	// What the handler left of the body is read, up to the limit a gateway
	// takes; a stream whose request is not read to its end carries no
	// further call.
	_, err := io.CopyN(io.Discard, req.Body, maxRequestBytes+1)
	keep = errors.Is(err, io.EOF) && !req.Close
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if err := writeAnswer(st, w.code, w.header, w.body.Bytes(), keep); err != nil {
		return false
	}
	return keep
}

// writeAnswer writes an HTTP/1.1 answer with its body in one write.
func writeAnswer(st net.Conn, code int, header http.Header, body []byte, keep bool) error {
	for _, k := range []string{"Content-Length", "Transfer-Encoding", "Connection"} {
		header.Del(k)
	}
	var b bytes.Buffer
	b.Grow(256 + len(body))
	b.WriteString("HTTP/1.1 ")
	b.WriteString(strconv.Itoa(code))
	b.WriteByte(' ')
	b.WriteString(http.StatusText(code))
	b.WriteString("\r\n")
	_ = header.Write(&b)
	if code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified {
		b.WriteString("Content-Length: ")
		b.WriteString(strconv.Itoa(len(body)))
		b.WriteString("\r\n")
	} else {
		body = nil
	}
	if !keep {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	_, err := st.Write(b.Bytes())
	return err
}

// bufferedAnswer is the ResponseWriter of a call on a stream: the answer
// is kept until the handler returns, then written whole.
type bufferedAnswer struct {
	header   http.Header
	code     int
	body     bytes.Buffer
	st       net.Conn
	br       *bufio.Reader
	hijacked bool
	onHijack func()
}

func (w *bufferedAnswer) Header() http.Header { return w.header }

func (w *bufferedAnswer) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *bufferedAnswer) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.body.Len()+len(p) > maxAnswerBytes {
		return 0, errors.New("the answer is larger than a gateway sends")
	}
	return w.body.Write(p)
}

// Hijack hands the stream over (a CONNECT's relay); what was read past
// the request is in the reader.
func (w *bufferedAnswer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked || w.code != 0 {
		return nil, nil, http.ErrHijacked
	}
	w.hijacked = true
	w.onHijack()
	_ = w.st.SetDeadline(time.Time{})
	return w.st, bufio.NewReadWriter(w.br, bufio.NewWriter(w.st)), nil
}

// SetReadDeadline and SetWriteDeadline let http.ResponseController reach
// the stream, as it would reach an http.Server connection.
func (w *bufferedAnswer) SetReadDeadline(t time.Time) error  { return w.st.SetReadDeadline(t) }
func (w *bufferedAnswer) SetWriteDeadline(t time.Time) error { return w.st.SetWriteDeadline(t) }
