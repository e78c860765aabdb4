//go:build unix

package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	startTimeout    = 60 * time.Second
	shutdownTimeout = 15 * time.Second
	adminTimeout    = 30 * time.Second
)

// errNoBinaries means no PostgreSQL server binaries were found.
var errNoBinaries = errors.New("no initdb/postgres binaries found")

// The one server (or override connection) shared by a test binary. This is
// the only package-level state; a test binary has exactly one.
var (
	sharedOnce    sync.Once
	sharedCluster *cluster
	sharedErr     error
	skipped       atomic.Bool // a test was skipped for want of PostgreSQL
)

// URL returns a connection URL to a fresh, empty database. The database is
// dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	c, err := getCluster()
	if errors.Is(err, errNoBinaries) {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("pgtest: %s=1 but %v: install the postgresql package "+
				"(initdb and postgres under /usr/lib/postgresql/*/bin or on PATH) or set %s",
				RequireEnv, err, URLEnv)
		}
		skipped.Store(true)
		t.Skip(skipMessage)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}

	name := "gatehouse_test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if _, err := c.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		if err := c.dropDatabase(ctx, name); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return c.databaseURL(name)
}

// RunMain runs the tests and then stops the server, if one was started,
// and exits. Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.RunMain(m) }
func RunMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	defer stop()
	code := m.Run()
	// t.Skip is quiet without -v; say it where nobody can miss it.
	if skipped.Load() {
		fmt.Fprintf(os.Stderr, "\n*** %s ***\n\n", skipMessage)
	}
	return code
}

