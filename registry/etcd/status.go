package etcd

import (
	"context"
	"encoding/json"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// SetStatus is `svcdisco maintenance`: a read-modify-write of the
// provider's data, conditional on the revision read, that also puts or
// deletes the maintenance marker on the provider's own lease in the same
// transaction. It may run anywhere; the registrant adopts the status
// through the watch on its key.
func (r *Registry) SetStatus(ctx context.Context, p registry.Provider, status string) error {
	if err := registry.ValidateStatus(status); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	r.mu.Lock()
	regs := make([]*registration, 0, len(r.regs))
	for reg := range r.regs {
		regs = append(regs, reg)
	}
	r.mu.Unlock()
	var own *registration
	for _, reg := range regs {
		if cur := reg.Provider(); cur.Service == p.Service && cur.Name == p.Name {
			own = reg
		}
	}
	if own != nil {
		return own.SetStatus(ctx, status)
	}
	return r.setStatus(ctx, p.Service, p.ID, r.servicePrefix(p.Service)+p.Name, status)
}

// SetStatus sets this provider's status; it is kept for re-registrations.
func (reg *registration) SetStatus(ctx context.Context, status string) error {
	if err := registry.ValidateStatus(status); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.gone {
		return fmt.Errorf("set status of %s: not registered", reg.p.ID)
	}
	if err := reg.r.setStatus(ctx, reg.p.Service, reg.p.ID, reg.key, status); err != nil {
		return err
	}
	reg.p.Status = status
	return nil
}

// setStatus rewrites the status in key's data, keeping fields this version
// does not know, and moves the marker, retrying when the data changed
// between read and write.
func (r *Registry) setStatus(ctx context.Context, service, id, key, status string) error {
	for attempt := 0; attempt < 10; attempt++ {
		resp, err := r.client.Get(ctx, key)
		if err != nil {
			return r.wrap("set status of "+service, err)
		}
		if len(resp.Kvs) == 0 {
			return fmt.Errorf("set status of %s provider %s: not registered (key %s)", service, id, key)
		}
		kv := resp.Kvs[0]
		var data map[string]json.RawMessage
		if err := json.Unmarshal(kv.Value, &data); err != nil || data == nil {
			data = map[string]json.RawMessage{}
		}
		data["status"], _ = json.Marshal(status)
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("set status of %s: %w", service, err)
		}
		lease := clientv3.WithLease(clientv3.LeaseID(kv.Lease))
		marker := clientv3.OpDelete(key + MarkerSuffix)
		if status == registry.StatusMaintenance {
			marker = clientv3.OpPut(key+MarkerSuffix, "", lease)
		}
		txn, err := r.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)).
			Then(clientv3.OpPut(key, string(b), lease), marker).Commit()
		if err != nil {
			return r.wrap("set status of "+service, err)
		}
		if txn.Succeeded {
			return nil
		}
	}
	return fmt.Errorf("set status of %s provider %s: the data kept changing", service, id)
}
