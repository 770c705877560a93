package consul

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

var (
	_ coord.Elector  = (*Registry)(nil)
	_ coord.Detector = (*Registry)(nil)
)

// ElectionKey is the KV key of group's election, <root>/elections/GROUP/.lock
// (the key `consul lock <root>/elections/GROUP` uses). Its holder leads; its
// value is the leader in the provider shape.
func (r *Registry) ElectionKey(group string) string {
	return strings.Trim(r.opts.Root, "/") + "/elections/" + group + "/.lock"
}

// Campaign contends for the lock on ElectionKey(group) with a session of
// svcdisco's own (see heldSession). A term ends when the lock monitor sees
// the key taken from the session, or the session is lost; the contender
// then destroys that session and contends again with a new one.
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
	c := &candidacy{r: r, group: group, key: r.ElectionKey(group), value: value}
	c.Init(group)
	s, err := r.newSession(ctx, "svcdisco elect "+group)
	if err != nil {
		return nil, err
	}
	go coord.RunTerms(&c.Contending, r.log, r.opts.TTL, "session", s,
		func(ctx context.Context) (*heldSession, error) { return r.newSession(ctx, "svcdisco elect "+group) },
		c.term, func(ctx context.Context, s *heldSession) error { return s.destroy(ctx) })
	return c, nil
}

type candidacy struct {
	r     *Registry
	group string
	key   string
	value []byte

	coord.Contending
}

// term waits for the lock on session s and leads while it lasts.
func (c *candidacy) term(s *heldSession) {
	lock, err := c.r.client.LockOpts(&api.LockOptions{
		Key: c.key, Value: c.value, Session: s.id, LockWaitTime: 2 * time.Second,
	})
	if err != nil {
		c.r.log.Warn("elect: lock options", "err", err)
		c.Pause()
		return
	}
	stop := make(chan struct{})
	go func() {
		select {
		case <-c.ResignC:
		case <-s.Lost():
		}
		close(stop)
	}()
	monitor, err := lock.Lock(stop)
	if err != nil || monitor == nil {
		if err != nil && !c.Resigned() {
			c.r.log.Warn("elect: contending failed; retrying", "group", c.group, "err", err)
			c.Pause()
		}
		return
	}
	defer c.unlock(lock)
	token, err := c.confirm(s)
	if err != nil {
		c.r.log.Warn("elect: lock acquired but not confirmed; contending again", "group", c.group, "err", err)
		return
	}
	t := coord.NewTerm(token, c.Resign).WithKillBudget(func() time.Duration { return c.r.opts.TTL / 4 })
	select {
	case c.TermsC <- t:
	case <-c.ResignC:
		t.End(coord.ErrReleased)
		return
	}
	c.r.log.Info("elected leader", "group", c.group, "key", c.key, "token", token)
	var reason error
	select {
	case <-monitor:
		reason = c.whyMonitorEnded(s)
	case <-s.Lost():
		reason = s.Reason()
	case <-c.ResignC:
		reason = coord.ErrReleased
	}
	t.End(reason)
	if !errors.Is(reason, coord.ErrReleased) {
		c.r.log.Warn("leadership lost", "group", c.group, "reason", reason)
	}
}

// confirm reads the key back: it must be held by our session. The token is
// its ModifyIndex, which the acquire set and which only grows.
func (c *candidacy) confirm(s *heldSession) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.r.opts.TTL/2)
	defer cancel()
	pair, _, err := c.r.client.KV().Get(c.key, (&api.QueryOptions{RequireConsistent: true, Datacenter: c.r.opts.Datacenter}).WithContext(ctx))
	if err != nil {
		return 0, c.r.wrap("read "+c.key, err)
	}
	if pair == nil || pair.Session != s.id {
		return 0, fmt.Errorf("%s is not held by session %s", c.key, s.id)
	}
	return int64(pair.ModifyIndex), nil
}

// unlock releases the key without waiting long for an agent that does not
// answer: destroying the session (next) releases it too.
func (c *candidacy) unlock(lock *api.Lock) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := lock.Unlock(); err != nil && !errors.Is(err, api.ErrLockNotHeld) {
			c.r.log.Debug("elect: unlock", "err", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(c.r.opts.TTL / 2):
	}
}

// whyMonitorEnded tells a key taken from the session from a monitor that
// gave up because the agent stopped answering. Either way the term ends:
// api.Lock does not resume monitoring.
func (c *candidacy) whyMonitorEnded(s *heldSession) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.r.opts.TTL/4)
	defer cancel()
	pair, _, err := c.r.client.KV().Get(c.key, (&api.QueryOptions{RequireConsistent: true, Datacenter: c.r.opts.Datacenter}).WithContext(ctx))
	switch {
	case err != nil:
		return fmt.Errorf("%w: watching %s failed and consul does not answer: %v", coord.ErrDisconnected, c.key, err)
	case pair == nil || pair.Session != s.id:
		return fmt.Errorf("%w: %s no longer held by session %s", coord.ErrNodeGone, c.key, s.id)
	}
	return fmt.Errorf("%w: watching %s failed", coord.ErrLost, c.key)
}
