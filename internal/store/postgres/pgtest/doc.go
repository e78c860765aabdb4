// Package pgtest gives tests a fresh, empty database on a real PostgreSQL
// server.
//
// When GATEHOUSE_TEST_POSTGRES_URL is set (a postgres:// URL of a role that
// may create databases), every URL call creates a uniquely named database on
// that server and drops it when the test ends.
//
// Otherwise the first URL call starts one throwaway server for the whole test
// binary: initdb into a temporary directory, then postgres on a free
// 127.0.0.1 port with durability turned off. The binaries are taken from PATH
// or else from the highest /usr/lib/postgresql/*/bin (Debian's postgresql
// package). initdb and postgres refuse to run as root, so when the tests run
// as root both are run as the "postgres" system user (or "nobody" if there is
// none). Packages call RunMain from TestMain so the server is stopped after
// the tests; should the binary die first (panic, -timeout), the server gets
// SIGKILL from the kernel (Linux parent-death signal) and its backends follow.
// The server's directory is $TMPDIR/gatehouse-pgtest-* (/tmp when root's
// TMPDIR is not reachable by the server's user); directories that crashed
// binaries left behind are removed by the next start.
//
// With neither a URL nor the binaries, tests are skipped with a loud message,
// or fail when GATEHOUSE_REQUIRE_POSTGRES=1 (set it in CI).
package pgtest

// Environment variables read by the harness.
const (
	// URLEnv names an existing server to use instead of starting one.
	URLEnv = "GATEHOUSE_TEST_POSTGRES_URL"
	// RequireEnv, when "1", turns "no PostgreSQL available" into a failure.
	RequireEnv = "GATEHOUSE_REQUIRE_POSTGRES"
)

const skipMessage = "PostgreSQL tests SKIPPED: no initdb/postgres found; " +
	"install the postgresql package or set " + URLEnv
