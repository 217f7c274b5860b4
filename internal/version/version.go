// Package version reports the build's version, commit and date. Release builds set them with
// -ldflags "-X github.com/ossctl/ossctl/internal/version.Version=..."; other builds fall back to
// the module and VCS information that the Go toolchain embeds.
package version

import (
	"runtime"
	"runtime/debug"
)

// Set at link time by release builds (see .goreleaser.yaml).
var (
	// Version is the semantic version of the build, e.g. "1.2.3".
	Version = ""
	// Commit is the VCS revision the build was made from.
	Commit = ""
	// Date is the commit or build date, RFC 3339.
	Date = ""
)

// Info describes a build. Its JSON form is part of `ossctl version --output json`.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build information, filling gaps from debug.ReadBuildInfo.
func Get() Info {
	return get(Version, Commit, Date, debug.ReadBuildInfo)
}

func get(ver, commit, date string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{
		Version:   ver,
		Commit:    commit,
		Date:      date,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi, ok := read(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.time":
				if info.Date == "" {
					info.Date = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && commit == "" && info.Commit != "" {
			info.Commit += "-dirty"
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	return info
}

// String returns the version alone, e.g. "1.2.3" or "dev".
func String() string { return Get().Version }
