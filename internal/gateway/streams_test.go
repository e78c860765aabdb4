package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// streamEnv is a server-side Service with one gateway attached over a
// loopback TCP session, served by a streamServer with h.
type streamEnv struct {
	s   *Service
	g   store.Gateway
	srv *streamServer
}

func newStreamEnv(t *testing.T, h http.Handler) *streamEnv {
	t.Helper()
	s := New(Config{Heartbeat: time.Hour, Timeout: 10 * time.Second})
	t.Cleanup(s.Close)
	g := store.Gateway{ID: "8d1c3f0e-2b7a-4c59-9e61-3a5b7c9d1e20", Name: "streams"}
	serverEnd, gatewayEnd := tcpPair(t)
	ys, err := yamux.Server(newFrameWriter(gatewayEnd), yamuxConfig(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sess := newSession(ys)
	srv := newStreamServer(h, slog.New(slog.DiscardHandler))
	go srv.serve(sess)
	t.Cleanup(func() { srv.stop(); sess.Close() })
	if err := s.Attach(g, serverEnd, nil); err != nil {
		t.Fatal(err)
	}
	return &streamEnv{s: s, g: g, srv: srv}
}

func (e *streamEnv) conn() *conn {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	return e.s.conns[e.g.ID]
}

func (e *streamEnv) idle() int {
	c := e.conn()
	c.streams.mu.Lock()
	defer c.streams.mu.Unlock()
	return len(c.streams.idle)
}

// closeIdleStreams closes, on the gateway's side, the streams between calls.
func (e *streamEnv) closeIdleStreams() {
	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	for st, busy := range e.srv.busy {
		if !busy {
			abort(st)
		}
	}
}

func created(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, `{"kind":"TokenReview"}`)
}

// TestStreamReuse: calls one after the other share one stream; when the
// gateway has closed it meanwhile, the next call is made on a new stream
// and answered, not failed.
func TestStreamReuse(t *testing.T) {
	var calls atomic.Int64
	e := newStreamEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		created(w, r)
	}))
	for i := range 3 {
		ans, err := e.s.Review(context.Background(), e.g.ID, "", []byte(`{}`))
		if err != nil || ans.Code != http.StatusCreated || string(ans.Body) != `{"kind":"TokenReview"}` || ans.ContentType != "application/json" {
			t.Fatalf("call %d: %+v, %v", i, ans, err)
		}
		if n := e.idle(); n != 1 {
			t.Fatalf("after call %d, %d idle streams; want the one stream kept", i, n)
		}
	}
	if n := e.conn().sess.ys.NumStreams(); n != 1 {
		t.Fatalf("%d streams open after three calls; want one", n)
	}
	e.closeIdleStreams()
	ans, err := e.s.Review(context.Background(), e.g.ID, "", []byte(`{}`))
	if err != nil || ans.Code != http.StatusCreated {
		t.Fatalf("the call after the gateway closed the idle stream: %+v, %v", ans, err)
	}
	if calls.Load() != 4 {
		t.Fatalf("the gateway answered %d calls; want 4", calls.Load())
	}
}

// TestStreamNotKept: a stream is not used again when the gateway's answer
// is cut at the size limit, or the gateway asked to close it; the calls
// after it are answered on new streams.
func TestStreamNotKept(t *testing.T) {
	var big atomic.Bool
	e := newStreamEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case big.Load():
			_, _ = w.Write([]byte(strings.Repeat("x", maxAnswerBytes))) // the limit: a byte more fails
			_, err := w.Write([]byte("y"))
			if err == nil {
				t.Error("the gateway's answer grew past the limit")
			}
		case r.URL.Path == JWKSPath:
			// The body of a GET is not read; nothing else is wrong.
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, `{"keys":[]}`)
		default:
			created(w, r) // reads the body
		}
	}))
	ans, err := e.s.Document(context.Background(), e.g.ID, "", JWKSPath)
	if err != nil || ans.Code != http.StatusOK || string(ans.Body) != `{"keys":[]}` {
		t.Fatalf("document: %+v, %v", ans, err)
	}
	if n := e.idle(); n != 1 {
		t.Fatalf("%d idle streams after a kept answer; want 1", n)
	}
	big.Store(true)
	ans, err = e.s.Review(context.Background(), e.g.ID, "", []byte(`{}`))
	if err != nil || ans.Code != http.StatusOK || len(ans.Body) != maxAnswerBytes {
		t.Fatalf("an answer at the limit: %d, %d bytes, %v", ans.Code, len(ans.Body), err)
	}
	big.Store(false)
	ans, err = e.s.Review(context.Background(), e.g.ID, "", []byte(`{}`))
	if err != nil || ans.Code != http.StatusCreated {
		t.Fatalf("the next call: %+v, %v", ans, err)
	}
}

