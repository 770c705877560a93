package zk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// MirrorMarkerPrefix starts the name of the marker that sits beside every
// member mirrored into an election from another ensemble. It has no '_',
// so Mesos' group cache (and svcdisco's) never counts it as a member.
const MirrorMarkerPrefix = "mirror-"

// MirrorMarker is the marker's name for the mirrored member name.
func MirrorMarker(member string) string {
	return MirrorMarkerPrefix + strings.ReplaceAll(member, "_", "-")
}

// MirroredElector contends on Primary, which alone decides who leads, and
// replicates the leader's member (and only the leader's) into a second
// ensemble: an EPHEMERAL, NON-sequential znode with the exact name and data
// of the leader's json.info_<seq>, on a session of the mirror's own, with a
// marker beside it (MirrorMarker). A detector — `svcdisco leader`, a Mesos
// master detector — on either ensemble then names the same leader
// (MESOS-890's dual publishing).
//
// The mirror never holds the primary up: it is opened, written and retried
// in the background, and a mirror that is down only delays its copy. When
// a term ends (resigned, member gone, session lost or presumed lost) the
// copy is deleted before the primary member is, so the mirror never names
// a leader the primary has already replaced; a contender that becomes the
// leader deletes the older mirrored copies (and their markers) it finds,
// which covers a leader killed without a chance to clean up.
type MirroredElector struct {
	Primary *Registry
	// Mirror opens the mirror registry; it is called in the background,
	// again after each failure, until it succeeds. The candidacy closes
	// what it returns when it ends.
	Mirror func(ctx context.Context) (*Registry, error)
	// Origin describes the primary (a URL without credentials); it is
	// written into each marker so an operator reading the mirror sees
	// where the member comes from.
	Origin string
	// Retry is the pause between attempts at the mirror (default 1s).
	Retry time.Duration
}

var _ coord.Elector = (*MirroredElector)(nil)

// Campaign joins group's election on the primary, as Registry.Campaign
// does, and mirrors the member while it leads.
func (e *MirroredElector) Campaign(ctx context.Context, group string, me registry.Provider) (coord.Candidacy, error) {
	retry := e.Retry
	if retry <= 0 {
		retry = time.Second
	}
	m := &electionMirror{
		open: e.Mirror, origin: e.Origin, group: group, retry: retry,
		log:  e.Primary.log.With("mirror", "election", "group", group),
		kick: make(chan struct{}, 1), done: make(chan struct{}), syncing: make(chan struct{}, 1),
	}
	return e.Primary.campaign(ctx, group, me, m)
}

// electionMirror keeps the mirror in step with the candidacy: a copy of
// our member while we lead, nothing otherwise.
type electionMirror struct {
	open   func(ctx context.Context) (*Registry, error)
	origin string
	group  string
	retry  time.Duration
	log    *slog.Logger

	mu   sync.Mutex
	want *mirrorCopy // nil: no copy
	dst  *Registry   // nil until opened

	// syncing is held (a one-slot semaphore, so a waiter can give up)
	// while the mirror is written; it guards published and sid.
	syncing   chan struct{}
	published *mirrorCopy // what we created on the mirror, on session sid
	sid       int64

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

type mirrorCopy struct {
	name string
	seq  int64
	data []byte
}

// start runs the background loop until stop.
func (m *electionMirror) start() {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.run(ctx)
}

// publish asks for a copy of our member name (data) on the mirror.
func (m *electionMirror) publish(name string, data []byte) {
	mb, _ := parseMember(name)
	m.mu.Lock()
	m.want = &mirrorCopy{name: name, seq: mb.Seq, data: data}
	m.mu.Unlock()
	notify(m.kick)
}

// withdraw deletes our copy from the mirror now, when the mirror has a
// session, within ctx; otherwise the copy goes with the mirror session (or
// is deleted by the next leader). It never waits for a mirror that is
// down.
func (m *electionMirror) withdraw(ctx context.Context) {
	m.mu.Lock()
	m.want = nil
	dst := m.dst
	m.mu.Unlock()
	if dst == nil || !dst.session.connected() {
		notify(m.kick)
		return
	}
	if err := m.sync(ctx, dst); err != nil {
		m.log.Warn("mirror: could not delete the mirrored member; it goes with the mirror session",
			"err", err)
		notify(m.kick)
	}
}

// stop withdraws the copy, ends the loop and closes the mirror session.
func (m *electionMirror) stop(ctx context.Context) {
	m.withdraw(ctx)
	m.cancel()
	<-m.done
	m.mu.Lock()
	dst := m.dst
	m.mu.Unlock()
	if dst != nil {
		if err := dst.CloseContext(ctx); err != nil {
			m.log.Debug("mirror: close", "err", err)
		}
	}
}

func (m *electionMirror) run(ctx context.Context) {
	defer close(m.done)
	dst := m.connect(ctx)
	if dst == nil {
		return
	}
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
			return
		case <-m.kick:
		case <-retry:
		case _, ok := <-events:
			if !ok {
				return
			}
		}
	}
}