// stop shuts the shared server down, if one was started.
func stop() {
	sharedOnce.Do(func() { sharedErr = errors.New("pgtest: stopped") })
	if sharedCluster != nil {
		if err := sharedCluster.close(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
}

func getCluster() (*cluster, error) {
	sharedOnce.Do(func() {
		sharedCluster, sharedErr = openCluster()
	})
	return sharedCluster, sharedErr
}

// cluster is a PostgreSQL server the tests may create databases on.
type cluster struct {
	adminURL string        // URL of the maintenance database
	admin    *pgxpool.Pool // connections to adminURL
	server   *server       // nil when the server is not ours
}

func openCluster() (*cluster, error) {
	if u := os.Getenv(URLEnv); u != "" {
		return connectCluster(u, nil)
	}
	s, err := startServer()
	if err != nil {
		return nil, err
	}
	c, err := connectCluster(s.url(), s)
	if err != nil {
		s.stop()
		return nil, err
	}
	return c, nil
}

func connectCluster(adminURL string, s *server) (*cluster, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("%s must be a postgres:// URL", URLEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	return &cluster{adminURL: adminURL, admin: pool, server: s}, nil
}

// databaseURL is the admin URL with its database replaced by name.
func (c *cluster) databaseURL(name string) string {
	u, err := url.Parse(c.adminURL)
	if err != nil {
		panic(err) // parsed in connectCluster
	}
	u.Path = "/" + name
	u.RawPath = ""
	q := u.Query()
	q.Del("dbname") // a dbname parameter would win over the path
	u.RawQuery = q.Encode()
	return u.String()
}

func (c *cluster) dropDatabase(ctx context.Context, name string) error {
	// FORCE (PostgreSQL 13+) ends sessions a test left open.
	_, err := c.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

func (c *cluster) close() error {
	c.admin.Close()
	if c.server != nil {
		return c.server.stop()
	}
	return nil
}

// server is a postgres process started by this package.
type server struct {
	dir  string // temporary directory holding data/, sock/ and postgres.log
	port int
	pid  int
	proc *process
}

func (s *server) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

func (s *server) logPath() string { return filepath.Join(s.dir, "postgres.log") }

// stop asks for a fast shutdown, kills the process group if that takes too
// long, and removes the temporary directory.
func (s *server) stop() error {
	err := s.shutdown()
	if rmErr := os.RemoveAll(s.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// shutdown asks for a fast shutdown and kills the process group if that
// takes too long; the data directory stays.
func (s *server) shutdown() error {
	var err error
	_ = signalServer(s.pid, syscall.SIGCONT) // a frozen server cannot shut down
	_ = syscall.Kill(s.pid, syscall.SIGINT)  // fast shutdown
	select {
	case <-s.proc.done:
	case <-time.After(shutdownTimeout):
		err = fmt.Errorf("postgres (pid %d) did not shut down in %v; killed", s.pid, shutdownTimeout)
		killGroup(s.pid)
		<-s.proc.done
	}
	killGroup(s.pid) // anything left in the group
	return err
}

// binaries are the PostgreSQL server programs.
type binaries struct {
	initdb, postgres string
}

// findBinaries looks on PATH first, then under /usr/lib/postgresql/*/bin
// (highest major version first).
func findBinaries() (binaries, error) {
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return binaries{initdb: initdb, postgres: postgres}, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestVersion := "", -1.0
	for _, dir := range dirs {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		if err != nil || v <= bestVersion {
			continue
		}
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			best, bestVersion = dir, v
		}
	}
	if best == "" {
		return binaries{}, errNoBinaries
	}
	return binaries{initdb: filepath.Join(best, "initdb"), postgres: filepath.Join(best, "postgres")}, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// startServer runs initdb and starts postgres, retrying on another port if
// the chosen one was taken in the meantime.
func startServer() (*server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := makeServerDir(cred)
	if err != nil {
		return nil, err
	}
	if err := runInitdb(bin, dir, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		s, err := startPostgres(bin, dir, cred)
		if err == nil {
			return s, nil
		}
		if attempt == 3 || !strings.Contains(err.Error(), "could not bind") {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// serverCredential is the user to run initdb and postgres as: nil (this
// process's own) unless we are root, which PostgreSQL refuses.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		// Groups: empty, so root's supplementary groups are dropped.
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, errors.New("running as root and no unprivileged user (postgres or nobody) to run initdb/postgres as")
}

// makeServerDir creates the temporary directory, owned by the server's user.
// As root it must also be reachable by that user, so a TMPDIR under a
// private directory (like /root) is passed over for /tmp.
func makeServerDir(cred *syscall.Credential) (string, error) {
	parent := os.TempDir()
	if cred != nil && !searchableByOthers(parent) {
		parent = "/tmp"
	}
	removeStaleDirs(parent)
	dir, err := os.MkdirTemp(parent, dirPrefix)
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(filepath.Join(dir, "sock"), 0o700); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if cred != nil {
		for _, p := range []string{dir, filepath.Join(dir, "sock")} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				os.RemoveAll(dir)
				return "", err
			}
		}
	}
	return dir, nil
}

const dirPrefix = "gatehouse-pgtest-"

// removeStaleDirs removes server directories that test binaries which died
// without cleaning up (panic, -timeout, kill) left behind: those whose
// postmaster is gone, or that never got one and are older than any startup.
func removeStaleDirs(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, dirPrefix+"*"))
	for _, dir := range dirs {
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
		if err != nil {
			if time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(dir)
			}
			continue
		}
		line, _, _ := strings.Cut(string(b), "\n")
		pid, err := strconv.Atoi(strings.TrimSpace(line))
		if err == nil && pid > 0 && !processAlive(pid) {
			os.RemoveAll(dir)
		}
	}
}

// processAlive reports whether pid is a running process; a zombie that
// nobody reaped (PID 1 in many containers does not) counts as dead.
func processAlive(pid int) bool {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		fields := strings.Fields(s[strings.LastIndex(s, ")")+1:])
		return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
	}
	return syscall.Kill(pid, 0) != syscall.ESRCH
}

// searchableByOthers reports whether every directory from / down to dir can
// be entered by any user.
func searchableByOthers(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// serverEnv is the environment of initdb and postgres: nothing from ours
// that could point them elsewhere (PG*, locale).
func serverEnv(dir string) []string {
	env := []string{"LC_ALL=C", "TZ=UTC", "HOME=" + dir}
	if p := os.Getenv("PATH"); p != "" {
		env = append(env, "PATH="+p)
	}
	return env
}

func runInitdb(bin binaries, dir string, cred *syscall.Credential) error {
	cmd := exec.Command(bin.initdb,
		"-D", filepath.Join(dir, "data"),
		"-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Dir = dir
	cmd.Env = serverEnv(dir)
	cmd.SysProcAttr = sysProcAttr(cred)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	proc, err := startPinned(cmd)
	if err != nil {
		return fmt.Errorf("start %s: %w", bin.initdb, err)
	}
	select {
	case <-proc.done:
		err = proc.err
	case <-time.After(startTimeout):
		killGroup(cmd.Process.Pid)
		<-proc.done
		err = fmt.Errorf("timed out after %v", startTimeout)
	}
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", bin.initdb, err, out.String())
	}
	return nil
}

func startPostgres(bin binaries, dir string, cred *syscall.Credential) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return startPostgresOn(bin, dir, cred, port)
}

// startPostgresOn starts postgres on the data directory under dir, on port.
func startPostgresOn(bin binaries, dir string, cred *syscall.Credential, port int) (*server, error) {
	s := &server{dir: dir, port: port}
	logFile, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy
	cmd := exec.Command(bin.postgres,
		"-D", filepath.Join(dir, "data"),
		"-k", filepath.Join(dir, "sock"),
		"-c", "listen_addresses=127.0.0.1",
		"-p", strconv.Itoa(port),
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
		"-c", "synchronous_commit=off",
		"-c", "max_connections="+strconv.Itoa(maxConnections()),
	)
	cmd.Dir = dir
	cmd.Env = serverEnv(dir)
	cmd.SysProcAttr = sysProcAttr(cred)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	proc, err := startPinned(cmd)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", bin.postgres, err)
	}
	s.pid = cmd.Process.Pid
	s.proc = proc
	if err := s.waitReady(); err != nil {
		killGroup(s.pid)
		<-proc.done
		return nil, fmt.Errorf("%s: %w\n--- server log ---\n%s", bin.postgres, err, s.readLog())
	}
	return s, nil
}

// maxConnections is 200, or more on machines that run many tests in
// parallel (go test runs GOMAXPROCS at once, each with its own pool).
func maxConnections() int {
	return max(200, 8*runtime.GOMAXPROCS(0)+20)
}

// waitReady polls until the server accepts connections.
func (s *server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-s.proc.done:
			return fmt.Errorf("exited during startup: %v", s.proc.err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.url())
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not accepting connections after %v: %v", startTimeout, lastErr)
}

func (s *server) readLog() string {
	b, err := os.ReadFile(s.logPath())
	if err != nil {
		return err.Error()
	}
	const max = 8 << 10
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	return string(b)
}

// process is a started child.
type process struct {
	done chan struct{} // closed once the child has exited
	err  error         // cmd.Wait's result, set before done is closed
}

// startPinned starts cmd from a goroutine locked to its OS thread and keeps
// it there until the child exits. Linux delivers the parent-death signal
// when the thread that forked the child ends, not the process, so the thread
// must outlive the child unless the whole process dies.
func startPinned(cmd *exec.Cmd) (*process, error) {
	p := &process{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
