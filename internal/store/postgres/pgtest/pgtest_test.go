//go:build linux

package pgtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { RunMain(m) }

func TestURLGivesFreshEmptyDatabases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := URL(t), URL(t)
	if a == b {
		t.Fatalf("URL returned the same database twice: %s", a)
	}
	for _, u := range []string{a, b} {
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var tables int
		err = conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables)
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("%s: %d tables in a fresh database", u, tables)
		}
	}
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("inner", func(t *testing.T) {
		u := URL(t)
		name = u[strings.LastIndex(u, "/")+1 : strings.Index(u, "?")]
	})
	c, err := getCluster()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

const crashChildEnv = "GATEHOUSE_PGTEST_CRASH_CHILD"

// TestServerDiesWithTestBinary runs this test binary again, has it start a
// server and exit without stopping it, and checks that the server is gone.
func TestServerDiesWithTestBinary(t *testing.T) {
	if os.Getenv(crashChildEnv) == "1" {
		URL(t)
		fmt.Printf("postmaster-pid=%d\nserver-dir=%s\n", sharedCluster.server.pid, sharedCluster.server.dir)
		os.Exit(3) // no RunMain cleanup: as if the binary had crashed
	}
	if os.Getenv(URLEnv) != "" {
		t.Skip("uses an external server")
	}
	URL(t) // skips like the others when there is no PostgreSQL

	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithTestBinary$")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1")
	out, _ := cmd.Output()
	pid, dir := 0, ""
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "postmaster-pid="); ok {
			pid, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(sc.Text(), "server-dir="); ok {
			dir = v
		}
	}
	if pid == 0 || !strings.Contains(dir, dirPrefix) {
		t.Fatalf("child printed no postmaster pid or server directory:\n%s", out)
	}
	defer os.RemoveAll(dir)
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			killGroup(pid)
			t.Fatalf("postmaster %d outlived its test binary", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
