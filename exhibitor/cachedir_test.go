package exhibitor

import "testing"

// TestDefaultCacheDirSystemd: under a unit with CacheDirectory= the cache
// goes where systemd says (the first directory when it names several).
func TestDefaultCacheDirSystemd(t *testing.T) {
	t.Setenv("CACHE_DIRECTORY", "/var/cache/svcdisco:/var/cache/other")
	if got := DefaultCacheDir(); got != "/var/cache/svcdisco" {
		t.Fatalf("DefaultCacheDir() = %q", got)
	}
	t.Setenv("CACHE_DIRECTORY", "")
	t.Setenv("XDG_CACHE_HOME", "/home/u/.cache")
	if got := DefaultCacheDir(); got == "/var/cache/svcdisco:/var/cache/other" || got == "" {
		t.Fatalf("DefaultCacheDir() = %q without CACHE_DIRECTORY", got)
	}
}
