package etcd

import (
	"context"
	"encoding/json"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

var _ coord.Detector = (*Registry)(nil)

// Leader reads group's leader: the oldest key under ElectionPrefix (what
// `etcdctl elect -l` shows). Its token is the key's create revision.
func (r *Registry) Leader(ctx context.Context, group string) (coord.LeaderChange, error) {
	if err := coord.ValidateGroup(group); err != nil {
		return coord.LeaderChange{}, exitcode.New(exitcode.Usage, err)
	}
	lc, _, err := r.readLeader(ctx, group)
	return lc, err
}

func (r *Registry) readLeader(ctx context.Context, group string) (coord.LeaderChange, int64, error) {
	resp, err := r.client.Get(ctx, r.ElectionPrefix(group)+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return coord.LeaderChange{}, 0, r.wrap("read election "+group, err)
	}
	if len(resp.Kvs) == 0 {
		return coord.LeaderChange{}, resp.Header.Revision, nil
	}
	return r.leaderOf(group, resp.Kvs[0]), resp.Header.Revision, nil
}

// leaderOf decodes a leader key. A value that is not a provider (an
// `etcdctl elect` proposal) becomes the leader's ID.
func (r *Registry) leaderOf(group string, kv *mvccpb.KeyValue) coord.LeaderChange {
	var p registry.Provider
	if err := json.Unmarshal(kv.Value, &p); err != nil || p.Host == "" {
		p = registry.Provider{ID: string(kv.Value)}
	}
	p.Service, p.Name = group, string(kv.Key)
	if p.Status == "" {
		p.Status = registry.StatusUp
	}
	return coord.LeaderChange{Leader: p, OK: true, Token: kv.CreateRevision}
}

// WatchLeader sends the leader at once, then every change, following the
// election prefix with a watch from the revision of the read. While etcd
// cannot be reached for longer than the TTL it sends "no leader".
func (r *Registry) WatchLeader(ctx context.Context, group string) (<-chan coord.LeaderChange, error) {
	if err := coord.ValidateGroup(group); err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	first, rev, err := r.readLeader(ctx, group)
	if err != nil {
		return nil, err
	}
	out := make(chan coord.LeaderChange, 1)
	out <- first
	go func() {
		defer close(out)
		r.watchLeaderLoop(ctx, group, first, rev, out)
	}()
	return out, nil
}

func (r *Registry) watchLeaderLoop(ctx context.Context, group string, last coord.LeaderChange, rev int64, out chan<- coord.LeaderChange) {
	var failingSince time.Time
	for ctx.Err() == nil {
		var ok bool
		if last, rev, ok = r.followLeader(ctx, group, last, rev, out); !ok {
			return
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		}
		if time.Since(failingSince) > r.opts.TTL && last.OK {
			last = coord.LeaderChange{}
			if !send(ctx, out, last) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(minBackoff):
		}
		rctx, rcancel := context.WithTimeout(ctx, r.opts.TTL)
		lc, fresh, err := r.readLeader(rctx, group)
		rcancel()
		if err != nil {
			continue
		}
		failingSince, rev = time.Time{}, fresh
		if !lc.Same(last) {
			last = lc
			if !send(ctx, out, lc) {
				return
			}
		}
	}
}

// followLeader watches the election from rev and sends every change of
// leader until the watch fails (or, when it is quiet for a TTL, a read
// fails). It returns the last leader sent and the revision reached; ok is
// false when ctx ended.
func (r *Registry) followLeader(ctx context.Context, group string, last coord.LeaderChange, rev int64, out chan<- coord.LeaderChange) (coord.LeaderChange, int64, bool) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := r.client.Watch(wctx, r.ElectionPrefix(group)+"/", clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	timer := time.NewTimer(r.opts.TTL)
	defer timer.Stop()
	for {
		select {
		case wr, ok := <-wch:
			if !ok || wr.Err() != nil || wr.Canceled {
				return last, rev, ctx.Err() == nil
			}
		case <-timer.C: // quiet: check the cluster still answers
		}
		timer.Reset(r.opts.TTL)
		lc, next, err := r.readLeader(wctx, group)
		if err != nil {
			return last, rev, ctx.Err() == nil
		}
		rev = next
		if !lc.Same(last) {
			last = lc
			if !send(ctx, out, lc) {
				return last, rev, false
			}
		}
	}
}

func send(ctx context.Context, out chan<- coord.LeaderChange, lc coord.LeaderChange) bool {
	select {
	case out <- lc:
		return true
	case <-ctx.Done():
		return false
	}
}
