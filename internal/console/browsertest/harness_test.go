package browsertest

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/logtest"
)

//go:embed a11y.js
var a11yJS string

// chromiumPath finds the browser, or skips (fails under
// GATEHOUSE_REQUIRE_BROWSER=1) when there is none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GATEHOUSE_REQUIRE_BROWSER") == "1" {
		t.Fatal("GATEHOUSE_REQUIRE_BROWSER=1 but no chromium on PATH (Debian: apt-get install chromium)")
	}
	t.Skip("SKIPPING THE BROWSER TEST: no chromium on PATH (Debian: apt-get install chromium; set GATEHOUSE_REQUIRE_BROWSER=1 to fail instead)")
	return ""
}

// newBrowser starts a headless Chromium for the test and returns a tab's
// context (1280 px wide).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// gatehouseBinary builds cmd/gatehouse once per test process.
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-browsertest-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gatehouse")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/gatehouse-dev/gatehouse/cmd/gatehouse")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// devServer is a running `gatehouse server --dev`.
type devServer struct {
	URL  string
	Root string // the root token
}

// startDevServer runs the built binary in dev mode on a free loopback port
// until the test ends.
func startDevServer(t *testing.T) devServer {
	t.Helper()
	bin := gatehouseBinary(t)
	var b [16]byte
	rand.Read(b[:])
	root := "dev-root-" + hex.EncodeToString(b[:])
	for attempt := 0; ; attempt++ {
		addr := freeAddr(t)
		out := &logtest.Buffer{}
		cmd := exec.Command(bin, "server", "--dev", "--dev-root-token="+root, "--listen", addr)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		}
		url := "http://" + addr
		if err := waitHealthy(url, exited); err != nil {
			stop()
			if attempt < 3 && strings.Contains(out.String(), "address already in use") {
				continue // another process took the port between our probe and the bind
			}
			t.Fatalf("gatehouse server --dev: %v\n%s", err, out.String())
		}
		t.Cleanup(func() {
			stop()
			if strings.Contains(out.String(), root) {
				t.Errorf("the root token reached the server's output")
			}
		})
		return devServer{URL: url, Root: root}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy polls /healthz until it answers 200, the process exits, or
// 30 s pass.
func waitHealthy(url string, exited <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v", err)
		case <-tick.C:
		}
	}
	return fmt.Errorf("not healthy after 30 s")
}

// apiCall sends a JSON request to the server's API with tok as bearer
// (none when empty) and returns the status and the decoded answer.
func apiCall(t *testing.T, method, url, tok string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out)
	return resp.StatusCode, out
}

// startGateway runs `gatehouse gateway` (the built binary) until the test
// ends and waits until it is ready (connected to the server).
func startGateway(t *testing.T, args ...string) {
	t.Helper()
	health := freeAddr(t)
	out := &logtest.Buffer{}
	cmd := exec.Command(gatehouseBinary(t), append([]string{"gateway", "--listen", health}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + health + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("gatehouse gateway exited: %v\n%s", err, out.String())
		case <-tick.C:
		}
	}
	t.Fatalf("gatehouse gateway not ready after 30 s\n%s", out.String())
}
