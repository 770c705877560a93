package nodecache

import (
	"context"

	"github.com/svcdisco/svcdisco/registry"
)

// Registry returns the cache as a registry.Registry for reads, so the
// agent can run query.Run on it itself (the /v1/query request): listings
// come from memory, waits from the cache's own watch. A stale listing is
// an error (*StaleError), never an answer.
func (c *Cache) Registry() registry.Registry { return local{c} }

type local struct{ c *Cache }

func (l local) Providers(ctx context.Context, service string, opts registry.ListOptions) ([]registry.Provider, error) {
	snap, err := l.c.Get(ctx, service, 0)
	if err != nil {
		return nil, err
	}
	return view(snap.Providers, opts, l.c.full), nil
}

// view is a listing as the registry gives it for opts: maintenance hidden
// unless asked for, fields-only providers reduced (unless the registry
// lists in full anyway). The cached slice is never modified.
func view(all []registry.Provider, opts registry.ListOptions, full bool) []registry.Provider {
	ps := make([]registry.Provider, 0, len(all))
	for _, p := range all {
		if !opts.IncludeMaintenance && p.Status == registry.StatusMaintenance {
			continue
		}
		if opts.FieldsOnly && !full {
			p = fieldsOnly(p)
		}
		ps = append(ps, p)
	}
	return ps
}

func (l local) Services(ctx context.Context) ([]registry.ServiceCount, error) {
	return l.c.Services(ctx)
}

func (l local) Watch(ctx context.Context, service string) (<-chan struct{}, error) {
	_, index, err := l.c.Changed(ctx, service, 0)
	if err != nil {
		return nil, err
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		for {
			ch, now, err := l.c.Changed(ctx, service, index)
			if err != nil {
				return
			}
			if now != index {
				index = now
				signal(out)
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
		}
	}()
	return out, nil
}

func (l local) Register(context.Context, registry.Provider) (registry.Registration, error) {
	return nil, errReadOnly
}

func (l local) SetStatus(context.Context, registry.Provider, string) error { return errReadOnly }

func (l local) Close() error { return nil }
