// Package container tests the Gatehouse container image: it builds the
// image the way machines without a registry do (scripts/image-offline.sh:
// the static binary, FROM scratch, with podman), runs it as users run it
// (the image's own entrypoint and command, a volume on /data) and logs in.
//
// Without podman, or where podman cannot run a container (no user
// namespaces, a refused runtime), the test is skipped with a loud message,
// or fails when GATEHOUSE_REQUIRE_CONTAINERS=1 (CI sets it).
package container

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const requireEnv = "GATEHOUSE_REQUIRE_CONTAINERS"

var skipped atomic.Value // string: why the image test was skipped

func TestMain(m *testing.M) {
	code := m.Run()
	// t.Skip is quiet without -v; say it where nobody can miss it.
	if why, _ := skipped.Load().(string); why != "" {
		fmt.Fprintf(os.Stderr, "\n*** container image test SKIPPED: %s (set %s=1 to make this a failure) ***\n\n", why, requireEnv)
	}
	os.Exit(code)
}

// skipOrFail skips the test for want of a working podman, or fails it when
// containers are required.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s (%s=1)", msg, requireEnv)
	}
	skipped.Store(msg)
	t.Skip(msg)
}

// podman runs podman the way it works on unprivileged CI machines: vfs
// storage (no overlay needed), runc (crun is refused by some sandboxes),
// cgroupfs.
type podman struct{ t *testing.T }

func (p podman) args(a ...string) []string {
	return append([]string{"--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager", "cgroupfs"}, a...)
}

