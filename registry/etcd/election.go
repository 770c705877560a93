package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

var _ coord.Elector = (*Registry)(nil)

// ElectionPrefix is the prefix of group's election, <root>/elections/GROUP:
// the name to give `etcdctl elect` (the concurrency package's Election
// layout: each candidate writes <prefix>/<lease hex> holding its value on
// its lease; the oldest create revision leads).
func (r *Registry) ElectionPrefix(group string) string { return r.opts.Root + "/elections/" + group }

// Campaign contends with concurrency.Election on a lease of svcdisco's own
// (see heldLease); the value is the contender in the provider shape. A
// term ends when the lease is lost or the leader key deleted; the
// contender then revokes that lease and contends again on a new one.
func (r *Registry) Campaign(ctx context.Context, group string, me registry.Provider) (coord.Candidacy, error) {
	if err := coord.ValidateContender(group, me); err != nil {
		return nil, exitcode.New(exitcode.Usage, fmt.Errorf("elect: %w", err))
	}
	me.Service = group
	if me.ID == "" {
		me.ID = registry.DefaultID(group, me.Host, me.Port)
	}
	if me.Status == "" {
		me.Status = registry.StatusUp
	}
	me.Timestamp = now().UTC().Truncate(time.Millisecond)
	value, err := json.Marshal(me)
	if err != nil {
		return nil, fmt.Errorf("elect %s: %w", group, err)
	}
	l, err := r.newLease(ctx)
	if err != nil {
		return nil, err
	}
	c := &candidacy{r: r, group: group, prefix: r.ElectionPrefix(group), value: string(value)}
	c.Init(group)
	go coord.RunTerms(&c.Contending, r.log, r.opts.TTL, "lease", l, r.newLease,
		c.term, func(ctx context.Context, l *heldLease) error { return l.revoke(ctx) })
	return c, nil
}

type candidacy struct {
	r      *Registry
	group  string
	prefix string
	value  string

	coord.Contending
}

// term campaigns on lease l and leads while it lasts.
func (c *candidacy) term(l *heldLease) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.ResignC:
		case <-l.Lost():
		case <-ctx.Done():
		}
		cancel()
	}()
	s, err := l.session(ctx)
	if err != nil {
		c.Pause()
		return
	}
	e := concurrency.NewElection(s, c.prefix)
	if err := e.Campaign(ctx, c.value); err != nil {
		if !c.Resigned() && l.Reason() == nil {
			c.r.log.Warn("elect: campaign failed; retrying", "group", c.group, "err", err)
			c.Pause()
		}
		return
	}
	t := coord.NewTerm(e.Rev(), c.Resign).WithKillBudget(func() time.Duration { return c.r.opts.TTL / 4 })
	select {
	case c.TermsC <- t:
	case <-ctx.Done():
		t.End(coord.ErrReleased)
		return
	}
	c.r.log.Info("elected leader", "group", c.group, "key", e.Key(), "token", e.Rev())
	reason := c.lead(ctx, l, e.Key(), e.Header().Revision)
	t.End(reason)
	if !errors.Is(reason, coord.ErrReleased) {
		c.r.log.Warn("leadership lost", "group", c.group, "reason", reason)
	}
}

// lead waits for the end of a term: resigned, the lease lost, or the
// leader key deleted behind our back.
func (c *candidacy) lead(ctx context.Context, l *heldLease, key string, rev int64) error {
	wch := c.r.client.Watch(ctx, key, clientv3.WithRev(rev+1))
	for {
		select {
		case <-c.ResignC:
			return coord.ErrReleased
		case <-l.Lost():
			return l.Reason()
		case wr, ok := <-wch:
			if !ok || wr.Err() != nil {
				if ctx.Err() != nil {
					continue // resign or loss: reported by the cases above
				}
				resp, err := c.r.client.Get(ctx, key)
				if err == nil && len(resp.Kvs) == 0 {
					return fmt.Errorf("%w: %s deleted", coord.ErrNodeGone, key)
				}
				if err == nil {
					rev = resp.Header.Revision
				}
				wch = c.r.client.Watch(ctx, key, clientv3.WithRev(rev+1))
				continue
			}
			for _, ev := range wr.Events {
				if ev.Type == mvccpb.DELETE {
					return fmt.Errorf("%w: %s deleted", coord.ErrNodeGone, key)
				}
			}
		}
	}
}
