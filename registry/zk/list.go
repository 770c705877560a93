package zk

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// Providers lists a service by the entry rule (registry.CheckKey): a child
// is a provider when its name is host:port@millis with a valid host, port
// and registration time, and the name wins over the data for those three.
// Any other child is skipped with one warning naming the znode, in every
// listing, so fields-only and full listings list the same providers.
// FieldsOnly costs one getChildren; otherwise the provider data is read
// with pipelined gets.
func (r *Registry) Providers(ctx context.Context, service string, opts registry.ListOptions) ([]registry.Provider, error) {
	if err := registry.ValidateService(service); err != nil {
		return nil, err
	}
	dir := r.servicePath(service)
	names, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return r.conn.Children(dir) })
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, r.wrap("list "+service, err)
	}
	names, maint := splitNames(names)
	ps := r.fromNames(service, dir, names)
	for i := range ps {
		if maint[ps[i].Name] {
			ps[i].Status = registry.StatusMaintenance
		}
	}
	if !opts.FieldsOnly {
		if ps, err = r.fetch(ctx, service, dir, ps); err != nil {
			return nil, err
		}
	}
	if opts.IncludeMaintenance {
		return ps, nil
	}
	// Full listings go by the data (the truth), fields-only ones by the
	// markers; see maintenance.go.
	up := ps[:0]
	for _, p := range ps {
		if p.Status != registry.StatusMaintenance {
			up = append(up, p)
		}
	}
	return up, nil
}

// fromNames applies the entry rule to every name and returns the
// fields-only providers of those that pass.
func (r *Registry) fromNames(service, dir string, names []string) []registry.Provider {
	now := time.Now()
	out := make([]registry.Provider, 0, len(names))
	for _, name := range names {
		p, err := keyOf(service, name, now)
		if err != nil {
			r.log.Warn("skipping znode that is not a provider", "znode", dir+"/"+name, "err", err)
			continue
		}
		out = append(out, p)
	}
	setIDs(out)
	return out
}

// fetchWorkers bounds the gets in flight. A few hundred keep the pipeline
// to the server full; a goroutine per provider would cost a stack each
// (about 80 MB at 10,000 providers) for no speed.
const fetchWorkers = 256

// fetch completes every provider with its data, one get per znode, many in
// flight at once: go-zookeeper pipelines requests from concurrent
// goroutines on its one connection, so the whole listing costs about one
// round trip plus the server's time. A provider whose znode vanished
// meanwhile is dropped. ctx bounds the listing as a whole (a per-get
// wrapper would cost a goroutine and a channel per provider).
func (r *Registry) fetch(ctx context.Context, service, dir string, keys []registry.Provider) ([]registry.Provider, error) {
	gone := make([]bool, len(keys))
	_, err := zkcall.Do1(ctx, func() (struct{}, error) {
		var next atomic.Int64
		errs := make([]error, min(fetchWorkers, len(keys)))
		var wg sync.WaitGroup
		for w := range errs {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(keys); i = int(next.Add(1) - 1) {
					ok, err := r.complete(dir, &keys[i])
					if err != nil {
						errs[w] = err
						return
					}
					gone[i] = !ok
				}
			})
		}
		wg.Wait()
		return struct{}{}, errors.Join(errs...)
	})
	if err != nil {
		return nil, r.wrap("list "+service, err)
	}
	out := keys[:0]
	for i := range keys {
		if !gone[i] {
			out = append(out, keys[i])
		}
	}
	return out, nil
}

// complete reads one provider's data into p (fields-only on entry). ok is
// false when the znode vanished meanwhile.
func (r *Registry) complete(dir string, p *registry.Provider) (bool, error) {
	znode := dir + "/" + p.Name
	data, _, err := r.conn.Get(znode)
	if errors.Is(err, zk.ErrNoNode) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	*p = r.merge(znode, *p, data)
	return true, nil
}

// merge is the entry rule's data half: the data adds what the name does not
// say; unreadable data is ignored with one warning (the provider stays as
// its name describes it, with the defaults and the marker's status).
func (r *Registry) merge(znode string, key registry.Provider, data []byte) registry.Provider {
	d, err := registry.DecodeData(data)
	if err != nil {
		r.log.Warn("ignoring unreadable provider data: listed as its znode name says, with defaults", "znode", znode, "err", err)
		key.FieldsOnly = false
		return key
	}
	p, conflicts := registry.Merge(key, d)
	if len(conflicts) > 0 {
		r.log.Warn("provider data disagrees with its znode name: the name wins", "znode", znode, "fields", conflicts)
	}
	return p
}

// Services counts providers per service: one getChildren plus one pipelined
// getChildren per service. (NumChildren from an exists would be smaller but
// would count maintenance markers as providers.) Providers in maintenance
// are counted: they are registered.
func (r *Registry) Services(ctx context.Context) ([]registry.ServiceCount, error) {
	names, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return r.conn.Children(r.servicesPath()) })
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, r.wrap("list services", err)
	}
	now := time.Now()
	counts := make([]registry.ServiceCount, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			children, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return r.conn.Children(r.servicePath(name)) })
			counts[i].Service = name
			if errors.Is(err, zk.ErrNoNode) {
				err = nil
			}
			instances, _ := splitNames(children)
			counts[i].Providers = countProviders(instances, now)
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, r.wrap("list services", err)
	}
	sort.Slice(counts, func(i, j int) bool { return counts[i].Service < counts[j].Service })
	return counts, nil
}

// countProviders counts the names the entry rule makes providers, as
// Providers lists them (maintenance markers already split off).
func countProviders(names []string, now time.Time) int {
	n := 0
	for _, name := range names {
		if _, err := keyOf("", name, now); err == nil {
			n++
		}
	}
	return n
}
