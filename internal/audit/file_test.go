package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not one JSON object: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestAuditFile: every event the store takes, a login's included, is
// appended to the file as one JSON line; the file is private (0600) and
// earlier content is kept.
func TestAuditFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte(`{"type":"earlier"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sink, err := audit.OpenSink(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := audit.Tee(openStore(t), sink)
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	ctx := audit.ContextWithRequestID(context.Background(), "req-1")

	audit.New(st, func() time.Time { return now }, nil).Record(ctx, store.AuditEvent{
		Type: audit.TypeIdentityCreate, Success: true, ActorID: "root", IdentityID: "id-1", Details: map[string]string{"name": "ci"},
	})
	tok := store.AccessToken{ID: "tok-1", Hash: bytes.Repeat([]byte{7}, 32), IdentityID: "id-1", CreatedAt: now, LastRenewedAt: now, Metadata: map[string]string{}}
	login := store.AuditEvent{ID: "ev-login", Time: now, Type: audit.TypeLogin, Success: true, IdentityID: "id-1", ClientIP: "10.0.0.1", Details: map[string]string{"accessor": "tok-1"}}
	if err := st.IssueAccessToken(ctx, store.TokenIssue{Token: tok, Event: login}); err != nil {
		t.Fatal(err)
	}
	// A login the store refuses (the same token again) is not written.
	if err := st.IssueAccessToken(ctx, store.TokenIssue{Token: tok, Event: store.AuditEvent{ID: "ev-dup", Time: now, Type: audit.TypeLogin}}); err == nil {
		t.Fatal("a duplicate token was stored")
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	lines := readLines(t, path)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (earlier, identity.create, login): %v", len(lines), lines)
	}
	if lines[0]["type"] != "earlier" {
		t.Errorf("earlier content was not kept: %v", lines[0])
	}
	if l := lines[1]; l["type"] != "identity.create" || l["actor_id"] != "root" || l["request_id"] != "req-1" || l["time"] != "2026-05-01T08:00:00Z" || l["success"] != true {
		t.Errorf("identity.create line = %v", l)
	}
	if l := lines[2]; l["type"] != "login" || l["id"] != "ev-login" || l["client_ip"] != "10.0.0.1" || l["details"].(map[string]any)["accessor"] != "tok-1" {
		t.Errorf("login line = %v", l)
	}
}

// TestAuditFileStdout: "-" writes to standard output.
func TestAuditFileStdout(t *testing.T) {
	var out bytes.Buffer
	sink, err := audit.OpenSink("-", &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink.Write(store.AuditEvent{ID: "e", Type: "login", Time: time.Unix(0, 0)})
	if got := out.String(); !strings.HasPrefix(got, `{"time":"1970-01-01T00:00:00Z","type":"login","success":false,"id":"e"}`) || !strings.HasSuffix(got, "\n") {
		t.Errorf("stdout got %q", got)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAuditFileUnwritable(t *testing.T) {
	if _, err := audit.OpenSink(filepath.Join(t.TempDir(), "no", "such", "dir", "audit.log"), nil, nil); err == nil {
		t.Fatal("opened a file in a missing directory")
	}
}
