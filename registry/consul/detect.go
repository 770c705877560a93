package consul

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// Leader reads the election key: held by a session means led, and the
// value is the leader. A holder that is not svcdisco (`consul lock` on the
// same prefix writes no provider) is named by its session.
func (r *Registry) Leader(ctx context.Context, group string) (coord.LeaderChange, error) {
	if err := coord.ValidateGroup(group); err != nil {
		return coord.LeaderChange{}, exitcode.New(exitcode.Usage, err)
	}
	q := (&api.QueryOptions{RequireConsistent: true, Datacenter: r.opts.Datacenter}).WithContext(ctx)
	pair, _, err := r.client.KV().Get(r.ElectionKey(group), q)
	if err != nil {
		return coord.LeaderChange{}, r.wrap("read election "+group, err)
	}
	return r.leaderOf(group, pair), nil
}

func (r *Registry) leaderOf(group string, pair *api.KVPair) coord.LeaderChange {
	if pair == nil || pair.Session == "" {
		return coord.LeaderChange{}
	}
	var p registry.Provider
	if err := json.Unmarshal(pair.Value, &p); err != nil || p.Host == "" {
		r.log.Warn("election key held without a provider value (another tool's lock?)",
			"key", pair.Key, "session", pair.Session)
		p = registry.Provider{ID: pair.Session}
	}
	p.Service, p.Name = group, pair.Key
	if p.Status == "" {
		p.Status = registry.StatusUp
	}
	return coord.LeaderChange{Leader: p, OK: true, Token: int64(pair.ModifyIndex)}
}

// WatchLeader follows the election key with blocking queries. When the
// agent cannot be asked for longer than the TTL, it reports no leader.
func (r *Registry) WatchLeader(ctx context.Context, group string) (<-chan coord.LeaderChange, error) {
	if err := coord.ValidateGroup(group); err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	first, index, err := r.readLeader(ctx, group, 0)
	if err != nil {
		return nil, err
	}
	out := make(chan coord.LeaderChange, 1)
	out <- first
	go func() {
		defer close(out)
		r.watchLeaderLoop(ctx, group, first, index, out)
	}()
	return out, nil
}

func (r *Registry) watchLeaderLoop(ctx context.Context, group string, last coord.LeaderChange, index uint64, out chan<- coord.LeaderChange) {
	var failingSince time.Time
	for ctx.Err() == nil {
		lc, next, err := r.readLeader(ctx, group, index)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			if time.Since(failingSince) > r.opts.TTL {
				lc, index = coord.LeaderChange{}, 0
			} else {
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
				continue
			}
		} else {
			failingSince, index = time.Time{}, next
		}
		if lc.Same(last) {
			if err != nil { // still failing: retry at a gentle pace
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		last = lc
		select {
		case out <- lc:
		case <-ctx.Done():
			return
		}
	}
}

// readLeader is a blocking read of the election key after index (0: now),
// bounded by the TTL so a silent agent is noticed.
func (r *Registry) readLeader(ctx context.Context, group string, index uint64) (coord.LeaderChange, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.TTL+5*time.Second)
	defer cancel()
	q := (&api.QueryOptions{RequireConsistent: true, Datacenter: r.opts.Datacenter, WaitIndex: index, WaitTime: r.opts.TTL}).WithContext(ctx)
	pair, meta, err := r.client.KV().Get(r.ElectionKey(group), q)
	if err != nil {
		return coord.LeaderChange{}, 0, r.wrap("read election "+group, err)
	}
	next := meta.LastIndex
	if next < index { // the index went backwards (a snapshot restore): start over
		next = 0
	}
	return r.leaderOf(group, pair), next, nil
}
