// Package buildinfo says which build of Gatehouse is running: the version
// and commit stamped at build time, and the Go version it was built with.
//
// Stamp a release with
//
//	go build -ldflags "-X github.com/gatehouse-dev/gatehouse/internal/buildinfo.Version=v1.2.3 \
//	  -X github.com/gatehouse-dev/gatehouse/internal/buildinfo.Commit=$(git rev-parse HEAD)" ./cmd/gatehouse
//
// Without -X, the version is "dev" and the commit is the one Go recorded
// (vcs.revision, when built from a git checkout with `go build`), else
// "unknown".
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Commit are set with -ldflags "-X ...". They are only read.
var (
	Version = "dev"
	Commit  = ""
)

// Info describes a build.
type Info struct {
	Version   string
	Commit    string
	GoVersion string
}

// Get returns the running binary's build information.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(Version, Commit, bi)
}

// resolve fills what -X left empty from the Go build information.
func resolve(version, commit string, bi *debug.BuildInfo) Info {
	info := Info{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if info.Version == "" {
		info.Version = "dev"
	}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if info.Commit == "" {
			var rev, modified string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value
				}
			}
			if rev != "" {
				info.Commit = rev
				if modified == "true" {
					info.Commit += "-dirty"
				}
			}
		}
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

// String is the one-line form `gatehouse version` prints.
func (i Info) String() string {
	return fmt.Sprintf("gatehouse %s (commit %s, %s)", i.Version, i.Commit, i.GoVersion)
}
