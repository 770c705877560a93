package zk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

var _ coord.Elector = (*Registry)(nil)

// Campaign joins group's election as Mesos' contenders do: an ephemeral
// sequential znode <root>/elections/GROUP/json.info_<seq> holding a
// MasterInfo-shaped JSON with the provider alongside. The member with the
// lowest sequence leads, but only once a read confirms the znode is owned
// by our current session (CURATOR-696: after an expiry the lowest node may
// be a dead session's). A term ends when the znode goes, the session
// expires or the client hears nothing from ZooKeeper for SafeFraction of
// the negotiated session timeout (the guard); the candidacy then deletes
// its znode (when it can) and joins again at the back.
func (r *Registry) Campaign(ctx context.Context, group string, me registry.Provider) (coord.Candidacy, error) {
	return r.campaign(ctx, group, me, nil)
}

// campaign is Campaign, mirroring the member while it leads when mirror
// is set.
func (r *Registry) campaign(ctx context.Context, group string, me registry.Provider, mirror *electionMirror) (coord.Candidacy, error) {
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
	me.Timestamp = time.Now().UTC().Truncate(time.Millisecond)
	data, err := encodeMember(me)
	if err != nil {
		return nil, fmt.Errorf("elect %s: %w", group, err)
	}
	c := &candidacy{
		r: r, group: group, dir: r.ElectionPath(group), data: data,
		terms: make(chan *coord.Term, 1), done: make(chan struct{}), resign: make(chan struct{}),
		mirror: mirror,
	}
	mirrored, err := c.checkLayout(ctx)
	if err != nil {
		return nil, err
	}
	if mirrored == "" { // else run joins once the mirrored members are gone
		if err := c.join(ctx); err != nil {
			return nil, err
		}
	}
	if mirror != nil {
		mirror.joined(c.node, c.data)
		mirror.start()
	}
	lctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-c.resign
		cancel()
	}()
	go c.run(lctx)
	return c, nil
}

type candidacy struct {
	r      *Registry
	group  string
	dir    string
	data   []byte
	mirror *electionMirror // nil: not mirrored

	terms  chan *coord.Term
	done   chan struct{}
	resign chan struct{}
	once   sync.Once
	err    error

	// Owned by run (and by Campaign before run starts).
	node  string // our member's name, "" when we have none
	sid   int64  // the session node was created on
	stale string // a member of ours to delete before joining again
}

func (c *candidacy) Terms() <-chan *coord.Term { return c.terms }
func (c *candidacy) Done() <-chan struct{}     { return c.done }
func (c *candidacy) Err() error {
	<-c.done
	return c.err
}

// Resign ends any term, deletes the member and waits for that, within ctx.
func (c *candidacy) Resign(ctx context.Context) error {
	c.once.Do(func() { close(c.resign) })
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("resign %s: %w", c.group, ctx.Err())
	}
}

// checkLayout refuses to join an election whose members another program
// (a Mesos master, an old Mesos, another recipe) wrote: svcdisco never
// creates a member under a path it does not own. mirrored names a member
// mirrored from another ensemble, "" when there is none (see waitMirrored).
func (c *candidacy) checkLayout(ctx context.Context) (mirrored string, err error) {
	if err := c.r.ensurePath(ctx, c.dir); err != nil {
		return "", c.r.wrap("create election "+c.dir, err)
	}
	children, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return c.r.conn.Children(c.dir) })
	if err != nil {
		return "", c.r.wrap("read election "+c.dir, err)
	}
	for _, m := range members(children) {
		if m.Label != LabelJSON {
			return "", fmt.Errorf("elect %s: %s has a member %s that svcdisco did not write; refusing to join an election it does not own",
				c.group, c.dir, m.Name)
		}
	}
	return mirroredMember(children), nil
}

// join creates our member once the election holds no member mirrored
// from another ensemble (see electswitch.go).
func (c *candidacy) join(ctx context.Context) error {
	for {
		if err := c.waitMirrored(ctx); err != nil {
			return err
		}
		if err := c.create(ctx); err != nil {
			return err
		}
		again, err := c.mirroredSinceJoin(ctx)
		if err != nil || !again {
			return err
		}
	}
}

