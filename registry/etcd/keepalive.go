package etcd

import (
	"context"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcdisco/svcdisco/registry"
)

// run keeps the registration's lease alive and follows its key until stop
// is closed: a lost lease or a key deleted behind its back registers the
// provider again; a status written by someone else is adopted.
func (reg *registration) run() {
	defer close(reg.done)
	for {
		ctx, cancel := context.WithCancel(context.Background())
		reason := reg.follow(ctx)
		cancel()
		if reason == "" {
			return
		}
		if !reg.rewrite(reason) {
			return
		}
	}
}

// follow refreshes the lease and watches the key. It returns why the
// provider must be registered again, or "" when stopped.
func (reg *registration) follow(ctx context.Context) string {
	reg.mu.Lock()
	lease, key, rev := reg.lease, reg.key, reg.rev
	reg.mu.Unlock()
	c := reg.r.client
	ka, err := c.KeepAlive(ctx, lease)
	if err != nil {
		return "keep-alive failed: " + err.Error()
	}
	wch := c.Watch(ctx, key, clientv3.WithRev(rev+1))
	for {
		select {
		case <-reg.stop:
			return ""
		case _, ok := <-ka:
			if !ok {
				return "lease lost"
			}
		case wr, ok := <-wch:
			if !ok || wr.Canceled || wr.Err() != nil {
				// Compacted or cancelled: follow again from the current
				// state, after a pause (a watch that keeps failing must
				// not spin).
				select {
				case <-reg.stop:
					return ""
				case <-time.After(minBackoff):
				}
				wch = c.Watch(ctx, key)
				continue
			}
			for _, ev := range wr.Events {
				if ev.Type == mvccpb.DELETE {
					return "key deleted"
				}
				reg.adopt(ev.Kv.Value)
			}
		}
	}
}

// adopt records the status in the key's data (written by `svcdisco
// maintenance`), so it is kept across re-registrations.
func (reg *registration) adopt(value []byte) {
	data, err := registry.DecodeData(value)
	if err != nil {
		return
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if data.Status != reg.p.Status {
		reg.r.log.Info("provider status changed", "service", reg.p.Service, "id", reg.p.ID, "status", data.Status)
		reg.p.Status = data.Status
	}
}

// rewrite registers the provider again, retrying with backoff until it
// succeeds or the registration is stopped (false).
func (reg *registration) rewrite(reason string) bool {
	log := reg.r.log
	backoff := time.Duration(0)
	for {
		select {
		case <-reg.stop:
			return false
		case <-time.After(backoff):
		}
		reg.mu.Lock()
		if reg.gone {
			reg.mu.Unlock()
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(reg.r.opts.TTL, 2*time.Second))
		old := reg.p.Name
		err := reg.write(ctx)
		cancel()
		p := reg.p
		reg.mu.Unlock()
		if err == nil {
			log.Info("re-registered provider", "service", p.Service, "id", p.ID, "reason", reason, "old", old, "new", p.Name)
			return true
		}
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
		log.Warn("re-registration failed; retrying", "service", p.Service, "id", p.ID, "reason", reason, "in", backoff, "err", err)
	}
}
