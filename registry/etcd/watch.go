package etcd

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcdisco/svcdisco/registry"
)

// Watch signals whenever the service's keys (providers and maintenance
// markers) change. It reads the service's revision before returning and
// watches the prefix from the next revision, so no change after Watch
// returns is missed. The client resumes a dropped stream from the last
// revision it saw; when the watch is cancelled (its revision was
// compacted, or the member lost its leader), it is started again from a
// fresh read and a signal is sent, since changes may have been missed.
func (r *Registry) Watch(ctx context.Context, service string) (<-chan struct{}, error) {
	if err := registry.ValidateService(service); err != nil {
		return nil, err
	}
	prefix := r.servicePrefix(service)
	rev, err := r.revision(ctx, prefix)
	if err != nil {
		return nil, r.wrap("watch "+service, err)
	}
	out := make(chan struct{}, 1)
	go r.watchLoop(ctx, service, prefix, rev, out)
	return out, nil
}

// revision is the store revision of a read of prefix.
func (r *Registry) revision(ctx context.Context, prefix string) (int64, error) {
	resp, err := r.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

func (r *Registry) watchLoop(ctx context.Context, service, prefix string, rev int64, out chan struct{}) {
	defer close(out)
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := r.client.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		var err error
		for wr := range wch {
			if err = wr.Err(); err != nil || wr.Canceled {
				break
			}
			backoff = 0
			if len(wr.Events) > 0 {
				rev = wr.Header.Revision
				notify(out)
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		r.log.Debug("watch: re-establishing", "service", service, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
		// Start again from a fresh read: changes since rev may be gone.
		fresh, ferr := r.revision(ctx, prefix)
		if ferr != nil {
			continue
		}
		if fresh != rev {
			notify(out)
		}
		rev = fresh
	}
}

// notify sends a coalesced signal: one pending signal stands for any
// number of changes.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
