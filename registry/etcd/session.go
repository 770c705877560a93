package etcd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/svcdisco/svcdisco/coord"
)

// heldLease is a lease svcdisco refreshes itself (coord.Renewal): etcd
// expires a lease one TTL after the last refresh the leader saw, and the
// client library's own keep-alive only gives up after a whole TTL without
// an answer — too late for a lock holder, whose child must be dead before
// anyone else can take the lock.
type heldLease struct {
	*coord.Renewal
	r  *Registry
	id clientv3.LeaseID
}

func (r *Registry) newLease(ctx context.Context) (*heldLease, error) {
	g, err := r.client.Grant(ctx, r.ttlSeconds())
	if err != nil {
		return nil, r.wrap("grant lease", err)
	}
	refresh := func(ctx context.Context) (bool, error) {
		resp, err := r.client.KeepAliveOnce(ctx, g.ID)
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return true, nil
		}
		return err == nil && resp.TTL <= 0, err
	}
	ttl := time.Duration(g.TTL) * time.Second
	what := fmt.Sprintf("etcd lease %x", int64(g.ID))
	return &heldLease{Renewal: coord.StartRenewal(ttl, what, refresh, r.log), r: r, id: g.ID}, nil
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
	l.Stop()
	_, err := l.r.client.Revoke(ctx, l.id)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		err = nil
	}
	return l.r.wrap("revoke lease", err)
}
