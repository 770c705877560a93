package registry

import (
	"context"
	"errors"
	"fmt"
)

// ErrUnreachable is wrapped by every error that means the registry could not
// be reached in time. The CLI maps it to exit 4.
var ErrUnreachable = errors.New("registry unreachable")

// Registry is one backend holding providers. Every method that can block
// honours ctx.
type Registry interface {
	// Register writes p and keeps it registered — across reconnects and
	// session expiry, never as two entries — until the returned
	// Registration is deregistered or the Registry is closed. p.Timestamp
	// and p.Name are set by the backend.
	Register(ctx context.Context, p Provider) (Registration, error)

	// Providers lists a service's providers, unsorted, without filtering.
	// A service nobody registered has no providers (and no error).
	Providers(ctx context.Context, service string, opts ListOptions) ([]Provider, error)

	// Services lists every service with its provider count, sorted by name.
	Services(ctx context.Context) ([]ServiceCount, error)

	// Watch signals on the returned channel whenever the service's providers
	// may have changed (added, removed, data changed, or the backend
	// reconnected and re-listed). Signals are coalesced: one pending signal
	// stands for any number of changes. The channel closes when ctx is done.
	Watch(ctx context.Context, service string) (<-chan struct{}, error)

	// SetStatus sets the status (StatusUp or StatusMaintenance) of a
	// provider registered by anyone, as listed by Providers (p.Service and
	// p.Name locate it), without deregistering it: `svcdisco maintenance`.
	// The write is conditional on the version read, so a concurrent change
	// is never lost. A provider that is not registered is an error.
	SetStatus(ctx context.Context, p Provider, status string) error

	// Close deregisters everything still registered and releases the
	// connection.
	Close() error
}

// Registration is a provider held by a Registry.
type Registration interface {
	// Provider returns the provider as currently registered.
	Provider() Provider
	// Deregister removes the provider now (watchers see it vanish at once).
	Deregister(ctx context.Context) error
	// SetStatus sets this provider's status (StatusUp or StatusMaintenance)
	// without deregistering it. The status is kept for re-registrations
	// after session expiry. Status changes made by others through
	// Registry.SetStatus are adopted too, so Provider().Status follows them.
	SetStatus(ctx context.Context, status string) error
}

// ListOptions tunes Providers.
type ListOptions struct {
	// FieldsOnly asks for what is cheap: service, host, port, timestamp and
	// name. On ZooKeeper that is one getChildren round trip, with no reads of
	// provider data.
	FieldsOnly bool
	// IncludeMaintenance also lists providers whose status is
	// StatusMaintenance; by default they are hidden (they are registered
	// but must not get traffic). Hiding them must not cost a FieldsOnly
	// listing any extra round trip.
	IncludeMaintenance bool
}

// ValidateStatus reports whether s is a status a provider may be set to.
func ValidateStatus(s string) error {
	if s != StatusUp && s != StatusMaintenance {
		return fmt.Errorf("invalid status %q: want %s or %s", s, StatusUp, StatusMaintenance)
	}
	return nil
}

// ServiceCount is one line of `svcdisco services`. Providers means the
// same on every backend: how many providers a plain `query SERVICE` lists
// right now, so providers in maintenance (and, on Consul, instances whose
// checks do not pass) are not counted.
type ServiceCount struct {
	Service   string `json:"service"`
	Providers int    `json:"providers"`
}
