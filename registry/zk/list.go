package zk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// Providers lists a service. FieldsOnly costs one getChildren; otherwise the
// provider data is read with pipelined gets. Data that does not parse is
// skipped with one warning naming the znode.
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
	var ps []registry.Provider
	if opts.FieldsOnly {
		ps = r.fromNames(service, names)
		for i := range ps {
			if maint[ps[i].Name] {
				ps[i].Status = registry.StatusMaintenance
			}
		}
	} else if ps, err = r.fetch(ctx, service, dir, names); err != nil {
		return nil, err
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

func (r *Registry) fromNames(service string, names []string) []registry.Provider {
	out := make([]registry.Provider, 0, len(names))
	for _, name := range names {
		p, err := providerFromName(service, name)
		if err != nil {
			r.log.Warn("skipping provider znode", "znode", r.servicePath(service)+"/"+name, "err", err)
			continue
		}
		out = append(out, p)
	}
	return out
}

// fetch reads every provider's data with one get per znode, all in flight at
// once: go-zookeeper pipelines requests from concurrent goroutines on its one
// connection, so the whole listing costs about one round trip plus the
// server's time. ctx bounds the listing as a whole (a per-get wrapper would
// cost a goroutine and a channel per provider).
func (r *Registry) fetch(ctx context.Context, service, dir string, names []string) ([]registry.Provider, error) {
	type result struct {
		p   registry.Provider
		ok  bool
		err error
	}
	results, err := zkcall.Do1(ctx, func() ([]result, error) {
		results := make([]result, len(names))
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Go(func() {
				p, ok, err := r.get(service, dir, name)
				results[i] = result{p, ok, err}
			})
		}
		wg.Wait()
		return results, nil
	})
	if err != nil {
		return nil, r.wrap("list "+service, err)
	}
	out := make([]registry.Provider, 0, len(names))
	for _, res := range results {
		if res.err != nil {
			return nil, r.wrap("list "+service, res.err)
		}
		if res.ok {
			out = append(out, res.p)
		}
	}
	return out, nil
}

// get reads one provider znode. ok is false when it vanished meanwhile or
// does not parse (which is logged).
func (r *Registry) get(service, dir, name string) (registry.Provider, bool, error) {
	znode := dir + "/" + name
	data, _, err := r.conn.Get(znode)
	if errors.Is(err, zk.ErrNoNode) {
		return registry.Provider{}, false, nil
	}
	if err != nil {
		return registry.Provider{}, false, err
	}
	p, err := decodeProvider(service, name, data)
	if err != nil {
		r.log.Warn("skipping provider znode with unreadable data", "znode", znode, "err", err)
		return registry.Provider{}, false, nil
	}
	return p, true, nil
}

// decodeProvider parses a znode's JSON. Fields the name carries fill in what
// the data lacks; the service always comes from the path.
func decodeProvider(service, name string, data []byte) (registry.Provider, error) {
	var p registry.Provider
	if err := json.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("provider JSON: %w", err)
	}
	fromName, nameErr := providerFromName(service, name)
	if p.Host == "" && nameErr == nil {
		p.Host = fromName.Host
	}
	if p.Port == 0 && nameErr == nil {
		p.Port = fromName.Port
	}
	if p.Timestamp.IsZero() && nameErr == nil {
		p.Timestamp = fromName.Timestamp
	}
	if p.Host == "" || p.Port < 1 || p.Port > 65535 {
		return p, fmt.Errorf("provider JSON has no valid host and port")
	}
	p.Service, p.Name = service, name
	if p.ID == "" {
		p.ID = registry.DefaultID(service, p.Host, p.Port)
	}
	if p.Status == "" {
		p.Status = registry.StatusUp
	}
	return p, nil
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
			counts[i].Providers = len(instances)
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