func (p podman) run(ctx context.Context, a ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "podman", p.args(a...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func (p podman) must(ctx context.Context, a ...string) string {
	p.t.Helper()
	out, err := p.run(ctx, a...)
	if err != nil {
		p.t.Fatalf("podman %s: %v\n%s", strings.Join(a, " "), err, out)
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func repoRoot(t *testing.T) string {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "Containerfile.offline")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	return root
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestImageRunsAndServesLogins builds the image with
// scripts/image-offline.sh, checks its metadata, runs it with a host
// directory as /data (the image's own command: SQLite on /data, root token
// written to /data/root-token), waits for /readyz, reads the root token from
// the volume, creates an identity with Universal Auth, logs in with its
// client secret, uses the access token, then restarts the container on the
// same volume and checks the state survived.
func TestImageRunsAndServesLogins(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the image test builds a binary and an image")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		skipOrFail(t, "podman not found (apt-get install podman runc)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	p := podman{t}
	root := repoRoot(t)
	suffix := randomHex(6)
	image := "localhost/gatehouse-imagetest:" + suffix
	name := "gatehouse-imagetest-" + suffix

	// Build (the documented offline path).
	build := exec.CommandContext(ctx, filepath.Join(root, "scripts/image-offline.sh"), image)
	build.Env = append(os.Environ(), "VERSION=v0.0.0-imagetest", "COMMIT=imagetest-commit",
		"PODMAN=podman --storage-driver vfs --runtime runc --cgroup-manager cgroupfs")
	if out, err := build.CombinedOutput(); err != nil {
		skipOrFail(t, "podman cannot build the image here: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		p.run(cctx, "rm", "-f", "-t", "0", name)
		if out, err := p.run(cctx, "rmi", "-f", image); err != nil {
			t.Logf("podman rmi %s: %v %s", image, err, out)
		}
	})

	// Metadata: non-root, the port, the volume, labels, entrypoint.
	var inspect []struct {
		Config struct {
			User         string
			ExposedPorts map[string]struct{}
			Volumes      map[string]struct{}
			Labels       map[string]string
			Entrypoint   []string
			Cmd          []string
		}
	}
	if err := json.Unmarshal([]byte(p.must(ctx, "image", "inspect", image)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	cfg := inspect[0].Config
	if cfg.User != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532", cfg.User)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v, want 8080/tcp", cfg.ExposedPorts)
	}
	if _, ok := cfg.Volumes["/data"]; !ok {
		t.Errorf("volumes %v, want /data", cfg.Volumes)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  "v0.0.0-imagetest",
		"org.opencontainers.image.revision": "imagetest-commit",
		"org.opencontainers.image.licenses": "Apache-2.0",
	} {
		if got := cfg.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if strings.Join(cfg.Entrypoint, " ") != "/gatehouse" {
		t.Errorf("entrypoint %q, want /gatehouse", cfg.Entrypoint)
	}
	if c := strings.Join(cfg.Cmd, " "); !strings.Contains(c, "--listen=0.0.0.0:8080") || !strings.Contains(c, "sqlite:///data/gatehouse.db") {
		t.Errorf("command %q: want a server on 0.0.0.0:8080 with its store on /data", c)
	}

	runFlags := []string{"--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}

	// Can this machine run a container at all? `gatehouse version` is the
	// smallest thing the image does.
	out, err := p.run(ctx, append(append([]string{"run", "--rm"}, runFlags...), image, "version")...)
	if err != nil {
		skipOrFail(t, "podman cannot run a container here: %v\n%s", err, out)
	}
	if !strings.Contains(out, "v0.0.0-imagetest") || !strings.Contains(out, "imagetest-commit") {
		t.Errorf("gatehouse version in the image: %q, want the stamped version and commit", out)
	}

	// A named volume as /data, as users run it (`-v gatehouse-data:/data`):
	// podman fills a new volume from the image's /data, whose owner must be
	// the image's user for the server to write its store there.
	volume := "gatehouse-imagetest-" + suffix
	p.must(ctx, "volume", "create", volume)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		p.run(cctx, "rm", "-f", "-t", "0", name)
		if out, err := p.run(cctx, "volume", "rm", "-f", volume); err != nil {
			t.Logf("podman volume rm %s: %v %s", volume, err, out)
		}
	})
	data := p.must(ctx, "volume", "inspect", "-f", "{{.Mountpoint}}", volume)
	readFile := func(path string) []byte {
		t.Helper()
		if os.Getuid() == 0 {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		return []byte(p.must(ctx, "unshare", "cat", path))
	}

	// --network host (the sandboxes CI runs in have no container network):
	// the image's command with a free loopback port instead of 0.0.0.0:8080.
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	start := func() {
		t.Helper()
		p.must(ctx, append(append([]string{"run", "-d", "--name", name, "-v", volume + ":/data"}, runFlags...),
			image, "server", "--listen=127.0.0.1:"+strconv.Itoa(port), "--storage=sqlite:///data/gatehouse.db", "--root-token-file=/data/root-token")...)
		waitReady(ctx, t, p, name, base+"/readyz")
	}
	start()

	rootToken := strings.TrimSpace(string(readFile(filepath.Join(data, "root-token"))))
	if !strings.HasPrefix(rootToken, "gth_") {
		t.Fatalf("root token file holds %d bytes without the gth_ prefix", len(rootToken))
	}
	if logs := p.must(ctx, "logs", name); strings.Contains(logs, rootToken) {
		t.Error("the root token is in the container's log")
	}

	c := client{t: t, base: base}
	var ident struct {
		Identity struct{ ID string } `json:"identity"`
	}
	c.do("POST", "/api/v1/identities", rootToken, `{"name":"image-test","role":"member"}`, &ident)
	id := ident.Identity.ID
	c.do("POST", "/api/v1/auth/universal-auth/identities/"+id, rootToken, `{}`, nil)
	var ua struct {
		IdentityUniversalAuth struct{ ClientID string } `json:"identityUniversalAuth"`
	}
	c.do("GET", "/api/v1/auth/universal-auth/identities/"+id, rootToken, "", &ua)
	var secret struct{ ClientSecret string }
	c.do("POST", "/api/v1/auth/universal-auth/identities/"+id+"/client-secrets", rootToken, `{"description":"image-test"}`, &secret)
	login, _ := json.Marshal(map[string]string{"clientId": ua.IdentityUniversalAuth.ClientID, "clientSecret": secret.ClientSecret})
	var tok struct{ AccessToken string }
	c.do("POST", "/api/v1/auth/universal-auth/login", "", string(login), &tok)
	var got struct {
		Identity struct{ Name string } `json:"identity"`
	}
	c.do("GET", "/api/v1/identities/"+id, tok.AccessToken, "", &got)
	if got.Identity.Name != "image-test" {
		t.Errorf("identity read with the login's token: %+v", got)
	}

	// Stop (SIGTERM, as Kubernetes does) and start again on the same
	// volume: the store, the key and the token survive.
	p.must(ctx, "stop", "-t", "20", name)
	if code := p.must(ctx, "inspect", "-f", "{{.State.ExitCode}}", name); code != "0" {
		t.Errorf("exit code after SIGTERM: %s\n%s", code, p.must(ctx, "logs", name))
	}
	p.must(ctx, "rm", name)
	start()
	c.do("GET", "/api/v1/identities/"+id, tok.AccessToken, "", &got)
	p.must(ctx, "stop", "-t", "20", name)
}

func waitReady(ctx context.Context, t *testing.T, p podman, name, url string) {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for i := 0; ; {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		// A server that exited will never be ready: say why at once.
		if i++; i%10 == 0 {
			if state, _ := p.run(ctx, "inspect", "-f", "{{.State.Status}}", name); state != "running" {
				logs, _ := p.run(ctx, "logs", name)
				t.Fatalf("container %s is %q, not running\n%s", name, state, logs)
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			logs, _ := p.run(ctx, "logs", name)
			t.Fatalf("%s not ready within 60s (last error %v)\n%s", url, err, logs)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

type client struct {
	t    *testing.T
	base string
}

// do sends a request and decodes a 200 answer into out; anything else fails.
func (c client) do(method, path, token, body string, out any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
}
