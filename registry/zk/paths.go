package zk

import (
	"context"

	"github.com/svcdisco/svcdisco/registry"
)

// Readers of entries other systems write (package registry/zk/foreign)
// work on paths outside svcdisco's root; these give them the chroot the
// registry URL names, the same watches Watch sets, and the marker rule.

// Chroot is the registry URL's chroot ("" for none): every absolute path
// a reader names lives under it.
func (r *Registry) Chroot() string { return r.opts.Chroot }

// ServicePath is the absolute znode (chroot included) holding service's
// own entries.
func (r *Registry) ServicePath(service string) string { return r.servicePath(service) }

// WatchPath is Watch for the children of any absolute znode path (chroot
// included): it signals when a child is added or removed, or one's data
// changes, with every guarantee Watch gives.
func (r *Registry) WatchPath(ctx context.Context, dir string) (<-chan struct{}, error) {
	if err := registry.ValidatePath(dir); err != nil {
		return nil, err
	}
	return r.watchDir(ctx, dir, "", dir)
}

// IsMarker reports whether a child of a service's znode is a maintenance
// marker rather than an entry.
func IsMarker(name string) bool { return isMarker(name) }
