package registry

import (
	"context"
	"errors"
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
}

// ListOptions tunes Providers.
type ListOptions struct {
	// FieldsOnly asks for what is cheap: service, host, port, timestamp and
	// name. On ZooKeeper that is one getChildren round trip, with no reads of
	// provider data.
	FieldsOnly bool
}

// ServiceCount is one line of `svcdisco services`.
type ServiceCount struct {
	Service   string `json:"service"`
	Providers int    `json:"providers"`
}
