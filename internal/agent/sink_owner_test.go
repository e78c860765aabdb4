package agent_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"

	"github.com/gatehouse-dev/gatehouse/internal/agent"
	"github.com/gatehouse-dev/gatehouse/internal/client"
)

func TestSinkOwnerParse(t *testing.T) {
	for in, want := range map[string]agent.Owner{
		"":          {},
		"1000":      {Set: true, UID: 1000, GID: -1},
		"1000:2000": {Set: true, UID: 1000, GID: 2000},
		":2000":     {Set: true, UID: -1, GID: 2000},
		"0:0":       {Set: true, UID: 0, GID: 0},
	} {
		got, err := agent.ParseOwner(in)
		if err != nil || got != want {
			t.Errorf("ParseOwner(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{":", "1000:", "app", "app:app", "-1", "1000:-2", "1:2:3", "99999999999", " 1000"} {
		if o, err := agent.ParseOwner(bad); err == nil {
			t.Errorf("ParseOwner(%q) = %+v, want an error", bad, o)
		}
	}
}

func fileOwner(t *testing.T, path string) (uid, gid uint32) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

// TestSinkOwnerChown gives both kinds of sink file to another user and
// group, again on a rewrite, and keeps the mode.
func TestSinkOwnerChown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP (loud): giving files to another uid needs root; TestSinkOwnerRefused covers this uid")
	}
	dir := t.TempDir()
	owner := agent.Owner{Set: true, UID: 4242, GID: 4343}
	sinks := []agent.Sink{
		agent.FileSink{Path: filepath.Join(dir, "token"), Mode: 0o640, Owner: owner},
		agent.TemplateSink{Path: filepath.Join(dir, "token.env"), Mode: 0o640, Owner: owner,
			Template: template.Must(template.New("env").Parse("T={{.Token}}\n"))},
	}
	for _, tok := range []string{"first", "second"} {
		for _, s := range sinks {
			if err := s.Write(agent.TokenInfo{Token: tok}); err != nil {
				t.Fatal(err)
			}
			uid, gid := fileOwner(t, s.Name())
			if uid != 4242 || gid != 4343 {
				t.Errorf("%s after writing %q: owner %d:%d, want 4242:4343", s.Name(), tok, uid, gid)
			}
			if fi, _ := os.Stat(s.Name()); fi.Mode().Perm() != 0o640 {
				t.Errorf("%s: mode %v, want 0640", s.Name(), fi.Mode())
			}
		}
	}
	// Only the group: the user stays the writer's.
	p := filepath.Join(dir, "group-only")
	if err := (agent.FileSink{Path: p, Owner: agent.Owner{Set: true, UID: -1, GID: 4343}}).Write(agent.TokenInfo{Token: "x"}); err != nil {
		t.Fatal(err)
	}
	if uid, gid := fileOwner(t, p); uid != uint32(os.Geteuid()) || gid != 4343 {
		t.Errorf("group only: owner %d:%d", uid, gid)
	}
	// No temp file left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("dir holds %d files, want 3: %v", len(ents), ents)
	}
}

const refusedChildEnv = "GATEHOUSE_TEST_SINK_OWNER_CHILD_DIR"

// TestSinkOwnerRefused: a process that may not chown gets a clear error
// from agent.New, before any login or write. As root, the test runs
// itself again as uid 65534 (nobody) to make that real.
func TestSinkOwnerRefused(t *testing.T) {
	if dir := os.Getenv(refusedChildEnv); dir != "" {
		checkRefused(t, dir)
		return
	}
	if os.Geteuid() != 0 {
		checkRefused(t, t.TempDir())
		return
	}
	// The test binary must be readable and runnable by nobody, from a
	// directory nobody can reach, and nobody needs a directory to write in.
	bin := filepath.Join(t.TempDir(), "agent.test")
	copyExecutable(t, bin)
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	work := t.TempDir()
	if err := os.Chmod(work, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(work), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestSinkOwnerRefused$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), refusedChildEnv+"="+work)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestSinkOwnerRefused") {
		t.Fatalf("child as uid 65534: %v\n%s", err, out)
	}
}

func checkRefused(t *testing.T, dir string) {
	if os.Geteuid() == 0 {
		t.Fatal("the refusal check must run as a user other than root")
	}
	sink := filepath.Join(dir, "token")
	_, err := agent.New(agent.Config{
		Client: &client.Client{Address: "http://127.0.0.1:1"},
		Credentials: func() (client.Credentials, error) {
			t.Error("no login expected")
			return client.Credentials{}, nil
		},
		Sinks: []agent.Sink{agent.FileSink{Path: sink, Owner: agent.Owner{Set: true, UID: 0, GID: 0}}},
	})
	if err == nil || !strings.Contains(err.Error(), "needs root or CAP_CHOWN") || !strings.Contains(err.Error(), sink) {
		t.Fatalf("agent.New = %v, want a clear chown refusal naming %s", err, sink)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the check left files behind: %v", ents)
	}
}

func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	src, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
