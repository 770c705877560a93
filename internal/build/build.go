// Package build carries the version stamped in at link time
// (-ldflags "-X github.com/svcdisco/svcdisco/internal/build.Version=v1.2.3").
package build

import "runtime/debug"

// Version is svcdisco's version; "dev" for an unstamped build.
var Version = "dev"

// String returns the version, falling back to the module version Go records
// for `go install`ed binaries.
func String() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Version
}
