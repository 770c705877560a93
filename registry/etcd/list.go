package etcd

import (
	"context"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcdisco/svcdisco/registry"
)

// Providers lists a service by the entry rule (registry.CheckKey): a key is
// a provider when its last component is host:port@millis with a valid
// host, port and registration time, and the key wins over the data for
// those three. Any other key is skipped with one warning naming it.
// FieldsOnly is one keys-only range read; otherwise one range read with the
// values. Maintenance: full listings go by the status in the data (the
// truth), fields-only ones by the markers, which are written in the same
// transaction, so both agree.
func (r *Registry) Providers(ctx context.Context, service string, opts registry.ListOptions) ([]registry.Provider, error) {
	if err := registry.ValidateService(service); err != nil {
		return nil, err
	}
	prefix := r.servicePrefix(service)
	getOpts := []clientv3.OpOption{clientv3.WithPrefix()}
	if opts.FieldsOnly {
		getOpts = append(getOpts, clientv3.WithKeysOnly())
	}
	resp, err := r.client.Get(ctx, prefix, getOpts...)
	if err != nil {
		return nil, r.wrap("list "+service, err)
	}
	return r.fromKVs(service, prefix, resp.Kvs, opts), nil
}

// fromKVs turns a range read of a service's keys into its providers.
func (r *Registry) fromKVs(service, prefix string, kvs []*mvccpb.KeyValue, opts registry.ListOptions) []registry.Provider {
	now := time.Now()
	maint := map[string]bool{}
	for _, kv := range kvs {
		if name, ok := strings.CutSuffix(string(kv.Key[len(prefix):]), MarkerSuffix); ok {
			maint[name] = true
		}
	}
	out := make([]registry.Provider, 0, len(kvs)-len(maint))
	for _, kv := range kvs {
		name := string(kv.Key[len(prefix):])
		if strings.HasSuffix(name, MarkerSuffix) {
			continue
		}
		p, err := keyOf(service, name, now)
		if err != nil {
			r.log.Warn("skipping key that is not a provider", "key", string(kv.Key), "err", err)
			continue
		}
		if opts.FieldsOnly {
			if maint[name] {
				p.Status = registry.StatusMaintenance
			}
		} else {
			p = r.merge(string(kv.Key), p, kv.Value)
		}
		if p.Status == registry.StatusMaintenance && !opts.IncludeMaintenance {
			continue
		}
		out = append(out, p)
	}
	return out
}

// merge completes a provider from its key with its data; data that does
// not decode is ignored as a whole with a warning (the entry rule).
func (r *Registry) merge(key string, p registry.Provider, value []byte) registry.Provider {
	data, err := registry.DecodeData(value)
	if err != nil {
		r.log.Warn("ignoring provider data", "key", key, "err", err)
		p.FieldsOnly = false
		return p
	}
	merged, conflicts := registry.Merge(p, data)
	if len(conflicts) > 0 {
		r.log.Warn("provider data disagrees with its key; the key wins", "key", key, "fields", conflicts)
	}
	return merged
}

// Services counts, per service, the providers a plain query lists
// (registry.ServiceCount), with one keys-only range read: providers with a
// maintenance marker are not counted.
func (r *Registry) Services(ctx context.Context) ([]registry.ServiceCount, error) {
	prefix := r.servicesPrefix()
	resp, err := r.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, r.wrap("list services", err)
	}
	now := time.Now()
	counts := map[string]int{}
	maint := map[string]bool{} // service/name of providers in maintenance
	for _, kv := range resp.Kvs {
		if key, ok := strings.CutSuffix(string(kv.Key[len(prefix):]), MarkerSuffix); ok {
			maint[key] = true
		}
	}
	for _, kv := range resp.Kvs {
		key := string(kv.Key[len(prefix):])
		service, name, ok := strings.Cut(key, "/")
		if !ok || registry.ValidateService(service) != nil {
			continue
		}
		if _, seen := counts[service]; !seen {
			counts[service] = 0
		}
		if strings.HasSuffix(name, MarkerSuffix) || maint[key] {
			continue
		}
		if _, err := keyOf(service, name, now); err == nil {
			counts[service]++
		}
	}
	out := make([]registry.ServiceCount, 0, len(counts))
	for s, n := range counts {
		out = append(out, registry.ServiceCount{Service: s, Providers: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, nil
}
