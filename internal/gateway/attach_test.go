package gateway

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestAttachAnswersOnceRegistered: the upgrade's answer is written once
// the session is registered (a gateway that has it is usable at once),
// and nothing of the session reaches the connection before the answer,
// even a call already waiting to open a stream.
func TestAttachAnswersOnceRegistered(t *testing.T) {
	s := New(Config{Heartbeat: time.Hour, Timeout: 10 * time.Second})
	t.Cleanup(s.Close)
	g := store.Gateway{ID: "0b7c4c1e-93a4-4f0e-8c55-0a8f1f3e2d10", Name: "attach"}
	serverEnd, gatewayEnd := tcpPair(t)
	var writes atomic.Int64
	counted := &countingConn{Conn: serverEnd, n: &writes}
	const answer = "HTTP/1.1 101 Switching Protocols\r\n\r\n"
	reviewed := make(chan error, 1)
	err := s.Attach(g, counted, func() error {
		if !s.Connected(g.ID) {
			t.Error("the answer is written before the session is registered")
		}
		go func() { // a call that wants a stream before the gateway has its answer
			_, err := s.Review(context.Background(), g.ID, "", []byte(`{}`))
			reviewed <- err
		}()
		s.mu.Lock()
		c := s.conns[g.ID]
		s.mu.Unlock()
		deadline := time.Now().Add(10 * time.Second)
		for c.sess.ys.NumStreams() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := writes.Load(); n != 0 {
			t.Errorf("%d writes reached the connection before the answer", n)
		}
		_, err := io.WriteString(serverEnd, answer)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(answer))
	if _, err := io.ReadFull(gatewayEnd, got); err != nil || string(got) != answer {
		t.Fatalf("the gateway read %q, %v first; want the answer", got, err)
	}
	serveGateway(t, gatewayEnd, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	select {
	case err := <-reviewed:
		if err != nil {
			t.Fatalf("the call waiting for the answer: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call waiting for the answer never returned")
	}
}
