package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/client/clienttest"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// TestMain lets a test run this binary as gatehouse itself, as a real
// process that can be sent SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("GATEHOUSE_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// TestAgentProcess runs gatehouse agent as a process against a real
// server: it writes the token and the rendered template, serves /healthz,
// and on SIGTERM exits 0 having revoked its token.
func TestAgentProcess(t *testing.T) {
	for _, api := range []string{"infisical", "vault"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			srv := clienttest.Start(t)
			c := kubetest.New(t)
			dir := t.TempDir()
			jwtFile := writeFile(t, dir, "jwt", c.Token("apps", "web"))
			tmpl := writeFile(t, dir, "env.tmpl", "export GATEHOUSE_TOKEN={{.Token}}\n")
			sink, env := filepath.Join(dir, "token"), filepath.Join(dir, "token.env")
			args := []string{"agent", "--address", srv.URL(), "--api", api, "--method", "kubernetes", "--jwt-file", jwtFile,
				"--sink", sink, "--template", tmpl + ":" + env, "--sink-mode", "0640", "--revoke-on-exit",
				"--listen", "127.0.0.1:0", "--retry-min", "50ms", "--retry-max", "500ms"}
			if api == "vault" {
				srv.VaultRole(c, "kubernetes", "app", 60, 120)
				args = append(args, "--role", "app")
			} else {
				args = append(args, "--identity-id", srv.KubeIdentity(c, 60, 120))
			}
			var logs syncBuffer
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), "GATEHOUSE_TEST_RUN_MAIN=1")
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-done
			})
			var tok string
			deadline := time.Now().Add(45 * time.Second)
			for {
				b, _ := os.ReadFile(env)
				if strings.HasPrefix(string(b), "export GATEHOUSE_TOKEN=gth_") {
					t2, _ := os.ReadFile(sink)
					tok = string(t2)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no token written:\n%s", logs.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !srv.TokenValid(tok) {
				t.Fatalf("the sink's token does not look up:\n%s", logs.String())
			}
			if fi, _ := os.Stat(sink); fi.Mode().Perm() != 0o640 {
				t.Errorf("sink mode %v", fi.Mode())
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				done <- err
				if err != nil {
					t.Fatalf("agent exit: %v\n%s", err, logs.String())
				}
			case <-time.After(45 * time.Second):
				t.Fatalf("the agent did not stop on SIGTERM:\n%s", logs.String())
			}
			if srv.TokenValid(tok) {
				t.Error("the token is still valid after SIGTERM with --revoke-on-exit")
			}
			if strings.Contains(logs.String(), tok) {
				t.Errorf("the token reached the logs:\n%s", logs.String())
			}
		})
	}
}

// TestAgentExitAfterAuthCommand: as an init container, gatehouse agent
// exits 0 once the token is written; bad flags exit 2.
func TestAgentExitAfterAuthCommand(t *testing.T) {
	srv := clienttest.Start(t)
	clientID, secret := srv.UniversalIdentity(60, 120)
	sink := filepath.Join(t.TempDir(), "token")
	secretFile := writeFile(t, t.TempDir(), "secret", secret)
	_, errOut, code := runCLI(t, "agent", "--address", srv.URL(), "--method", "universal", "--client-id", clientID,
		"--client-secret-file", secretFile, "--sink", sink, "--exit-after-auth")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(sink); !srv.TokenValid(string(b)) {
		t.Errorf("sink holds %q", b)
	}
	for name, args := range map[string][]string{
		"no sink":      {"--client-secret", "x"},
		"bad mode":     {"--client-secret", "x", "--sink", sink, "--sink-mode", "rw"},
		"bad template": {"--client-secret", "x", "--template", "nocolon"},
		"revoke+exit":  {"--client-secret", "x", "--sink", sink, "--exit-after-auth", "--revoke-on-exit"},
		"retry bounds": {"--client-secret", "x", "--sink", sink, "--retry-min", "2s", "--retry-max", "1s"},
		"unknown flag": {"--client-secret", "x", "--sink", sink, "--bogus"},
		"bad owner":    {"--client-secret", "x", "--sink", sink, "--sink-owner", "app:app"},
	} {
		_, errOut, code := runCLI(t, append([]string{"agent", "--address", srv.URL(), "--method", "universal", "--client-id", clientID}, args...)...)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2: %s", name, code, errOut)
		}
	}
}

// TestAgentSinkOwnerCommand: --sink-owner gives the token file to another
// user and group (the tests run as root).
func TestAgentSinkOwnerCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP (loud): --sink-owner to another uid needs root")
	}
	srv := clienttest.Start(t)
	clientID, secret := srv.UniversalIdentity(60, 120)
	sink := filepath.Join(t.TempDir(), "token")
	_, errOut, code := runCLI(t, "agent", "--address", srv.URL(), "--method", "universal", "--client-id", clientID,
		"--client-secret", secret, "--sink", sink, "--sink-owner", "4242:4343", "--exit-after-auth")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	fi, err := os.Stat(sink)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4242 || st.Gid != 4343 {
		t.Errorf("sink owner %d:%d, want 4242:4343", st.Uid, st.Gid)
	}
}
