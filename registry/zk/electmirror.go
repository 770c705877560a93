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
	// what it returns when it ends. Nil: no mirror until one is set
	// (MirrorSetter).
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
		kick: make(chan struct{}, 1), retarget: make(chan struct{}, 1), done: make(chan struct{}),
		syncing: make(chan struct{}, 1),
	}
	return e.Primary.campaign(ctx, group, me, m)
}

// electionMirror keeps the mirror in step with the candidacy: a marker
// for our member for as long as the candidacy lives (it holds the mirror's
// own contenders back, see electswitch.go), and a copy of the member
// beside it while we lead.
type electionMirror struct {
	group string
	retry time.Duration
	log   *slog.Logger

	mu      sync.Mutex
	open    func(ctx context.Context) (*Registry, error) // nil: no mirror
	origin  string
	member  string // our member's name on the primary, "" when none
	seq     int64
	data    []byte
	leading bool
	dst     *Registry // nil until opened

	// syncing is held (a one-slot semaphore, so a waiter can give up)
	// while the mirror is written; it guards the fields below.
	syncing chan struct{}
	marker  string // the member our marker on the mirror stands for
	copied  string // the member copied on the mirror
	sid     int64  // the mirror session both were created on

	kick     chan struct{}
	retarget chan struct{} // the mirror was set, changed or removed
	cancel   context.CancelFunc
	done     chan struct{}
}

// start runs the background loop until stop.
func (m *electionMirror) start() {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.run(ctx)
}

// joined records our member's name on the primary ("" when we have none);
// the marker follows it.
func (m *electionMirror) joined(name string, data []byte) {
	mb, _ := parseMember(name)
	m.mu.Lock()
	changed := m.member != name
	m.member, m.seq, m.data = name, mb.Seq, data
	m.mu.Unlock()
	if changed {
		notify(m.kick)
	}
}

// publish asks for a copy of our member (we lead).
func (m *electionMirror) publish() {
	m.mu.Lock()
	m.leading = true
	m.mu.Unlock()
	notify(m.kick)
}

// withdraw deletes our copy from the mirror now, when the mirror has a
// session, within ctx; otherwise the copy goes with the mirror session (or
// is deleted by the next leader). It never waits for a mirror that is
// down. The marker stays.
func (m *electionMirror) withdraw(ctx context.Context) {
	m.mu.Lock()
	m.leading = false
	dst := m.dst
	m.mu.Unlock()
	m.syncNow(ctx, dst)
}

func (m *electionMirror) syncNow(ctx context.Context, dst *Registry) {
	if dst == nil || !dst.session.connected() {
		notify(m.kick)
		return
	}
	if err := m.sync(ctx, dst); err != nil {
		m.log.Warn("mirror: could not update the mirrored election; what is left goes with the mirror session",
			"err", err)
		notify(m.kick)
	}
}

// stop deletes the marker (call it once the primary member is gone), ends
// the loop and closes the mirror session.
func (m *electionMirror) stop(ctx context.Context) {
	m.mu.Lock()
	m.leading, m.member = false, ""
	dst := m.dst
	m.mu.Unlock()
	m.syncNow(ctx, dst)
	m.cancel()
	<-m.done
	m.mu.Lock()
	dst = m.dst
	m.mu.Unlock()
	if dst != nil {
		if err := dst.CloseContext(ctx); err != nil {
			m.log.Debug("mirror: close", "err", err)
		}
	}
}

// sync makes the mirror match what is wanted, one caller at a time: the
// copy goes first, the new marker comes before the old one goes (so the
// mirror's contenders never see a gap), the copy comes last.
func (m *electionMirror) sync(ctx context.Context, dst *Registry) error {
	return m.syncTo(ctx, dst, false)
}