// create creates our member. A create cut off by a connection loss may have
// happened: our own member (same data, owned by our session) is adopted
// rather than created twice.
func (c *candidacy) create(ctx context.Context) error {
	conn := c.r.conn
	for {
		sid := conn.SessionID()
		p, err := zkcall.Do1(ctx, func() (string, error) {
			return conn.Create(c.dir+"/"+memberLabel, c.data, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
		})
		if err == nil {
			c.node, c.sid = path.Base(p), sid
			return nil
		}
		if errors.Is(err, zk.ErrNoNode) { // the election znode was removed
			if err := c.r.ensurePath(ctx, c.dir); err != nil {
				return c.r.wrap("create election "+c.dir, err)
			}
			continue
		}
		if ctx.Err() != nil {
			return c.r.wrap("join election "+c.dir, err)
		}
		if name, ok := c.findOwn(ctx); ok {
			c.node, c.sid = name, conn.SessionID()
			return nil
		}
		c.r.log.Debug("elect: join failed; retrying", "group", c.group, "err", err)
		select {
		case <-ctx.Done():
			return c.r.wrap("join election "+c.dir, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// findOwn looks for a member with our data owned by our current session.
func (c *candidacy) findOwn(ctx context.Context) (string, bool) {
	conn := c.r.conn
	children, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return conn.Children(c.dir) })
	if err != nil {
		return "", false
	}
	for _, m := range members(children) {
		if m.Label != LabelJSON {
			continue
		}
		data, st, err := zkcall.Do2(ctx, func() ([]byte, *zk.Stat, error) { return conn.Get(c.dir + "/" + m.Name) })
		if err == nil && st.EphemeralOwner == conn.SessionID() && bytes.Equal(data, c.data) {
			return m.Name, true
		}
	}
	return "", false
}

// run follows the election until resigned: join, wait to be lowest, lead
// until the term ends, step down, join again.
func (c *candidacy) run(ctx context.Context) {
	defer func() {
		if c.mirror == nil {
			c.leave()
		} else {
			// The copy goes before the member, the marker after it.
			sctx, cancel := context.WithTimeout(context.Background(), c.r.opts.SessionTimeout/4)
			c.mirror.withdraw(sctx)
			c.leave()
			c.mirror.stop(sctx)
			cancel()
		}
		close(c.terms)
		close(c.done)
	}()
	for ctx.Err() == nil {
		if err := c.ensureMember(ctx); err != nil {
			if errors.Is(err, zk.ErrClosing) {
				c.err = fmt.Errorf("elect %s: registry closed", c.group)
				return
			}
			if ctx.Err() == nil {
				c.r.log.Warn("elect: cannot join; retrying", "group", c.group, "err", err)
				c.pause(ctx)
			}
			continue
		}
		if c.mirror != nil {
			c.mirror.joined(c.node, c.data)
		}
		lead, st, ev, err := c.evaluate(ctx)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				c.r.log.Debug("elect: re-reading election after error", "group", c.group, "err", err)
				c.pause(ctx)
			}
		case lead:
			c.lead(ctx, st)
		default:
			select {
			case <-ev:
			case <-ctx.Done():
			}
		}
	}
}

func (c *candidacy) pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(200 * time.Millisecond):
	}
}

// ensureMember deletes a member we stepped down from and joins again when
// we have no member on the current session.
func (c *candidacy) ensureMember(ctx context.Context) error {
	if c.node != "" && c.sid == c.r.conn.SessionID() {
		return nil
	}
	if c.node != "" { // created on an expired session: gone with it
		c.node = ""
	}
	if c.stale != "" {
		err := c.deleteOwn(ctx, c.stale)
		if err != nil {
			return err
		}
		c.stale = ""
	}
	return c.join(ctx)
}

// deleteOwn deletes member name if it is still ours.
func (c *candidacy) deleteOwn(ctx context.Context, name string) error {
	conn := c.r.conn
	_, st, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return conn.Exists(c.dir + "/" + name) })
	if err != nil {
		return err
	}
	if st == nil || st.EphemeralOwner != conn.SessionID() {
		return nil
	}
	_, err = zkcall.Do1(ctx, func() (struct{}, error) { return struct{}{}, conn.Delete(c.dir+"/"+name, st.Version) })
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	return err
}

// evaluate reads the election with a watch on its children. lead is true
// when our member is the lowest and is owned by our session; st is then its
// stat. A member of ours that is gone is forgotten.
func (c *candidacy) evaluate(ctx context.Context) (bool, *zk.Stat, <-chan zk.Event, error) {
	conn := c.r.conn
	children, _, ev, err := zkcall.Do3(ctx, func() ([]string, *zk.Stat, <-chan zk.Event, error) { return conn.ChildrenW(c.dir) })
	if err != nil {
		if errors.Is(err, zk.ErrNoNode) {
			c.node = ""
		}
		return false, nil, nil, err
	}
	ms := members(children)
	mine := -1
	for i, m := range ms {
		if m.Name == c.node {
			mine = i
		}
	}
	if mine < 0 {
		c.node = ""
		return false, nil, ev, nil
	}
	if mine > 0 {
		return false, nil, ev, nil
	}
	_, st, err := zkcall.Do2(ctx, func() ([]byte, *zk.Stat, error) { return conn.Get(c.dir + "/" + c.node) })
	if errors.Is(err, zk.ErrNoNode) {
		c.node = ""
		return false, nil, ev, nil
	}
	if err != nil {
		return false, nil, nil, err
	}
	if sid := conn.SessionID(); st.EphemeralOwner != sid || c.sid != sid {
		c.r.log.Warn("elect: lowest member is ours by name but owned by another session; joining again",
			"znode", c.dir+"/"+c.node, "owner", fmt.Sprintf("0x%x", st.EphemeralOwner), "session", fmt.Sprintf("0x%x", sid))
		c.node = ""
		return false, nil, ev, nil
	}
	return true, st, ev, nil
}
