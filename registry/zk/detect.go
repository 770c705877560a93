package zk

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

var _ coord.Detector = (*Registry)(nil)

// ElectionPath is the znode of group's election:
// <chroot><root>/elections/GROUP, laid out as Mesos' contenders do.
func (r *Registry) ElectionPath(group string) string { return r.base + "/elections/" + group }

// MesosPath turns a --path argument (a znode such as /mesos, inside the
// registry URL's chroot but outside --root) into an absolute znode.
func (r *Registry) MesosPath(p string) (string, error) {
	if err := registry.ValidatePath(p); err != nil || p == "/" {
		return "", exitcode.Usagef("invalid --path %q: want an absolute znode such as /mesos", p)
	}
	return r.opts.Chroot + path.Clean(p), nil
}

// Leader returns the leader of group: the member with the lowest sequence,
// as Mesos' detector decides.
func (r *Registry) Leader(ctx context.Context, group string) (coord.LeaderChange, error) {
	if err := coord.ValidateGroup(group); err != nil {
		return coord.LeaderChange{}, exitcode.New(exitcode.Usage, err)
	}
	lc, _, err := r.detect(ctx, r.ElectionPath(group), group, false)
	return lc, err
}

// LeaderAt is Leader for an election at an absolute znode (a Mesos
// cluster's, see MesosPath). group names the leader's service.
func (r *Registry) LeaderAt(ctx context.Context, znode, group string) (coord.LeaderChange, error) {
	lc, _, err := r.detect(ctx, znode, group, false)
	return lc, err
}

// WatchLeader implements coord.Detector.
func (r *Registry) WatchLeader(ctx context.Context, group string) (<-chan coord.LeaderChange, error) {
	if err := coord.ValidateGroup(group); err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	return r.WatchLeaderAt(ctx, r.ElectionPath(group), group)
}

// WatchLeaderAt is WatchLeader for an election at an absolute znode. group
// names the leader's service.
func (r *Registry) WatchLeaderAt(ctx context.Context, znode, group string) (<-chan coord.LeaderChange, error) {
	first, ev, err := r.detectBounded(ctx, znode, group)
	if err != nil {
		return nil, err
	}
	out := make(chan coord.LeaderChange, 1)
	out <- first
	reconnected, unsubscribe := r.session.subscribe()
	go func() {
		defer close(out)
		defer unsubscribe()
		r.watchLeaderLoop(ctx, znode, group, first, ev, reconnected, out)
	}()
	return out, nil
}

// watchLeaderLoop re-reads the leader after every change of the election's
// children and every reconnect. While disconnected for longer than the
// session timeout it reports no leader, as Mesos' detector does: by then
// the leader's session may have expired and another may lead.
func (r *Registry) watchLeaderLoop(ctx context.Context, znode, group string, last coord.LeaderChange,
	ev <-chan zk.Event, reconnected <-chan struct{}, out chan<- coord.LeaderChange) {
	tick := time.NewTicker(r.opts.SessionTimeout / 10)
	defer tick.Stop()
	var disconnectedSince time.Time
	send := func(lc coord.LeaderChange) bool {
		if lc.Same(last) {
			return true
		}
		last = lc
		select {
		case out <- lc:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ev:
		case <-reconnected:
		case <-tick.C:
			if r.conn.State() == zk.StateHasSession {
				disconnectedSince = time.Time{}
				if ev != nil {
					continue
				}
			} else {
				if disconnectedSince.IsZero() {
					disconnectedSince = time.Now()
				}
				if time.Since(disconnectedSince) > r.opts.SessionTimeout && !send(coord.LeaderChange{}) {
					return
				}
				continue
			}
		}
		lc, next, err := r.detectBounded(ctx, znode, group)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Debug("leader watch: re-reading after error", "znode", znode, "err", err)
			ev = nil // the tick retries
			continue
		}
		ev = next
		if !send(lc) {
			return
		}
	}
}

// detectBounded is a watching detect that gives up after a session
// timeout, so a watcher cut off from ZooKeeper keeps its clock running.
func (r *Registry) detectBounded(ctx context.Context, znode, group string) (coord.LeaderChange, <-chan zk.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.SessionTimeout)
	defer cancel()
	return r.detect(ctx, znode, group, true)
}

// detect reads the election at dir once: the lowest member and its data.
// With watch set it also returns a watch on dir's children (or on dir's
// creation while it does not exist).
func (r *Registry) detect(ctx context.Context, dir, group string, watch bool) (coord.LeaderChange, <-chan zk.Event, error) {
	for {
		children, ev, err := r.electionChildren(ctx, dir, watch)
		if err != nil {
			return coord.LeaderChange{}, nil, r.wrap("read election "+dir, err)
		}
		ms := members(children)
		if len(ms) == 0 {
			return coord.LeaderChange{}, ev, nil
		}
		lowest := ms[0]
		if !knownLabel(lowest.Label) {
			// Mesos' own detector fails here and its masters step down;
			// nobody leads until that member goes.
			r.log.Warn("lowest election member has a label svcdisco cannot read; no leader until it goes",
				"znode", dir+"/"+lowest.Name, "label", lowest.Label)
			return coord.LeaderChange{}, ev, nil
		}
		data, st, err := zkcall.Do2(ctx, func() ([]byte, *zk.Stat, error) { return r.conn.Get(dir + "/" + lowest.Name) })
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone meanwhile: the next one leads
		}
		if err != nil {
			return coord.LeaderChange{}, nil, r.wrap("read election "+dir, err)
		}
		p, err := decodeMember(group, lowest, data)
		if err != nil {
			return coord.LeaderChange{}, ev, fmt.Errorf("leader znode %s/%s: %w", dir, lowest.Name, err)
		}
		return coord.LeaderChange{Leader: p, OK: true, Token: st.Czxid}, ev, nil
	}
}

func (r *Registry) electionChildren(ctx context.Context, dir string, watch bool) ([]string, <-chan zk.Event, error) {
	if !watch {
		children, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return r.conn.Children(dir) })
		if errors.Is(err, zk.ErrNoNode) {
			return nil, nil, nil
		}
		return children, nil, err
	}
	for {
		children, _, ev, err := zkcall.Do3(ctx, func() ([]string, *zk.Stat, <-chan zk.Event, error) { return r.conn.ChildrenW(dir) })
		if !errors.Is(err, zk.ErrNoNode) {
			return children, ev, err
		}
		ok, _, ev, err := zkcall.Do3(ctx, func() (bool, *zk.Stat, <-chan zk.Event, error) { return r.conn.ExistsW(dir) })
		if err != nil || !ok {
			return nil, ev, err
		}
	}
}
