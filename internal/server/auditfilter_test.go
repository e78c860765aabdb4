package server_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// TestAuditLogFilters: the audit log's query parameters narrow the list,
// and the total counts the matches.
func TestAuditLogFilters(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 5, 1, 8, 30, 0, 0, time.UTC)}
	ts := newTestServerWith(t, server.Config{
		Storage: "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db"), Now: clock.Now,
	})
	id, _ := ts.uaToken("member") // one successful login at 08:30
	clock.Advance(time.Hour)
	clientID := ts.attachUA(ts.createIdentity("other", "member"), map[string]any{})["clientId"].(string)
	if r := ts.uaLogin(clientID, "wrong", nil); r.status != 401 {
		t.Fatalf("bad login: %d %s", r.status, r.raw)
	}
	list := func(q string) ([]map[string]any, float64) {
		t.Helper()
		r := ts.do("GET", "/api/v1/audit-logs?"+q, ts.root, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", q, r.status, r.raw)
		}
		var out []map[string]any
		for _, e := range r.body["auditLogs"].([]any) {
			out = append(out, e.(map[string]any))
		}
		return out, r.body["totalCount"].(float64)
	}
	evs, total := list("eventType=login")
	if total != 2 || len(evs) != 2 || evs[0]["success"] != false || evs[1]["success"] != true {
		t.Errorf("logins: total %v, %v", total, evs)
	}
	evs, total = list("eventType=login&outcome=success&identityId=" + id)
	if total != 1 || evs[0]["identityId"] != id {
		t.Errorf("alice's successful logins: total %v, %v", total, evs)
	}
	evs, total = list("eventType=login&startDate=" + url.QueryEscape("2026-05-01T09:00:00Z"))
	if total != 1 || evs[0]["success"] != false {
		t.Errorf("logins since 09:00: total %v, %v", total, evs)
	}
	if _, total = list("endDate=2026-05-01T08:00:00Z"); total != 0 {
		t.Errorf("events before 08:00: %v", total)
	}
	if _, total = list("outcome=failure&limit=1"); total != 1 {
		t.Errorf("failures: %v", total)
	}

	r := ts.do("GET", "/api/v1/gatehouse/audit-logs/counts?hours=3", ts.root, nil)
	if r.status != 200 {
		t.Fatalf("counts: %d %s", r.status, r.raw)
	}
	counts := r.body["counts"].([]any)
	want := []string{"0/0", "1/0", "0/1"} // 07:00, 08:00, 09:00 (now 09:30)
	if len(counts) != len(want) {
		t.Fatalf("counts: %s", r.raw)
	}
	for i, c := range counts {
		m := c.(map[string]any)
		if got := strings.TrimSuffix(strings.TrimSuffix(m["start"].(string), "Z"), ".000"); i == 0 && got != "2026-05-01T07:00:00" {
			t.Errorf("first bucket starts %s", m["start"])
		}
		if got := ftoa(m["succeeded"]) + "/" + ftoa(m["failed"]); got != want[i] {
			t.Errorf("bucket %d: %s, want %s", i, got, want[i])
		}
	}
}

func ftoa(v any) string { return fmt.Sprint(int(v.(float64))) }

// TestAuditLogFilterRefusals: bad query parameters are a clean 422 naming
// the parameter; members may not read the counts.
func TestAuditLogFilterRefusals(t *testing.T) {
	ts := newTestServer(t)
	for _, q := range []string{
		"outcome=maybe", "startDate=yesterday", "endDate=2026-13-01T00:00:00Z",
		"startDate=2026-05-02T00:00:00Z&endDate=2026-05-01T00:00:00Z", "eventType=a&eventType=b",
		"bogus=1", "identityId=" + strings.Repeat("x", 201), "identityId=%00", "eventType=%ff",
	} {
		r := ts.do("GET", "/api/v1/audit-logs?"+q, ts.root, nil)
		if r.status != 422 || r.body["error"] != "ValidationFailure" {
			t.Errorf("%s: %d %s", q, r.status, r.raw)
		}
	}
	for _, q := range []string{"hours=0", "hours=169", "hours=x", "hours=1&hours=2", "startDate=2026-05-01T00:00:00Z", "outcome=success", "limit=3"} {
		r := ts.do("GET", "/api/v1/gatehouse/audit-logs/counts?"+q, ts.root, nil)
		if r.status != 422 || r.body["error"] != "ValidationFailure" {
			t.Errorf("counts %s: %d %s", q, r.status, r.raw)
		}
	}
	_, member := ts.uaToken("member")
	if r := ts.do("GET", "/api/v1/gatehouse/audit-logs/counts", member, nil); r.status != 403 {
		t.Errorf("member reads counts: %d %s", r.status, r.raw)
	}
	if r := ts.do("GET", "/api/v1/gatehouse/audit-logs/counts", "", nil); r.status != 401 {
		t.Errorf("anonymous reads counts: %d %s", r.status, r.raw)
	}
}
