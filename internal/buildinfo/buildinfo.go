// Package buildinfo says which build is running: the module version, the commit and its time
// (from the Go toolchain's VCS stamp, or from -ldflags when building outside a checkout, as the
// Dockerfile does), and the Go version.
package buildinfo

import (
	"fmt"
	"runtime/debug"
)

// Set with -ldflags "-X github.com/gopay-miniapp/bff/internal/buildinfo.version=..." (and commit,
// date) where the build has no VCS stamp, e.g. a Docker build without .git.
var version, commit, date string

// Info describes the running binary.
type Info struct {
	Module    string // module path
	Version   string // module version, or "(devel)"
	Commit    string // VCS revision, "" if unknown
	Date      string // commit time (RFC 3339), "" if unknown
	Modified  bool   // built from a working tree with uncommitted changes
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	i := Info{Module: "github.com/gopay-miniapp/bff", Version: "(devel)"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		i.Module, i.GoVersion = bi.Main.Path, bi.GoVersion
		if bi.Main.Version != "" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Commit = s.Value
			case "vcs.time":
				i.Date = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		i.Version = version
	}
	if commit != "" {
		i.Commit = commit
	}
	if date != "" {
		i.Date = date
	}
	return i
}

func (i Info) String() string {
	commit := i.Commit
	if commit == "" {
		commit = "unknown"
	}
	if i.Modified {
		commit += " (modified)"
	}
	return fmt.Sprintf("%s %s\ncommit %s\nbuilt %s\n%s", i.Module, i.Version, commit, or(i.Date, "unknown"), i.GoVersion)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