// syncTo is sync; with clear, everything of ours on dst goes (the mirror
// is being replaced or removed).
func (m *electionMirror) syncTo(ctx context.Context, dst *Registry, clear bool) error {
	select {
	case m.syncing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-m.syncing }()
	m.mu.Lock()
	member, seq, data, leading, origin := m.member, m.seq, m.data, m.leading, m.origin
	m.mu.Unlock()
	if clear {
		member, leading = "", false
	}
	dir := dst.ElectionPath(m.group)
	if sid := dst.conn.SessionID(); m.sid != sid {
		m.marker, m.copied, m.sid = "", "", sid // gone with the old mirror session
	}
	if m.copied != "" && (!leading || m.copied != member) {
		if err := deleteOwn(ctx, dst, dir+"/"+m.copied); err != nil {
			return err
		}
		m.log.Info("mirror: mirrored member deleted", "znode", dir+"/"+m.copied)
		m.copied = ""
	}
	if m.marker != member {
		if member != "" {
			if err := m.createMarker(ctx, dst, dir, member, origin); err != nil {
				return err
			}
		}
		if m.marker != "" {
			if err := deleteOwn(ctx, dst, dir+"/"+MirrorMarker(m.marker)); err != nil {
				return err
			}
		}
		m.marker = member
	}
	if !leading || member == "" || m.copied != "" {
		return nil
	}
	if err := m.createCopy(ctx, dst, dir, member, seq, data); err != nil {
		return err
	}
	m.copied = member
	m.log.Info("mirror: leader's member mirrored", "znode", dir+"/"+member)
	return nil
}

func (m *electionMirror) createMarker(ctx context.Context, dst *Registry, dir, member, origin string) error {
	if err := dst.ensurePath(ctx, dir); err != nil {
		return dst.wrap("create election "+dir, err)
	}
	p := dir + "/" + MirrorMarker(member)
	body := []byte(fmt.Sprintf(`{"mirror_of":%q,"member":%q}`, origin, member))
	_, err := zkcall.Do1(ctx, func() (string, error) {
		return dst.conn.Create(p, body, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	})
	if errors.Is(err, zk.ErrNodeExists) {
		// Left by a create whose reply was lost (ours) or by a session
		// of ours that is gone: replace it on this session.
		if err := deleteNode(ctx, dst, p); err != nil {
			return err
		}
		return fmt.Errorf("mirror %s: replaced a stale marker", p)
	}
	return dst.wrap("mirror "+p, err)
}

// createCopy writes the copy after checking that the mirror's election
// has no contenders of its own (a copy beside them could make two leaders
// there) and deleting the copies of earlier leaders.
func (m *electionMirror) createCopy(ctx context.Context, dst *Registry, dir, member string, seq int64, data []byte) error {
	children, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return dst.conn.Children(dir) })
	if err != nil {
		return dst.wrap("read election "+dir, err)
	}
	for _, mb := range members(children) {
		copied, err := isCopy(ctx, dst, dir, mb.Name)
		switch {
		case err != nil:
			return err
		case !copied:
			_ = deleteOwn(ctx, dst, dir+"/"+member) // a copy a failed recheck left
			return fmt.Errorf("%s has a contender of its own (%s): %w", dir, mb.Name, errNative)
		case mb.Name == member: // a stale copy under our name
			if err := deleteNode(ctx, dst, dir+"/"+mb.Name); err != nil {
				return err
			}
		case mb.Seq < seq:
			// An earlier leader's: the primary has replaced it. Best
			// effort (an ACL may forbid it): it expires with its
			// mirror session anyway, and must not hold our copy up.
			m.purge(ctx, dst, dir, mb.Name)
		}
	}
	p := dir + "/" + member
	_, err = zkcall.Do1(ctx, func() (string, error) {
		return dst.conn.Create(p, data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	})
	if err != nil {
		return dst.wrap("mirror "+p, err)
	}
	return m.recheck(ctx, dst, dir, member)
}

// purge deletes an earlier leader's copy, then its marker.
func (m *electionMirror) purge(ctx context.Context, dst *Registry, dir, name string) {
	for _, n := range []string{name, MirrorMarker(name)} {
		if err := deleteNode(ctx, dst, dir+"/"+n); err != nil {
			m.log.Warn("mirror: could not delete an earlier leader's mirrored member; it goes with its session",
				"znode", dir+"/"+n, "err", err)
			return
		}
	}
	m.log.Info("mirror: deleted the mirrored member of an earlier leader", "znode", dir+"/"+name)
}

// deleteOwn deletes p if the mirror's current session owns it.
func deleteOwn(ctx context.Context, dst *Registry, p string) error {
	_, st, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return dst.conn.Exists(p) })
	if err != nil {
		return dst.wrap("read "+p, err)
	}
	if st == nil || st.EphemeralOwner != dst.conn.SessionID() {
		return nil
	}
	return deleteNode(ctx, dst, p)
}

func deleteNode(ctx context.Context, dst *Registry, p string) error {
	_, err := zkcall.Do1(ctx, func() (struct{}, error) { return struct{}{}, dst.conn.Delete(p, -1) })
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return dst.wrap("delete "+p, err)
	}
	return nil
}
