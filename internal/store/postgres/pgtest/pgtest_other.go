//go:build !unix

package pgtest

import (
	"os"
	"testing"
)

// URL returns a connection URL to a fresh, empty database. On this platform
// only a server named by GATEHOUSE_TEST_POSTGRES_URL could be used, and that
// is not implemented: the tests are skipped (or fail when required).
func URL(t testing.TB) string {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("pgtest: %s=1 but the PostgreSQL harness only runs on Unix", RequireEnv)
	}
	t.Skip(skipMessage)
	return ""
}

// RunMain runs the tests and exits.
func RunMain(m *testing.M) { os.Exit(m.Run()) }

// Server is a PostgreSQL server of one test's own; not available on this
// platform.
type Server struct{}

// StartServer skips the test (or fails it when required).
func StartServer(t testing.TB) *Server {
	t.Helper()
	URL(t)
	return nil
}

func (o *Server) URL() string { return "" }
func (o *Server) Stop()       {}
func (o *Server) Start()      {}
func (o *Server) Freeze()     {}
func (o *Server) Thaw()       {}
