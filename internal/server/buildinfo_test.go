package server_test

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/buildinfo"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// TestBuildInfo: the start log, /metrics and /v1/sys/health all name the
// build the way `gatehouse version` does.
func TestBuildInfo(t *testing.T) {
	var logs syncBuffer
	ts := newTestServerWith(t, server.Config{
		Storage: "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db"),
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
	})
	bi := buildinfo.Get()
	if l := logs.String(); !strings.Contains(l, "gatehouse starting") || !strings.Contains(l, "version="+bi.Version) || !strings.Contains(l, "commit="+bi.Commit) {
		t.Errorf("start log does not name the build %+v:\n%s", bi, l)
	}
	r := ts.do("GET", "/v1/sys/health", "", nil)
	if r.body["version"] != bi.Version {
		t.Errorf("/v1/sys/health version = %v, want %q", r.body["version"], bi.Version)
	}
	r = ts.do("GET", "/metrics", "", nil)
	want := fmt.Sprintf(`gatehouse_build_info{commit=%q,goversion=%q,version=%q} 1`, bi.Commit, bi.GoVersion, bi.Version)
	if !strings.Contains(r.raw, want) {
		t.Errorf("/metrics lacks %s", want)
	}
}
