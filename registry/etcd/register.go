package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// now is the clock registrations are stamped with (tests replace it).
var now = time.Now

// Retry pacing of a registration that lost its lease.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

type registration struct {
	r *Registry

	mu    sync.Mutex
	p     registry.Provider
	key   string
	lease clientv3.LeaseID
	rev   int64 // revision of the write that created key
	gone  bool
	stop  chan struct{} // closed to stop run
	done  chan struct{} // closed when run has returned
}

// Register writes p on a lease of its own and keeps the lease alive. When
// the lease is lost (the client was cut off for longer than the TTL, or
// the lease was revoked behind its back) p is registered again on a new
// lease with a new timestamp, deleting the old key in the same transaction.
func (r *Registry) Register(ctx context.Context, p registry.Provider) (registry.Registration, error) {
	if p.ID == "" {
		p.ID = registry.DefaultID(p.Service, p.Host, p.Port)
	}
	if p.Status == "" {
		p.Status = registry.StatusUp
	}
	if err := p.Validate(); err != nil {
		return nil, exitcode.New(exitcode.Usage, fmt.Errorf("register: %w", err))
	}
	reg := &registration{r: r, p: p, stop: make(chan struct{}), done: make(chan struct{})}
	if err := reg.write(ctx); err != nil {
		return nil, r.wrap("register "+p.Service, err)
	}
	r.mu.Lock()
	r.regs[reg] = struct{}{}
	r.mu.Unlock()
	go reg.run()
	return reg, nil
}

// write grants a new lease and creates the provider's key on it (with its
// maintenance marker when in maintenance), deleting the key of the
// previous lease, if any, in the same transaction. Callers hold reg.mu or
// own reg alone.
func (reg *registration) write(ctx context.Context) error {
	r := reg.r
	lease, err := r.client.Grant(ctx, r.ttlSeconds())
	if err != nil {
		return err
	}
	p := reg.p
	p.Timestamp = now().UTC().Truncate(time.Millisecond)
	for attempt := 0; ; attempt++ {
		p.Name = InstanceName(p.Host, p.Port, p.Timestamp)
		key := r.servicePrefix(p.Service) + p.Name
		ok, rev, err := reg.create(ctx, key, p, lease.ID)
		if err != nil || (!ok && attempt >= 100) {
			revokeLater(r.client, lease.ID)
			if err == nil {
				err = fmt.Errorf("key %s: taken", key)
			}
			return err
		}
		if ok {
			if reg.lease != 0 {
				revokeLater(r.client, reg.lease)
			}
			reg.p, reg.key, reg.lease, reg.rev = p, key, lease.ID, rev
			return nil
		}
		// Another registration of host:port in the same millisecond.
		p.Timestamp = p.Timestamp.Add(time.Millisecond)
	}
}

// create writes key (if it does not exist yet) and deletes the previous
// key of this registration, atomically.
func (reg *registration) create(ctx context.Context, key string, p registry.Provider, lease clientv3.LeaseID) (bool, int64, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return false, 0, exitcode.New(exitcode.Usage, err)
	}
	ops := []clientv3.Op{clientv3.OpPut(key, string(data), clientv3.WithLease(lease))}
	if p.Status == registry.StatusMaintenance {
		ops = append(ops, clientv3.OpPut(key+MarkerSuffix, "", clientv3.WithLease(lease)))
	}
	if reg.key != "" && reg.key != key {
		ops = append(ops, clientv3.OpDelete(reg.key), clientv3.OpDelete(reg.key+MarkerSuffix))
	}
	resp, err := reg.r.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(ops...).Commit()
	if err != nil {
		return false, 0, err
	}
	return resp.Succeeded, resp.Header.Revision, nil
}

// revokeLater revokes a lease that is no longer used, in the background
// (best effort: a lease nobody refreshes expires anyway).
func revokeLater(c *clientv3.Client, id clientv3.LeaseID) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = c.Revoke(ctx, id)
	}()
}

func (reg *registration) Provider() registry.Provider {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.p
}

// Deregister stops refreshing the lease and revokes it: the key and its
// marker vanish at once.
func (reg *registration) Deregister(ctx context.Context) error {
	reg.mu.Lock()
	if reg.gone {
		reg.mu.Unlock()
		return nil
	}
	reg.gone = true
	close(reg.stop)
	reg.mu.Unlock()
	<-reg.done

	r := reg.r
	r.mu.Lock()
	delete(r.regs, reg)
	r.mu.Unlock()
	_, err := r.client.Revoke(ctx, reg.lease)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		_, err = r.client.Txn(ctx).Then(clientv3.OpDelete(reg.key), clientv3.OpDelete(reg.key+MarkerSuffix)).Commit()
	}
	return r.wrap("deregister "+reg.p.Service, err)
}