// TestStreamAnswerTooLarge: a gateway that answers more than the limit
// is a 502, and its stream is dropped.
func TestStreamAnswerTooLarge(t *testing.T) {
	serverEnd, gatewayEnd := tcpPair(t)
	ys, err := yamux.Server(newFrameWriter(gatewayEnd), yamuxConfig(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ys.Close() })
	s := New(Config{Heartbeat: time.Hour, Timeout: 10 * time.Second})
	t.Cleanup(s.Close)
	g := store.Gateway{ID: "4a0e7f7c-1d3b-4e0a-8f5c-6b2d9e1a3c77", Name: "large"}
	if err := s.Attach(g, serverEnd, nil); err != nil {
		t.Fatal(err)
	}
	go func() { // a gateway that answers past the limit (its own writer would not)
		st, err := ys.AcceptStream()
		if err != nil {
			return
		}
		br := bufio.NewReader(st)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		body := strings.Repeat("x", maxAnswerBytes+10)
		_, _ = io.WriteString(st, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	}()
	_, err = s.Review(context.Background(), g.ID, "", []byte(`{}`))
	if errs.CodeOf(err) != errs.BadGateway || !strings.Contains(err.Error(), "answered more than") {
		t.Fatalf("an answer past the limit: %v; want a 502 naming the limit", err)
	}
	s.mu.Lock()
	c := s.conns[g.ID]
	s.mu.Unlock()
	if len(c.streams.idle) != 0 {
		t.Fatal("the stream of an answer past the limit was kept")
	}
}

// TestStreamServerMalformed: a request net/http cannot parse is a 400
// and the end of the stream.
func TestStreamServerMalformed(t *testing.T) {
	serverEnd, gatewayEnd := tcpPair(t)
	ys, err := yamux.Server(newFrameWriter(gatewayEnd), yamuxConfig(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sess := newSession(ys)
	srv := newStreamServer(http.HandlerFunc(created), slog.New(slog.DiscardHandler))
	go srv.serve(sess)
	t.Cleanup(func() { srv.stop(); sess.Close() })
	client, err := yamux.Client(serverEnd, yamuxConfig(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	st, err := client.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(st, "NOT AN HTTP REQUEST\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(st)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Fatalf("a malformed request: %+v, %v; want a 400 that closes", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the 400, the stream read %v; want its end", err)
	}
}

// TestStreamServerDrain: a drain closes the idle streams at once, lets
// the call in flight finish and answer, then returns.
func TestStreamServerDrain(t *testing.T) {
	release := make(chan struct{})
	var held atomic.Bool
	e := newStreamEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == JWKSPath && held.CompareAndSwap(false, true) {
			<-release
		}
		created(w, r)
	}))
	// Two idle streams: two calls at once, then both kept.
	start := make(chan struct{})
	results := make(chan error, 2)
	for range 2 {
		go func() {
			<-start
			_, err := e.s.Review(context.Background(), e.g.ID, "", []byte(`{}`))
			results <- err
		}()
	}
	close(start)
	for range 2 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	inFlight := make(chan error, 1)
	go func() {
		ans, err := e.s.Document(context.Background(), e.g.ID, "", JWKSPath)
		if err == nil && ans.Code != http.StatusCreated {
			err = errors.New("answered " + http.StatusText(ans.Code))
		}
		inFlight <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !held.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	drained := make(chan struct{})
	go func() {
		e.srv.drain(context.Background())
		close(drained)
	}()
	for time.Now().Before(deadline) {
		e.srv.mu.Lock()
		n := len(e.srv.busy)
		e.srv.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-drained:
		t.Fatal("the drain returned while a call was in flight")
	default:
	}
	e.srv.mu.Lock()
	n := len(e.srv.busy)
	e.srv.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d streams open during the drain; want only the busy one", n)
	}
	close(release)
	if err := <-inFlight; err != nil {
		t.Fatalf("the call in flight during the drain: %v", err)
	}
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("the drain did not return once the call was answered")
	}
}

// TestStreamServerPanic: a handler that panics ends its stream (the call
// fails as a lost connection, 503), and the gateway answers the next call.
func TestStreamServerPanic(t *testing.T) {
	var panicked atomic.Bool
	e := newStreamEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if panicked.CompareAndSwap(false, true) {
			panic("a handler bug")
		}
		created(w, r)
	}))
	if _, err := e.s.Review(context.Background(), e.g.ID, "", []byte(`{}`)); errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("the call whose handler panicked: %v; want a 503", err)
	}
	ans, err := e.s.Review(context.Background(), e.g.ID, "", []byte(`{}`))
	if err != nil || ans.Code != http.StatusCreated {
		t.Fatalf("the call after the panic: %+v, %v", ans, err)
	}
}