// connect opens the mirror, retrying until it answers or ctx ends.
func (m *electionMirror) connect(ctx context.Context) *Registry {
	logged := false
	for {
		octx, cancel := context.WithTimeout(ctx, 10*m.retry)
		dst, err := m.open(octx)
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
		case <-time.After(m.retry):
		}
	}
}

// sync makes the mirror match what is wanted, one caller at a time.
func (m *electionMirror) sync(ctx context.Context, dst *Registry) error {
	select {
	case m.syncing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-m.syncing }()
	m.mu.Lock()
	want := m.want
	m.mu.Unlock()
	dir := dst.ElectionPath(m.group)
	sid := dst.conn.SessionID()
	if m.published != nil && m.sid != sid {
		m.published = nil // went with the old mirror session
	}
	if m.published != nil && (want == nil || want.name != m.published.name) {
		if err := deleteMirrored(ctx, dst, dir, m.published.name, true); err != nil {
			return err
		}
		m.log.Info("mirror: mirrored member deleted", "znode", dir+"/"+m.published.name)
		m.published = nil
	}
	if want == nil || m.published != nil {
		return nil
	}
	if err := m.create(ctx, dst, dir, *want); err != nil {
		return err
	}
	m.published, m.sid = want, sid
	m.log.Info("mirror: leader's member mirrored", "znode", dir+"/"+want.name)
	return nil
}

// create writes the copy and its marker in one transaction, after
// checking that the mirror's election has no contenders of its own (a
// copy beside them could make two leaders there) and deleting the copies
// of earlier leaders.
func (m *electionMirror) create(ctx context.Context, dst *Registry, dir string, c mirrorCopy) error {
	if err := dst.ensurePath(ctx, dir); err != nil {
		return dst.wrap("create election "+dir, err)
	}
	children, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return dst.conn.Children(dir) })
	if err != nil {
		return dst.wrap("read election "+dir, err)
	}
	marked := map[string]bool{}
	for _, ch := range children {
		if strings.HasPrefix(ch, MirrorMarkerPrefix) {
			marked[ch] = true
		}
	}
	for _, mb := range members(children) {
		switch {
		case !marked[MirrorMarker(mb.Name)]:
			return fmt.Errorf("%s has a contender of its own (%s): not mirroring into it, a second leader could follow", dir, mb.Name)
		case mb.Name == c.name: // ours, or a stale copy under our name
		case mb.Seq < c.seq:
			if err := deleteMirrored(ctx, dst, dir, mb.Name, false); err != nil {
				return err
			}
			m.log.Info("mirror: deleted the mirrored member of an earlier leader", "znode", dir+"/"+mb.Name)
		}
	}
	marker := []byte(fmt.Sprintf(`{"mirror_of":%q,"member":%q}`, m.origin, c.name))
	acl := zk.WorldACL(zk.PermAll)
	_, err = zkcall.Do1(ctx, func() ([]zk.MultiResponse, error) {
		return dst.conn.Multi(
			&zk.CreateRequest{Path: dir + "/" + MirrorMarker(c.name), Data: marker, Acl: acl, Flags: zk.FlagEphemeral},
			&zk.CreateRequest{Path: dir + "/" + c.name, Data: c.data, Acl: acl, Flags: zk.FlagEphemeral},
		)
	})
	if errors.Is(err, zk.ErrNodeExists) {
		// A copy of ours a cut-off create left, or a stale one: start over.
		if err := deleteMirrored(ctx, dst, dir, c.name, false); err != nil {
			return err
		}
		return fmt.Errorf("mirror %s/%s: replaced a stale copy: %w", dir, c.name, err)
	}
	if err != nil {
		return dst.wrap("mirror "+dir+"/"+c.name, err)
	}
	return nil
}

// deleteMirrored deletes a mirrored member, then its marker: the marker
// outlives the copy, so a contender never sees the copy unmarked. With
// ownOnly, only nodes owned by the mirror's current session are deleted.
func deleteMirrored(ctx context.Context, dst *Registry, dir, name string, ownOnly bool) error {
	for _, p := range []string{dir + "/" + name, dir + "/" + MirrorMarker(name)} {
		_, st, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return dst.conn.Exists(p) })
		if err != nil {
			return dst.wrap("read "+p, err)
		}
		if st == nil || (ownOnly && st.EphemeralOwner != dst.conn.SessionID()) {
			continue
		}
		_, err = zkcall.Do1(ctx, func() (struct{}, error) { return struct{}{}, dst.conn.Delete(p, -1) })
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return dst.wrap("delete "+p, err)
		}
	}
	return nil
}
