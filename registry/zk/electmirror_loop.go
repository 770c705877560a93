package zk

import (
	"context"
	"time"
)

// MirrorSetter is implemented by a candidacy of a MirroredElector: the
// mirror can be set, changed or removed (open nil) while it runs, without
// touching the candidacy on the primary. Whatever it holds on the old
// mirror (marker, copy) is deleted and the session closed; the new mirror
// gets the same in the background.
type MirrorSetter interface {
	SetMirror(open func(ctx context.Context) (*Registry, error), origin string)
}

// SetMirror implements MirrorSetter.
func (c *candidacy) SetMirror(open func(ctx context.Context) (*Registry, error), origin string) {
	if c.mirror == nil {
		c.r.log.Warn("elect: this candidacy cannot be mirrored", "group", c.group)
		return
	}
	m := c.mirror
	m.mu.Lock()
	m.open, m.origin = open, origin
	m.mu.Unlock()
	notify(m.retarget)
}

// run follows the mirror in use until stop: connect, keep it in step,
// and, when the mirror is replaced, clear the old one and start over.
func (m *electionMirror) run(ctx context.Context) {
	defer close(m.done)
	for ctx.Err() == nil {
		m.mu.Lock()
		open := m.open
		m.mu.Unlock()
		if open == nil {
			select {
			case <-ctx.Done():
			case <-m.retarget:
			}
			continue
		}
		dst := m.connect(ctx, open)
		if dst == nil {
			continue // stopped, or another mirror was set
		}
		if !m.follow(ctx, dst) {
			return // stop clears and closes it
		}
		m.release(dst)
	}
}

// follow keeps dst in step with the candidacy until ctx ends (false) or
// another mirror is set (true).
func (m *electionMirror) follow(ctx context.Context, dst *Registry) bool {
	events := dst.SessionEvents(ctx)
	failing := false
	for {
		if err := m.sync(ctx, dst); err != nil && ctx.Err() == nil {
			if !failing {
				m.log.Warn("mirror: election not mirrored yet; retrying in the background", "err", err)
			}
			failing = true
		} else if failing && ctx.Err() == nil {
			m.log.Info("mirror: election mirrored again")
			failing = false
		}
		var retry <-chan time.Time
		if failing {
			retry = time.After(m.retry)
		}
		select {
		case <-ctx.Done():
			return false
		case <-m.retarget:
			return true
		case <-m.kick:
		case <-retry:
		case _, ok := <-events:
			if !ok {
				return false
			}
		}
	}
}

// release deletes our copy and marker from a mirror being replaced and
// closes its session (which would delete them anyway).
func (m *electionMirror) release(dst *Registry) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*m.retry)
	defer cancel()
	if err := m.syncTo(ctx, dst, true); err != nil {
		m.log.Debug("mirror: clearing the old mirror", "err", err)
	}
	m.mu.Lock()
	m.dst = nil
	m.mu.Unlock()
	if err := dst.CloseContext(ctx); err != nil {
		m.log.Debug("mirror: close", "err", err)
	}
	m.log.Info("mirror: left the old mirror")
}

// connect opens the mirror, retrying until it answers, ctx ends or
// another mirror is set (nil then).
func (m *electionMirror) connect(ctx context.Context, open func(ctx context.Context) (*Registry, error)) *Registry {
	logged := false
	for {
		octx, cancel := context.WithTimeout(ctx, 10*m.retry)
		dst, err := open(octx)
		cancel()
		if err == nil {
			m.mu.Lock()
			m.dst = dst
			m.mu.Unlock()
			if logged {
				m.log.Info("mirror: reachable again")
			}
			return dst
		}
		if ctx.Err() != nil {
			return nil
		}
		if !logged {
			m.log.Warn("mirror unreachable; the election is mirrored once it answers", "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.retarget:
			return nil
		case <-time.After(m.retry):
		}
	}
}
