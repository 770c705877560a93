package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

var _ coord.Locker = (*Registry)(nil)

// LockPrefix is the prefix of lock name: <root>/locks/NAME, the name to
// give `etcdctl lock` so that it and svcdisco exclude each other.
func (r *Registry) LockPrefix(name string) string { return r.opts.Root + "/locks/" + name }

// Lock takes the lock name with the concurrency package's Mutex on
// LockPrefix(name) — the layout of `etcdctl lock`: each contender writes
// <prefix>/<lease hex> on its lease, and the oldest create revision holds.
// The lease is svcdisco's own (see heldLease), so a holder cut off for half
// the TTL stops before etcd can expire the lease and let the next one in.
// The token is the key's create revision: it strictly increases from
// holder to holder.
func (r *Registry) Lock(ctx context.Context, name string) (coord.Hold, error) {
	if err := registry.ValidateService(name); err != nil {
		return nil, exitcode.Usagef("lock name: %v", err)
	}
	l, err := r.newLease(ctx)
	if err != nil {
		return nil, err
	}
	h := &etcdHold{r: r, name: name, lease: l, stop: make(chan struct{}), lost: make(chan struct{})}
	if err := h.wait(ctx); err != nil {
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = h.lease.revoke(rctx)
		cancel()
		return nil, err
	}
	go h.monitor()
	r.log.Info("lock acquired", "lock", name, "key", h.key, "token", h.token)
	return h, nil
}

// wait acquires, waiting as long as ctx allows: a waiter that loses its
// lease or its watch (the cluster lost quorum, the member it talks to was
// cut off) is not holding anything yet, so it contends again on a new
// lease rather than giving up.
func (h *etcdHold) wait(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		err := h.acquire(ctx)
		if err == nil || ctx.Err() != nil || exitcode.Of(err) != exitcode.Unreachable {
			return err
		}
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
		h.r.log.Warn("lock: waiting failed; contending again", "lock", h.name, "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return h.timeout(ctx)
		case <-time.After(backoff):
		}
		if h.lease.Reason() == nil {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, h.r.opts.TTL)
		_ = h.lease.revoke(rctx)
		l, err := h.r.newLease(rctx)
		cancel()
		if err == nil {
			h.lease = l
		}
	}
}

// acquire contends once on h.lease. It reads the lease once, into a local:
// the goroutine below can start after acquire has returned and wait has
// put a new lease in h.lease (a data race `make flake` found).
func (h *etcdHold) acquire(ctx context.Context) error {
	r, lease := h.r, h.lease
	s, err := lease.session(ctx)
	if err != nil {
		return err
	}
	m := concurrency.NewMutex(s, r.LockPrefix(h.name))
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-lease.Lost():
			cancel()
		case <-lctx.Done():
		}
	}()
	if err := m.Lock(lctx); err != nil {
		switch {
		case lease.Reason() != nil:
			return r.unreachable("lock "+h.name, lease.Reason())
		case ctx.Err() != nil:
			return h.timeout(ctx)
		}
		return r.wrap("lock "+h.name, err)
	}
	h.key = m.Key()
	resp, err := r.client.Get(ctx, h.key)
	if err != nil || len(resp.Kvs) == 0 || resp.Kvs[0].Lease != int64(lease.id) {
		return r.wrap("lock "+h.name+": read token", errors.Join(err, errors.New("lock key not ours after acquire")))
	}
	h.token, h.rev = resp.Kvs[0].CreateRevision, resp.Header.Revision
	return nil
}

// timeout names the holder: the oldest key under the prefix.
func (h *etcdHold) timeout(ctx context.Context) error {
	holder := ""
	qctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := h.r.client.Get(qctx, h.r.LockPrefix(h.name)+"/", clientv3.WithFirstCreate()...)
	if err == nil && len(resp.Kvs) > 0 {
		holder = fmt.Sprintf("key %s (lease %x)", resp.Kvs[0].Key, resp.Kvs[0].Lease)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return exitcode.New(exitcode.LockTimeout, &coord.HeldError{Name: h.name, Holder: holder})
	}
	return ctx.Err()
}

// etcdHold is a held etcd lock.
type etcdHold struct {
	r     *Registry
	name  string
	key   string
	lease *heldLease
	token int64
	rev   int64

	mu     sync.Mutex
	reason error
	lost   chan struct{}
	stop   chan struct{}
	once   sync.Once
}

func (h *etcdHold) Token() int64          { return h.token }
func (h *etcdHold) Lost() <-chan struct{} { return h.lost }

func (h *etcdHold) LostReason() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reason
}

// KillBudget: a stop caused by a lost lock has a quarter of the TTL
// between SIGTERM and SIGKILL (see heldLease).
func (h *etcdHold) KillBudget() time.Duration { return h.r.opts.TTL / 4 }

func (h *etcdHold) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reason == nil {
		h.reason = err
		close(h.lost)
	}
}

// monitor ends the hold when the lease is lost or the key is deleted (by
// `etcdctl del`, or a revoke behind our back).
func (h *etcdHold) monitor() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wch := h.r.client.Watch(ctx, h.key, clientv3.WithRev(h.rev+1))
	for {
		select {
		case <-h.stop:
			return
		case <-h.lease.Lost():
			h.fail(fmt.Errorf("lock %s: %w", h.name, h.lease.Reason()))
			return
		case wr, ok := <-wch:
			if !ok || wr.Err() != nil {
				wch = h.rewatch(ctx)
				continue
			}
			for _, ev := range wr.Events {
				if ev.Type == mvccpb.DELETE {
					h.fail(fmt.Errorf("lock %s: %w (key %s deleted)", h.name, coord.ErrNodeGone, h.key))
					return
				}
			}
		}
	}
}

// rewatch follows the key again after its watch ended (compaction, a
// cancelled stream): from a fresh read, failing the hold if the key is gone.
func (h *etcdHold) rewatch(ctx context.Context) clientv3.WatchChan {
	for {
		select {
		case <-h.stop:
			return nil
		case <-h.lease.Lost():
			return nil
		case <-time.After(minBackoff):
		}
		resp, err := h.r.client.Get(ctx, h.key)
		if err != nil {
			continue
		}
		if len(resp.Kvs) == 0 || resp.Kvs[0].Lease != int64(h.lease.id) {
			h.fail(fmt.Errorf("lock %s: %w (key %s deleted)", h.name, coord.ErrNodeGone, h.key))
			return nil
		}
		return h.r.client.Watch(ctx, h.key, clientv3.WithRev(resp.Header.Revision+1))
	}
}

// Release revokes the lease, which deletes the key. Call it only once the
// child is dead.
func (h *etcdHold) Release(ctx context.Context) error {
	var err error
	h.once.Do(func() {
		h.fail(coord.ErrReleased)
		close(h.stop)
		err = h.lease.revoke(ctx)
	})
	return err
}
