package zk

import (
	"context"
	"errors"
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
