package zk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/zkcall"
)

// The switch of an election from one ensemble to another (README,
// "Moving elections to another ensemble"). Each ensemble numbers its
// sequential members with its own counter, so a contender that joined the
// new ensemble while the old one's leader is still mirrored there could be
// given a LOWER sequence than the mirrored member and lead beside it. The
// rule that prevents it: no contender joins an election that holds a
// member mirrored from another ensemble (one with a MirrorMarker beside
// it). It waits, watching the election, until the last mirrored member is
// gone — that is, until every contender of the old ensemble has stopped —
// and then joins. The group therefore moves together, as MESOS-890
// proposes, whatever order its contenders are restarted in; the mirror
// writer enforces the converse (it never mirrors into an election that has
// contenders of its own).

// mirroredSinceJoin closes the gap between waitMirrored's check and the
// create: a mirror may have written a marker in between. Whoever writes
// last sees the other's write (a server applies writes in zxid order, and
// answers a session's read only once it has applied that session's
// writes), and the mirror checks again after its own copy too, so at least
// one side backs off. Here that is leaving again: again is true when our
// member was deleted and join must wait anew.
func (c *candidacy) mirroredSinceJoin(ctx context.Context) (again bool, err error) {
	children, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return c.r.conn.Children(c.dir) })
	if err == nil && mirroredMember(children) == "" {
		return false, nil
	}
	if err == nil {
		c.r.log.Warn("elect: a member mirrored from another ensemble appeared as we joined; leaving again",
			"group", c.group, "marker", c.dir+"/"+mirroredMember(children))
		err = c.deleteOwn(ctx, c.node)
	}
	if err != nil { // unsure: step down, delete it before joining again
		c.stale, c.node = c.node, ""
		return false, c.r.wrap("read election "+c.dir, err)
	}
	c.node = ""
	return true, nil
}

// mirroredMember returns a marker of a member mirrored from another
// ensemble among an election's children, "" when there is none.
func mirroredMember(children []string) string {
	for _, ch := range children {
		if strings.HasPrefix(ch, MirrorMarkerPrefix) {
			return ch
		}
	}
	return ""
}

// waitMirrored returns once the election holds no mirrored member (at
// once when it holds none), or when ctx ends.
func (c *candidacy) waitMirrored(ctx context.Context) error {
	conn := c.r.conn
	logged := ""
	for {
		children, _, ev, err := zkcall.Do3(ctx, func() ([]string, *zk.Stat, <-chan zk.Event, error) { return conn.ChildrenW(c.dir) })
		if errors.Is(err, zk.ErrNoNode) {
			return nil // join re-creates the election
		}
		if err != nil {
			return c.r.wrap("read election "+c.dir, err)
		}
		marker := mirroredMember(children)
		if marker == "" {
			if logged != "" {
				c.r.log.Info("elect: no mirrored member left; contending", "group", c.group)
			}
			return nil
		}
		if logged != marker {
			origin, _, _ := zkcall.Do2(ctx, func() ([]byte, *zk.Stat, error) { return conn.Get(c.dir + "/" + marker) })
			c.r.log.Warn("elect: the election holds a member mirrored from another ensemble; "+
				"not contending until every contender there has stopped, or two could lead",
				"group", c.group, "marker", c.dir+"/"+marker, "origin", string(origin))
			logged = marker
		}
		select {
		case <-ev:
		case <-ctx.Done():
			return c.r.wrap("wait for mirrored members of "+c.dir, ctx.Err())
		}
	}
}

// recheck closes the gap between createCopy's check and its create: a
// contender of the mirror's own may have joined in between. Whoever wrote
// last sees the other (see mirroredSinceJoin); here the copy is withdrawn.
func (m *electionMirror) recheck(ctx context.Context, dst *Registry, dir, member string) error {
	children, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return dst.conn.Children(dir) })
	for _, mb := range members(children) {
		if err != nil || mb.Name == member {
			continue
		}
		if copied, cerr := isCopy(ctx, dst, dir, mb.Name); cerr != nil || !copied {
			err = fmt.Errorf("%s: a contender of its own (%s) joined as the copy was made: %w", dir, mb.Name, errors.Join(cerr, errNative))
		}
	}
	if err == nil {
		return nil
	}
	if derr := deleteNode(ctx, dst, dir+"/"+member); derr != nil {
		return errors.Join(err, derr)
	}
	return err
}

var errNative = errors.New("not mirroring into it, a second leader could follow")

// isCopy reports whether member name in dir is a mirrored copy: its marker
// exists and was created on the same session. A member of the mirror's own
// may have the very name of a copy (each ensemble counts from 0), so the
// marker's name alone does not tell.
func isCopy(ctx context.Context, dst *Registry, dir, name string) (bool, error) {
	var owners [2]int64
	for i, p := range []string{dir + "/" + name, dir + "/" + MirrorMarker(name)} {
		_, st, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return dst.conn.Exists(p) })
		if err != nil {
			return false, dst.wrap("read "+p, err)
		}
		if st == nil || st.EphemeralOwner == 0 {
			return false, nil
		}
		owners[i] = st.EphemeralOwner
	}
	return owners[0] == owners[1], nil
}
