package version

import (
	"runtime/debug"
	"testing"
)

func TestGetPrefersLinkerValues(t *testing.T) {
	read := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{
			Main: debug.Module{Version: "v9.9.9"},
			Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "abc"},
				{Key: "vcs.time", Value: "2020-01-01T00:00:00Z"},
			},
		}, true
	}
	got := get("1.2.3", "deadbeef", "2026-01-02T03:04:05Z", read)
	if got.Version != "1.2.3" || got.Commit != "deadbeef" || got.Date != "2026-01-02T03:04:05Z" {
		t.Fatalf("linker values not preferred: %+v", got)
	}
}

func TestGetFallsBackToBuildInfo(t *testing.T) {
	read := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{
			Main: debug.Module{Version: "v0.4.0"},
			Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "abc123"},
				{Key: "vcs.time", Value: "2020-01-01T00:00:00Z"},
				{Key: "vcs.modified", Value: "true"},
			},
		}, true
	}
	got := get("", "", "", read)
	if got.Version != "v0.4.0" || got.Commit != "abc123-dirty" || got.Date != "2020-01-01T00:00:00Z" {
		t.Fatalf("fallback wrong: %+v", got)
	}
	if got.GoVersion == "" || got.Platform == "" {
		t.Fatalf("runtime fields empty: %+v", got)
	}
}

func TestGetDevWhenUnknown(t *testing.T) {
	got := get("", "", "", func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true
	})
	if got.Version != "dev" {
		t.Fatalf("Version = %q, want dev", got.Version)
	}
}
