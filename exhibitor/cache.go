package exhibitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/svcdisco/svcdisco/internal/cachedir"
	"github.com/svcdisco/svcdisco/registry"
)

// Cache is the last good Exhibitor answer on disk. It is what lets a host
// boot (and Chef converge) while every Exhibitor is down.
type Cache struct {
	Path string
	// Exhibitor names the Exhibitor hosts (sorted, comma separated) the
	// answer came from. A cache written for other Exhibitors is not used:
	// it describes some other ensemble.
	Exhibitor string
}

// CacheEntry is the file's content.
type CacheEntry struct {
	Exhibitor string    `json:"exhibitor"`
	Servers   []string  `json:"servers"`
	FetchedAt time.Time `json:"fetched_at"`
}

// DefaultCacheDir is where caches live unless --ensemble-cache says
// otherwise: the directory systemd made for the unit (CacheDirectory=,
// passed as $CACHE_DIRECTORY, which also works with DynamicUser=), else
// /var/cache/svcdisco for root (the boot hook and Chef run as root), else
// $XDG_CACHE_HOME/svcdisco (~/.cache/svcdisco).
func DefaultCacheDir() string { return cachedir.Default() }

// DefaultCachePath is the cache file for a set of Exhibitor hosts: one file
// per Exhibitor cluster, so two registries on one machine never share one.
func DefaultCachePath(exhibitor string) string {
	h := fnv.New32a()
	h.Write([]byte(exhibitor))
	return filepath.Join(DefaultCacheDir(), fmt.Sprintf("ensemble-%08x.json", h.Sum32()))
}

// Load reads the cached servers. Every way the file can be unusable is an
// error that says why.
func (c *Cache) Load() (*CacheEntry, error) {
	data, err := os.ReadFile(c.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("no cached answer yet")
	}
	if err != nil {
		return nil, err
	}
	var e CacheEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("unreadable: %v", err)
	}
	if c.Exhibitor != "" && e.Exhibitor != c.Exhibitor {
		return nil, fmt.Errorf("written for Exhibitor %s, not %s", e.Exhibitor, c.Exhibitor)
	}
	if len(e.Servers) == 0 {
		return nil, errors.New("lists no servers")
	}
	hosts, err := registry.SplitHosts(strings.Join(e.Servers, ","), "2181")
	if err != nil || !slices.Equal(hosts, e.Servers) {
		return nil, fmt.Errorf("lists invalid servers %q", e.Servers)
	}
	return &e, nil
}

// Save writes servers atomically: a temporary file in the same directory
// (rename is atomic only within one file system), fsynced, then renamed over
// the old one, so a crash leaves the old cache or the new one, never half.
func (c *Cache) Save(servers []string, now time.Time) error {
	data, err := json.MarshalIndent(CacheEntry{Exhibitor: c.Exhibitor, Servers: servers, FetchedAt: now.UTC()}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(c.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("ensemble cache: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".ensemble-*.tmp")
	if err != nil {
		return fmt.Errorf("ensemble cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("ensemble cache %s: %w", c.Path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("ensemble cache %s: %w", c.Path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("ensemble cache %s: %w", c.Path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("ensemble cache %s: %w", c.Path, err)
	}
	if err := os.Rename(tmp.Name(), c.Path); err != nil {
		return fmt.Errorf("ensemble cache: %w", err)
	}
	return nil
}
