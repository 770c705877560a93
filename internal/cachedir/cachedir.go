// Package cachedir says where svcdisco keeps what it caches on local disk
// (the Exhibitor ensemble cache, the answer cache).
package cachedir

import (
	"os"
	"path/filepath"
	"strings"
)

// Default is the directory systemd made for the unit (CacheDirectory=,
// passed as $CACHE_DIRECTORY, which also works with DynamicUser=), else
// /var/cache/svcdisco for root (the boot hook and Chef run as root), else
// $XDG_CACHE_HOME/svcdisco (~/.cache/svcdisco).
func Default() string {
	if d, _, _ := strings.Cut(os.Getenv("CACHE_DIRECTORY"), ":"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/cache/svcdisco"
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "svcdisco")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "svcdisco")
	}
	return filepath.Join(os.TempDir(), "svcdisco-cache")
}
