package consul

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/registry"
)

// servicesWorkers bounds the health queries in flight for Services.
const servicesWorkers = 16

// Providers lists a service's passing instances (one health query; Consul
// returns every field at once, so FieldsOnly changes nothing here). An
// instance in maintenance is not passing and is left out unless
// opts.IncludeMaintenance. svcdisco
// instances of another --root are skipped; native instances are kept.
// Instances whose svcdisco Meta does not parse are skipped with a warning.
func (r *Registry) Providers(ctx context.Context, service string, opts registry.ListOptions) ([]registry.Provider, error) {
	if err := registry.ValidateService(service); err != nil {
		return nil, err
	}
	return r.list(ctx, service, opts.IncludeMaintenance)
}

// list runs the health query. With includeMaintenance, instances whose only
// failing check is Consul's maintenance check are kept too (for `query
// --include-maintenance`); otherwise Consul filters to passing instances.
func (r *Registry) list(ctx context.Context, service string, includeMaintenance bool) ([]registry.Provider, error) {
	entries, meta, err := r.client.Health().Service(service, "", !includeMaintenance, r.q(ctx))
	if err != nil {
		return nil, r.wrap("list "+service, err)
	}
	if len(entries) == 0 {
		if err := r.aclHidden(ctx, service, meta.ResultsFilteredByACLs); err != nil {
			return nil, err
		}
	} else if meta.ResultsFilteredByACLs {
		r.log.Warn("Consul hid some instances the ACL token may not read (service:read, node:read)", "service", service)
	}
	kept := entries[:0]
	for _, e := range entries {
		if sameName(e, service) && (!includeMaintenance || passingButMaintenance(e.Checks)) {
			kept = append(kept, e)
		}
	}
	entries = kept
	return r.providers(entries), nil
}

// providers decodes entries, keeping those of our root (and native ones)
// that the entry rule makes providers.
func (r *Registry) providers(entries []*api.ServiceEntry) []registry.Provider {
	now := time.Now()
	out := make([]registry.Provider, 0, len(entries))
	for _, e := range entries {
		p, ours, err := r.entry(e, now)
		if err != nil {
			r.log.Warn("skipping service instance that is not a provider",
				"service", e.Service.Service, "id", e.Service.ID, "node", nodeOf(e), "err", err)
			continue
		}
		if ours {
			out = append(out, p)
		}
	}
	return out
}

// entry applies the entry rule (registry.CheckKey) to one instance: its
// host, port and (for svcdisco's own instances) svcdisco-timestamp must be
// valid; a native instance needs no timestamp. ours is false for an
// instance of another --root. A missing weight is registry.DefaultWeight.
func (r *Registry) entry(e *api.ServiceEntry, now time.Time) (p registry.Provider, ours bool, err error) {
	d, err := decode(e)
	if err != nil {
		return p, false, err
	}
	if d.root != "" && d.root != r.opts.Root {
		return p, false, nil
	}
	p = d.p
	if err := registry.CheckKey(p.Host, p.Port, p.Timestamp, d.root == "", now); err != nil {
		return p, false, err
	}
	if _, ok := e.Service.Meta[MetaWeight]; !ok && e.Service.Weights.Passing <= 0 {
		p.Weight = registry.DefaultWeight
	}
	p.Complete()
	return p, true, nil
}

func nodeOf(e *api.ServiceEntry) string {
	if e.Node == nil {
		return ""
	}
	return e.Node.Node
}

// Services counts the passing providers of every service in the catalog
// that has at least one instance under our root (or a native one): one
// catalog query plus one health query per service, 16 at a time. Consul has
// no per-service count endpoint that also carries Meta for the root filter.
func (r *Registry) Services(ctx context.Context) ([]registry.ServiceCount, error) {
	names, _, err := r.client.Catalog().Services(r.q(ctx))
	if err != nil {
		return nil, r.wrap("list services", err)
	}
	if len(names) == 0 {
		if err := r.aclHidden(ctx, "services", false); err != nil {
			return nil, err
		}
	}
	type result struct {
		count   registry.ServiceCount
		visible bool
		err     error
	}
	results := make([]result, 0, len(names))
	for name := range names {
		results = append(results, result{count: registry.ServiceCount{Service: name}})
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(servicesWorkers, len(results)) {
		wg.Go(func() {
			for i := range jobs {
				res := &results[i]
				res.count.Providers, res.visible, res.err = r.count(ctx, res.count.Service)
			}
		})
	}
	for i := range results {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	out := make([]registry.ServiceCount, 0, len(results))
	for _, res := range results {
		if res.err != nil {
			return nil, r.wrap("list services", res.err)
		}
		if res.visible {
			out = append(out, res.count)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, nil
}

// count returns how many of a service's instances pass, and whether any
// instance (passing or not) belongs under our root.
func (r *Registry) count(ctx context.Context, service string) (int, bool, error) {
	entries, _, err := r.client.Health().Service(service, "", false, r.q(ctx))
	if err != nil {
		return 0, false, err
	}
	n, visible, now := 0, false, time.Now()
	for _, e := range entries {
		if root := rootOf(e.Service.Meta); (root != "" && root != r.opts.Root) || !sameName(e, service) {
			continue
		}
		visible = true
		if e.Checks.AggregatedStatus() == api.HealthPassing {
			if _, ours, err := r.entry(e, now); err == nil && ours {
				n++
			}
		}
	}
	return n, visible, nil
}

// sameName reports whether e is an instance of exactly service. Consul
// matches service names without regard to case (a query for "web" also
// returns "Web"); svcdisco names are case-sensitive on every backend, as on
// ZooKeeper, so "web" and "Web" are two services.
func sameName(e *api.ServiceEntry, service string) bool {
	return e.Service != nil && e.Service.Service == service
}
