package gateway

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
)

// recordingConn notes the size of every Write.
type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []int
}

func (r *recordingConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.writes = append(r.writes, len(p))
	r.mu.Unlock()
	return r.Conn.Write(p)
}

func (r *recordingConn) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.writes)
}

// TestFrameWriter: a data frame leaves as one write, header and payload
// together, and arrives intact; the session works both ways.
func TestFrameWriter(t *testing.T) {
	ca, cb := net.Pipe()
	rec := &recordingConn{Conn: ca}
	ya, err := yamux.Client(newFrameWriter(rec), yamuxConfig(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	yb, err := yamux.Server(newFrameWriter(cb), yamuxConfig(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ya.Close(); yb.Close() })
	a, b := newSession(ya), newSession(yb)
	s, err := a.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("a TokenReview body")
	if _, err := s.Write(msg); err != nil {
		t.Fatal(err)
	}
	p, err := b.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(p, got); err != nil || string(got) != string(msg) {
		t.Fatalf("read %q, %v; want %q", got, err, msg)
	}
	if !slices.Contains(rec.sizes(), frameHeaderSize+len(msg)) {
		t.Errorf("writes %v: no single write of the %d-byte header and the %d-byte payload", rec.sizes(), frameHeaderSize, len(msg))
	}
	if _, err := p.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	if rtt, err := a.Ping(); err != nil || rtt <= 0 { // a frame without payload goes through alone
		t.Fatalf("ping: %v %v", rtt, err)
	}
}

// TestCachedFile: a file is read again once its last read is FileReread
// old, or after a failed read; not before.
func TestCachedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var c cachedFile
	t0 := time.Unix(1000, 0)
	read := func(at time.Time, want string) {
		t.Helper()
		got, err := c.read(path, at)
		if err != nil || string(got) != want {
			t.Fatalf("read at %v: %q %v, want %q", at.Sub(t0), got, err, want)
		}
	}
	write("one")
	read(t0, "one")
	write("two")
	read(t0.Add(FileReread/2), "one")
	read(t0.Add(FileReread), "two")
	os.Remove(path)
	if _, err := c.read(path, t0.Add(3*FileReread)); err == nil {
		t.Fatal("a missing file read without error")
	}
	write("three")
	read(t0.Add(3*FileReread), "three")
}
