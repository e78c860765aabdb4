package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// startOnce builds a server on storage, closes it and returns what it
// wrote to Out and to its log.
func startOnce(t *testing.T, cfg server.Config) (out, logs string, err error) {
	t.Helper()
	var o, l syncBuffer
	cfg.Out = &o
	if cfg.LogJSON {
		cfg.Logger = slog.New(slog.NewJSONHandler(&l, nil))
	} else {
		cfg.Logger = slog.New(slog.NewTextHandler(&l, nil))
	}
	srv, err := server.New(context.Background(), cfg)
	if err == nil {
		srv.Close()
	}
	return o.String(), l.String(), err
}

// TestRootTokenFile: the first start writes the root token to the file
// (0600) and nowhere else; later starts leave the file alone; an existing
// file is never overwritten and a missing directory fails before anything
// is created.
func TestRootTokenFile(t *testing.T) {
	dir := t.TempDir()
	storage := "sqlite://" + filepath.Join(dir, "g.db")
	file := filepath.Join(dir, "root-token")
	out, logs, err := startOnce(t, server.Config{Storage: storage, RootTokenFile: file})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(tok, "gth_") {
		t.Fatalf("the file holds %q", raw)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if strings.Contains(out+logs, tok) || strings.Contains(out+logs, "gth_") {
		t.Errorf("the token reached the output or log:\n%s\n%s", out, logs)
	}
	if !strings.Contains(logs, file) {
		t.Errorf("the log does not say where the token is:\n%s", logs)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, ".gatehouse-root-token-*")); len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}

	// A later start: no new token, the file untouched.
	if _, _, err := startOnce(t, server.Config{Storage: storage, RootTokenFile: file}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(file); string(again) != string(raw) {
		t.Error("a later start changed the root-token file")
	}
	// The token works.
	ts := newTestServerWith(t, server.Config{Storage: storage})
	if r := ts.do("GET", "/api/v1/identities", tok, nil); r.status != 200 {
		t.Errorf("the token from the file: %d", r.status)
	}

	// A first start on a new store with the file present: refused, file kept.
	if _, _, err := startOnce(t, server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "new.db"), RootTokenFile: file}); err == nil || !strings.Contains(err.Error(), "not overwriting") {
		t.Errorf("first start with an existing root-token file: %v", err)
	}
	if again, _ := os.ReadFile(file); string(again) != string(raw) {
		t.Error("the existing root-token file was overwritten")
	}

	// A missing directory: refused before the store is created.
	empty := t.TempDir()
	if _, _, err := startOnce(t, server.Config{Storage: "sqlite://" + filepath.Join(empty, "g.db"), RootTokenFile: filepath.Join(empty, "no", "root-token")}); err == nil {
		t.Error("started with a root-token file in a missing directory")
	}
	if entries, _ := os.ReadDir(empty); len(entries) > 0 {
		t.Errorf("a refused start created %v", entries)
	}
}

// TestRootTokenJSONLogs: with JSON logs, every line written is a JSON
// object; the token is in one marked root_token, never in a log record.
func TestRootTokenJSONLogs(t *testing.T) {
	out, logs, err := startOnce(t, server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"), LogJSON: true})
	if err != nil {
		t.Fatal(err)
	}
	var tok string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]string
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a line of the output is not JSON: %q", line)
		}
		tok = m["root_token"]
	}
	if !strings.HasPrefix(tok, "gth_") {
		t.Fatalf("no root_token line in %q", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("a log line is not JSON: %q", line)
		}
	}
	if strings.Contains(logs, tok) {
		t.Errorf("the token reached a log record:\n%s", logs)
	}
	if !strings.Contains(logs, "root_token") {
		t.Errorf("no log record says where the token went:\n%s", logs)
	}
}

// TestDevBannerHint: the dev banner does not send the operator to
// generate-root (the dev store is deleted on exit); the normal one does.
func TestDevBannerHint(t *testing.T) {
	out, _, err := startOnce(t, server.Config{Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "gth_") || strings.Contains(out, "generate-root") || !strings.Contains(out, "deleted") {
		t.Errorf("dev banner:\n%s", out)
	}
	out, _, err = startOnce(t, server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "generate-root") {
		t.Errorf("banner:\n%s", out)
	}
}
