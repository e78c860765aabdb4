package gateway

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
)

// sessionPair returns two tracked yamux sessions over a loopback TCP
// connection: a (the client, as the server's side is) and b.
func sessionPair(t *testing.T) (a, b *session) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	ca, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cb := <-accepted
	if cb == nil {
		t.Fatal("accept failed")
	}
	ya, err := yamux.Client(ca, yamuxConfig(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	yb, err := yamux.Server(cb, yamuxConfig(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	a, b = newSession(ya), newSession(yb)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// openStreams opens n streams from a and accepts them on b.
func openStreams(t *testing.T, a, b *session, n int) (as, bs []net.Conn) {
	t.Helper()
	for range n {
		s, err := a.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write([]byte{1}); err != nil { // the peer sees a stream once it carries data
			t.Fatal(err)
		}
		p, err := b.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(p, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		as, bs = append(as, s), append(bs, p)
	}
	return as, bs
}

// blockedReads starts a Read on each stream and returns their errors as
// they come back.
func blockedReads(streams []net.Conn) <-chan error {
	errc := make(chan error, len(streams))
	for _, s := range streams {
		go func() {
			_, err := s.Read(make([]byte, 16))
			errc <- err
		}()
	}
	return errc
}

// waitErrors collects n errors (failing after 10 s: a wait, not a timing
// assertion).
func waitErrors(t *testing.T, errc <-chan error, n int) []error {
	t.Helper()
	var out []error
	deadline := time.After(10 * time.Second)
	for range n {
		select {
		case err := <-errc:
			out = append(out, err)
		case <-deadline:
			t.Fatalf("%d of %d blocked calls never returned", n-len(out), n)
		}
	}
	return out
}

// TestSessionUnblock: unblock releases every Read blocked on the
// session's streams with a timeout while the session is still open (so
// that none is left looping in yamux once it shuts down), and keeps later
// streams and deadlines expired.
func TestSessionUnblock(t *testing.T) {
	a, b := sessionPair(t)
	as, _ := openStreams(t, a, b, 20)
	if a.tracked() != 20 {
		t.Fatalf("%d streams tracked, want 20", a.tracked())
	}
	errc := blockedReads(as)
	a.unblock()
	for _, err := range waitErrors(t, errc, len(as)) {
		if !errors.Is(err, yamux.ErrTimeout) {
			t.Errorf("blocked Read returned %v, want yamux's timeout", err)
		}
	}
	if a.IsClosed() || a.tracked() != 0 {
		t.Fatalf("after unblock: closed %v, %d tracked; want open, none", a.IsClosed(), a.tracked())
	}
	// A deadline cleared afterwards (as a relay does once connected) and a
	// stream opened afterwards stay expired.
	_ = as[0].SetDeadline(time.Time{})
	late, err := a.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range waitErrors(t, blockedReads([]net.Conn{as[0], late}), 2) {
		if !errors.Is(err, yamux.ErrTimeout) {
			t.Errorf("read %d after unblock: %v, want yamux's timeout", i, err)
		}
	}
}

// TestSessionClosedByPeer: when the peer closes the session, the streams
// blocked on this side are released and no longer tracked.
func TestSessionClosedByPeer(t *testing.T) {
	a, b := sessionPair(t)
	_, bs := openStreams(t, a, b, 20)
	errc := blockedReads(bs)
	if err := a.ys.Close(); err != nil { // the peer goes, without unblocking anything here
		t.Fatal(err)
	}
	for _, err := range waitErrors(t, errc, len(bs)) {
		if err == nil {
			t.Error("a Read on a closed session returned no error")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.tracked() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams still tracked after the peer closed the session", b.tracked())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSessionCloseReleasesStreams: Close returns with every blocked Read
// released, and closing a stream stops tracking it.
func TestSessionCloseReleasesStreams(t *testing.T) {
	a, b := sessionPair(t)
	as, _ := openStreams(t, a, b, 20)
	if err := as[0].Close(); err != nil {
		t.Fatal(err)
	}
	if a.tracked() != 19 {
		t.Fatalf("%d tracked after closing one of 20, want 19", a.tracked())
	}
	errc := blockedReads(as[1:])
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitErrors(t, errc, len(as)-1)
}
