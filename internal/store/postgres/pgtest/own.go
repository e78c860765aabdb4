//go:build unix

package pgtest

import (
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Server is a PostgreSQL server of one test's own, which the test may stop,
// restart, freeze and thaw to see how its clients live through an outage.
// It needs the server binaries (GATEHOUSE_TEST_POSTGRES_URL cannot stand
// in: nobody may stop a shared server); without them the test is skipped,
// or fails when GATEHOUSE_REQUIRE_POSTGRES=1. The server is removed when the
// test ends.
type Server struct {
	t    testing.TB
	bin  binaries
	cred *syscall.Credential
	dir  string
	port int

	mu sync.Mutex
	s  *server // nil while stopped
}

// StartServer runs initdb and starts a server for t alone.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := findBinaries()
	if errors.Is(err, errNoBinaries) {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("pgtest: %s=1 but %v: install the postgresql package", RequireEnv, err)
		}
		skipped.Store(true)
		t.Skip(skipMessage)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	cred, err := serverCredential()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	dir, err := makeServerDir(cred)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := runInitdb(bin, dir, cred); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("pgtest: %v", err)
	}
	var s *server
	for attempt := 1; ; attempt++ {
		s, err = startPostgres(bin, dir, cred)
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "could not bind") {
			os.RemoveAll(dir)
			t.Fatalf("pgtest: %v", err)
		}
	}
	own := &Server{t: t, bin: bin, cred: cred, dir: dir, port: s.port, s: s}
	t.Cleanup(func() {
		own.mu.Lock()
		defer own.mu.Unlock()
		if own.s != nil {
			if err := own.s.stop(); err != nil {
				t.Errorf("pgtest: %v", err)
			}
			return
		}
		os.RemoveAll(dir)
	})
	return own
}

// URL is the connection URL of the server's "postgres" database; it stays
// the same across Stop and Start.
func (o *Server) URL() string { return (&server{port: o.port}).url() }

// Stop shuts the server down (fast shutdown: sessions are ended), keeping
// its data; connections are refused until Start.
func (o *Server) Stop() {
	o.t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.s == nil {
		return
	}
	if err := o.s.shutdown(); err != nil {
		o.t.Errorf("pgtest: %v", err)
	}
	o.s = nil
}

// Start starts a stopped server again on the same port.
func (o *Server) Start() {
	o.t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.s != nil {
		return
	}
	s, err := startPostgresOn(o.bin, o.dir, o.cred, o.port)
	if err != nil {
		o.t.Fatalf("pgtest: restart: %v", err)
	}
	o.s = s
}

// Freeze stops every process of the server (SIGSTOP to its process group):
// connections stay open and nothing answers, as with a database host that
// stalls. Thaw resumes it.
func (o *Server) Freeze() { o.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (o *Server) Thaw() { o.signal(syscall.SIGCONT) }

func (o *Server) signal(sig syscall.Signal) {
	o.t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.s == nil {
		o.t.Fatal("pgtest: the server is stopped")
	}
	if err := signalServer(o.s.pid, sig); err != nil {
		o.t.Fatalf("pgtest: signal %v: %v", sig, err)
	}
}

// signalServer sends sig to the postmaster pid and to each of its children:
// PostgreSQL puts every backend in a process group of its own, so the
// postmaster's group alone would leave open sessions running. The
// postmaster is stopped first (it forks no new backend meanwhile) and
// continued last.
func signalServer(pid int, sig syscall.Signal) error {
	if sig == syscall.SIGSTOP {
		if err := syscall.Kill(pid, sig); err != nil {
			return err
		}
	}
	for _, c := range children(pid) {
		_ = syscall.Kill(c, sig)
	}
	_ = syscall.Kill(-pid, sig)
	if sig != syscall.SIGSTOP {
		return syscall.Kill(pid, sig)
	}
	return nil
}
