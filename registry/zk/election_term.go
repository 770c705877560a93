package zk

import (
	"context"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/zkcall"
)

// lead holds one term: from the confirmed ownership of the lowest member
// until the member goes, the session is lost (the guard, fed by the
// connection's session events and its read clock) or the candidacy is
// resigned. The fencing token is the member's czxid: a later leader's
// member was created later, so its czxid is larger.
func (c *candidacy) lead(ctx context.Context, st *zk.Stat) {
	g, unguard := c.r.guardSession(c.sid)
	defer unguard()
	term := coord.NewTerm(st.Czxid, c.Resign).WithKillBudget(func() time.Duration { return KillBudget(c.r.obs.Negotiated()) })
	select {
	case c.terms <- term:
	case <-ctx.Done():
		g.Fail(coord.ErrReleased)
		term.End(coord.ErrReleased)
		return
	}
	c.r.log.Info("elected leader", "group", c.group, "znode", c.dir+"/"+c.node, "token", st.Czxid)
	if c.mirror != nil {
		c.mirror.publish()
	}
	reason := c.holdTerm(ctx, g)
	g.Fail(reason) // stops the guard's timer
	term.End(reason)
	if c.mirror != nil {
		// The mirrored copy goes first: the primary member (deleted
		// below, or expired with the session) cannot be replaced by
		// another leader while the mirror still names this one. A
		// mirror that does not answer is not waited for.
		wctx, cancel := context.WithTimeout(context.Background(), c.r.opts.SessionTimeout/4)
		c.mirror.withdraw(wctx)
		cancel()
	}
	if reason != coord.ErrReleased {
		c.r.log.Warn("leadership lost", "group", c.group, "reason", reason)
	}
	// Step down for good: a member kept after a lost term could lead again
	// with the same token. Delete it once connected, and join again.
	c.stale, c.node = c.node, ""
}

// holdTerm waits for the end of a term and says why it ended.
func (c *candidacy) holdTerm(ctx context.Context, g *guard) error {
	conn := c.r.conn
	znode := c.dir + "/" + c.node
	// Calls that wait for a reconnect end when the guard gives up.
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-g.Lost():
			cancel()
		case <-gctx.Done():
		}
	}()
	for {
		ok, _, ev, err := zkcall.Do3(gctx, func() (bool, *zk.Stat, <-chan zk.Event, error) { return conn.ExistsW(znode) })
		switch {
		case ctx.Err() != nil:
			return coord.ErrReleased
		case g.Reason() != nil:
			return g.Reason()
		case err != nil:
			// Connection trouble (a dropped connection, a broken
			// pipe): ask again shortly; the guard decides whether
			// the term is lost meanwhile.
			select {
			case <-g.Lost():
				return g.Reason()
			case <-ctx.Done():
				return coord.ErrReleased
			case <-time.After(200 * time.Millisecond):
			}
			continue
		case !ok:
			return fmt.Errorf("%w: %s deleted", coord.ErrNodeGone, znode)
		}
		select {
		case <-g.Lost():
			return g.Reason()
		case <-ctx.Done():
			return coord.ErrReleased
		case e := <-ev:
			switch e.Type {
			case zk.EventNodeDeleted:
				return fmt.Errorf("%w: %s deleted", coord.ErrNodeGone, znode)
			case zk.EventNotWatching:
				return fmt.Errorf("%w: %v", coord.ErrSessionExpired, e.Err)
			}
		}
	}
}

// leave ends the candidacy: our member (and one we stepped down from) is
// deleted so the next contender leads at once. Only while connected, and
// bounded by the session timeout: otherwise the session's expiry removes
// it anyway.
func (c *candidacy) leave() {
	if c.r.conn.State() != zk.StateHasSession {
		// Cut off: nothing can be deleted now, and the server removes
		// the member with the session. Do not hold up the exit.
		c.r.log.Debug("elect: not connected; the member goes with the session", "group", c.group)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.r.opts.SessionTimeout)
	defer cancel()
	for _, name := range []string{c.stale, c.node} {
		if name == "" {
			continue
		}
		if err := c.deleteOwn(ctx, name); err != nil {
			c.r.log.Warn("elect: could not delete member; it goes when the session does",
				"znode", c.dir+"/"+name, "err", err)
		}
	}
}
