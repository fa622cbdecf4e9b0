// Package version reports which Warbler build is running. It must not
// depend on anything but the Go runtime.
package version

import "runtime/debug"

// Number is the release this tree will become. Release builds may override
// it with -ldflags "-X github.com/warbler-im/warbler/internal/version.Number=…".
var Number = "0.1.0-dev"

// String returns the version with the VCS revision when the binary was
// built from a checkout, e.g. "0.1.0-dev (3f2a9c1d0e4b, modified)".
func String() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Number
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev == "" {
		return Number
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return Number + " (" + rev + modified + ")"
}
