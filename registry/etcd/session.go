package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/svcdisco/svcdisco/coord"
)

// heldLease is a lease svcdisco refreshes itself, so it knows when to stop
// trusting it: etcd expires a lease one TTL after the last refresh the
// leader saw, and the client library's own keep-alive only gives up after
// a whole TTL without an answer — too late for a lock holder, whose child
// must be dead before anyone else can take the lock. So the lease is
// refreshed every quarter TTL and declared lost when no refresh has
// succeeded for half the TTL, or at once when etcd says it is gone.
type heldLease struct {
	r   *Registry
	id  clientv3.LeaseID
	ttl time.Duration

	mu     sync.Mutex
	timer  *time.Timer
	lost   chan struct{}
	reason error
	stop   chan struct{}
	once   sync.Once
}

func (r *Registry) newLease(ctx context.Context) (*heldLease, error) {
	g, err := r.client.Grant(ctx, r.ttlSeconds())
	if err != nil {
		return nil, r.wrap("grant lease", err)
	}
	l := &heldLease{r: r, id: g.ID, ttl: time.Duration(g.TTL) * time.Second, lost: make(chan struct{}), stop: make(chan struct{})}
	l.mu.Lock()
	l.timer = time.AfterFunc(l.ttl/2, func() {
		l.fail(fmt.Errorf("%w: no lease refresh for %v (half the TTL %v)", coord.ErrDisconnected, l.ttl/2, l.ttl))
	})
	l.mu.Unlock()
	go l.refresh()
	return l, nil
}

func (l *heldLease) refresh() {
	tick := time.NewTicker(l.ttl / 4)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.lost:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.ttl/4)
		resp, err := l.r.client.KeepAliveOnce(ctx, l.id)
		cancel()
		switch {
		case errors.Is(err, rpctypes.ErrLeaseNotFound) || (err == nil && resp.TTL <= 0):
			l.fail(fmt.Errorf("%w: etcd lease %x no longer exists", coord.ErrSessionExpired, int64(l.id)))
			return
		case err == nil:
			l.mu.Lock()
			if l.reason == nil {
				l.timer.Reset(l.ttl / 2)
			}
			l.mu.Unlock()
		default:
			l.r.log.Debug("lease refresh failed", "lease", fmt.Sprintf("%x", int64(l.id)), "err", err)
		}
	}
}

func (l *heldLease) fail(reason error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reason != nil {
		return
	}
	l.reason = reason
	l.timer.Stop()
	close(l.lost)
}

// Lost is closed when the lease must no longer be trusted.
func (l *heldLease) Lost() <-chan struct{} { return l.lost }

// Reason says why Lost closed.
func (l *heldLease) Reason() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reason
}

// session wraps the lease for the concurrency package's recipes (which
// keep it alive too; the refreshes above decide when it is lost).
func (l *heldLease) session(ctx context.Context) (*concurrency.Session, error) {
	s, err := concurrency.NewSession(l.r.client, concurrency.WithLease(l.id), concurrency.WithContext(ctx))
	if err != nil {
		return nil, l.r.wrap("session", err)
	}
	return s, nil
}

// revoke stops refreshing and revokes the lease (deleting its keys), within
// ctx.
func (l *heldLease) revoke(ctx context.Context) error {
	l.once.Do(func() { close(l.stop) })
	l.fail(coord.ErrReleased)
	_, err := l.r.client.Revoke(ctx, l.id)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		err = nil
	}
	return l.r.wrap("revoke lease", err)
}
