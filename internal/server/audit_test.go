package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestAuditRetention: the sweep deletes audit events older than the
// retention and keeps the rest; without a retention it keeps all.
func TestAuditRetention(t *testing.T) {
	for _, retention := range []time.Duration{0, 24 * time.Hour} {
		clock := &testClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
		ts := newTestServerWith(t, server.Config{
			Storage: "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db"), Now: clock.Now, AuditRetention: retention,
		})
		ctx := context.Background()
		st := ts.srv.Store()
		_, before, err := st.ListAuditEvents(ctx, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i, age := range []time.Duration{48 * time.Hour, 25 * time.Hour, 23 * time.Hour} {
			e := store.AuditEvent{ID: "old-" + string(rune('a'+i)), Time: clock.Now().Add(-age), Type: "login"}
			if err := st.AppendAuditEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		ts.srv.Sweep(ctx)
		_, after, err := st.ListAuditEvents(ctx, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		want := before + 3
		if retention > 0 {
			want = before + 1 // the bootstrap's event (now) and the 23 h old one stay
		}
		if after != want {
			t.Errorf("retention %s: %d events after the sweep, want %d", retention, after, want)
		}
	}
}

// TestAuditFileServer: with an audit file, a server appends every event,
// a failed login and the bootstrap's root-token.create included, and no
// secret.
func TestAuditFileServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	ts := newTestServerWith(t, server.Config{
		Storage: "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db"), AuditFile: path,
	})
	id := ts.createIdentity("ci", "member")
	ts.post("/api/v1/auth/universal-auth/login", `{"clientId":"nobody","clientSecret":"guess-0123456789"}`, "")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, want := range []string{`"type":"root-token.create"`, `"type":"identity.create"`, `"identity_id":"` + id + `"`, `"type":"login","success":false`} {
		if !strings.Contains(text, want) {
			t.Errorf("the audit file lacks %s:\n%s", want, text)
		}
	}
	for _, secret := range []string{ts.root, "guess-0123456789"} {
		if strings.Contains(text, secret) {
			t.Errorf("the audit file holds a secret:\n%s", text)
		}
	}
	if n := strings.Count(text, "\n"); n < 3 {
		t.Errorf("%d lines, want one per event", n)
	}
}
