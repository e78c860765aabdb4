package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.99.1", Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"},
	}}
	dirty := &debug.BuildInfo{GoVersion: "go1.99.1", Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"},
	}}
	cases := []struct {
		name            string
		version, commit string
		bi              *debug.BuildInfo
		want            Info
	}{
		{"stamped", "v1.2.3", "deadbeef", vcs, Info{"v1.2.3", "deadbeef", "go1.99.1"}},
		{"commit from vcs", "dev", "", vcs, Info{"dev", "abc123", "go1.99.1"}},
		{"dirty checkout", "dev", "", dirty, Info{"dev", "abc123-dirty", "go1.99.1"}},
		{"nothing known", "", "", &debug.BuildInfo{GoVersion: "go1.99.1"}, Info{"dev", "unknown", "go1.99.1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := resolve(c.version, c.commit, c.bi); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	if got, want := (Info{"v1", "c", "go1"}).String(), "gatehouse v1 (commit c, go1)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestGetHasGoVersion(t *testing.T) {
	if i := Get(); i.GoVersion == "" || i.Version == "" || i.Commit == "" {
		t.Fatalf("Get() = %+v: a field is empty", i)
	}
}
