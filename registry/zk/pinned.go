package zk

import (
	"context"
	"fmt"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// RegisterPinned registers p under the znode name and timestamp it already
// carries (p.Name, p.Timestamp, as another Registry's Register set them)
// and keeps exactly that name: after session expiry the znode is re-created
// with the same name and data, never a new timestamp. This is how a mirror
// ensemble holds the same provider as the primary (registry/mirror).
//
// A znode of that name owned by another session is not taken over: the
// registration fails (and, once held, its re-creation waits for the next
// reconcile) until that session's znode is gone.
func (r *Registry) RegisterPinned(ctx context.Context, p registry.Provider) (registry.Registration, error) {
	if p.Name == "" || p.Timestamp.IsZero() {
		return nil, exitcode.New(exitcode.Usage, fmt.Errorf("register %s: a pinned registration needs a name and a timestamp", p.Service))
	}
	if host, port, ts, err := ParseInstanceName(p.Name); err != nil || host != p.Host || port != p.Port || !ts.Equal(p.Timestamp) {
		return nil, exitcode.New(exitcode.Usage, fmt.Errorf("register %s: znode name %q does not match host %s, port %d and timestamp %s",
			p.Service, p.Name, p.Host, p.Port, p.Timestamp.UTC().Format(registry.TimeFormat)))
	}
	return r.register(ctx, p, true)
}

// Changed is signalled (coalesced, one pending signal) whenever Provider()
// may have changed: the znode was (re-)created, possibly under a new name
// after session expiry, or the status changed. registry/mirror follows a
// primary registration with it.
func (reg *registration) Changed() <-chan struct{} { return reg.changed }
