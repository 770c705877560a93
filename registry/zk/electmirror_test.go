package zk

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// Two "ensembles" are two roots of the shared server: each election
// directory has its own sequence counter, which is what matters here, and
// the server's single zxid order tells which of two deletions came first.

func mirroredCampaign(t *testing.T, primary *Registry, mirrorAddr, mirrorRoot string, i int, w io.Writer) coord.Candidacy {
	t.Helper()
	e := &MirroredElector{
		Primary: primary, Origin: "zk://primary", Retry: 100 * time.Millisecond,
		Mirror: func(ctx context.Context) (*Registry, error) {
			return Open(ctx, Options{Servers: []string{mirrorAddr}, Root: mirrorRoot, SessionTimeout: 2 * time.Second,
				Logger: primary.log})
		},
	}
	c, err := e.Campaign(ctxT(t), "sched", contender(i))
	if err != nil {
		t.Fatalf("Campaign %d: %v", i, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Resign(ctx)
	})
	return c
}

// leaderID is what det names as the leader of sched, "" for nobody.
func leaderID(t *testing.T, det *Registry) string {
	t.Helper()
	lc, err := det.Leader(ctxT(t), "sched")
	if err != nil {
		t.Fatalf("Leader: %v", err)
	}
	if !lc.OK {
		return ""
	}
	return lc.Leader.ID
}

func childrenOf(t *testing.T, r *Registry, dir string) []string {
	t.Helper()
	kids, _, err := r.conn.Children(dir)
	if err != nil && err != zk.ErrNoNode {
		t.Fatalf("children %s: %v", dir, err)
	}
	return kids
}

// TestMirroredElectionNamesSameLeader: three mirrored contenders; the
// mirror holds the leader's member alone, same name and data, and a
// detector there names the primary's leader term after term. A resigned
// leader's copy is deleted before its primary member (zxid order).
func TestMirroredElectionNamesSameLeader(t *testing.T) {
	zkc := testzk.Shared(t)
	rootA, rootB := testzk.Root(t), testzk.Root(t)
	addr := zkc.ConnString()
	cs := make([]coord.Candidacy, 3)
	for i := range cs {
		cs[i] = mirroredCampaign(t, open(t, addr, rootA, 4*time.Second, nil), addr, rootB, i, nil)
	}
	detA, detB := open(t, addr, rootA, 4*time.Second, nil), open(t, addr, rootB, 4*time.Second, nil)
	dirA, dirB := detA.ElectionPath("sched"), detB.ElectionPath("sched")
	for round := 0; round < 3; round++ {
		i, term := nextTerm(t, cs)
		want := contender(i).ID
		testenv.WaitFor(t, "the mirror to name "+want, 20*time.Second, func() bool { return leaderID(t, detB) == want })
		if got := leaderID(t, detA); got != want {
			t.Fatalf("round %d: primary names %q, contender %s leads", round, got, want)
		}
		kidsB := childrenOf(t, detB, dirB)
		ms := members(kidsB)
		if len(ms) != 1 || len(kidsB) != 1+3-round {
			t.Fatalf("round %d: mirror holds %v, want the leader's member and a marker per contender", round, kidsB)
		}
		dataA, stA, errA := detA.conn.Get(dirA + "/" + ms[0].Name)
		dataB, stB, errB := detB.conn.Get(dirB + "/" + ms[0].Name)
		if errA != nil || errB != nil || string(dataA) != string(dataB) {
			t.Fatalf("round %d: %s differs: primary %v %q, mirror %v %q", round, ms[0].Name, errA, dataA, errB, dataB)
		}
		if stB.EphemeralOwner == 0 || stB.EphemeralOwner == stA.EphemeralOwner {
			t.Fatalf("round %d: mirror copy owner 0x%x, primary 0x%x: want an ephemeral of the mirror session", round, stB.EphemeralOwner, stA.EphemeralOwner)
		}
		if err := term.Release(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		cs[i] = nil
	}
	// Nobody left: both sides empty, and the last contender's marker went
	// after its primary member (it holds the mirror's own contenders back
	// until then).
	testenv.WaitFor(t, "both elections empty", 20*time.Second, func() bool {
		return len(childrenOf(t, detA, dirA)) == 0 && len(childrenOf(t, detB, dirB)) == 0
	})
	_, sa, _ := detA.conn.Exists(dirA)
	_, sb, _ := detB.conn.Exists(dirB)
	if sb.Pzxid <= sa.Pzxid {
		t.Fatalf("mirror's last deletion at zxid 0x%x, primary's at 0x%x: the marker must go last", sb.Pzxid, sa.Pzxid)
	}
}

// TestMirroredCopyGoesFirstOnPartition: a leader cut off from the primary
// deletes its mirrored copy when its guard ends the term, before the
// primary expires its member and elects another (zxid order). The next
// leader's mirror is down meanwhile: it leads on the primary all the same,
// and its copy appears once the mirror answers.
func TestMirroredCopyGoesFirstOnPartition(t *testing.T) {
	zkc := testzk.Shared(t)
	rootA, rootB := testzk.Root(t), testzk.Root(t)
	addr := zkc.ConnString()
	toA := testzk.NewProxy(t, addr)  // c0's primary connection
	toB1 := testzk.NewProxy(t, addr) // c1's mirror connection
	leader := mirroredCampaign(t, open(t, toA.Addr(), rootA, 4*time.Second, nil), addr, rootB, 0, nil)
	term := <-leader.Terms()
	detA, detB := open(t, addr, rootA, 4*time.Second, nil), open(t, addr, rootB, 4*time.Second, nil)
	testenv.WaitFor(t, "the mirror to name c0", 20*time.Second, func() bool { return leaderID(t, detB) == "c0" })
	toB1.Partition()
	follower := mirroredCampaign(t, open(t, addr, rootA, 4*time.Second, nil), toB1.Addr(), rootB, 1, nil)

	toA.Partition()
	<-term.Lost()
	second := <-follower.Terms() // c1 leads on A although its mirror is down
	_, stA, err := detA.conn.Exists(detA.ElectionPath("sched"))
	if err != nil {
		t.Fatal(err)
	}
	dirB := detB.ElectionPath("sched")
	kidsB, stB, err := detB.conn.Children(dirB)
	if err != nil {
		t.Fatal(err)
	}
	if len(members(kidsB)) != 0 || stB.Pzxid >= stA.Pzxid {
		t.Fatalf("when c1 was elected the mirror held %v (last change at zxid 0x%x, c0's primary member expired at 0x%x): c0's copy must be gone first",
			kidsB, stB.Pzxid, stA.Pzxid)
	}
	toB1.Heal()
	testenv.WaitFor(t, "the mirror to name c1", 20*time.Second, func() bool { return leaderID(t, detB) == "c1" })
	toA.Heal()
	if second.Token() <= term.Token() {
		t.Fatalf("token %d after %d", second.Token(), term.Token())
	}
}

// TestKilledLeaderCopyExpiresFirst: a leader that can do nothing any more
// (cut off from both ensembles, as if killed) cannot delete its copy. Its
// mirror session, half as long as its registry session, expires first:
// when the next leader is elected, the mirror names nobody rather than
// the dead leader (the next leader's mirror is down, so it cannot have
// deleted the copy itself).
func TestKilledLeaderCopyExpiresFirst(t *testing.T) {
	zkc := testzk.Shared(t)
	rootA, rootB := testzk.Root(t), testzk.Root(t)
	addr := zkc.ConnString()
	toA, toB0, toB1 := testzk.NewProxy(t, addr), testzk.NewProxy(t, addr), testzk.NewProxy(t, addr)
	leader := mirroredCampaign(t, open(t, toA.Addr(), rootA, 4*time.Second, nil), toB0.Addr(), rootB, 0, nil)
	term := <-leader.Terms()
	detB := open(t, addr, rootB, 4*time.Second, nil)
	testenv.WaitFor(t, "the mirror to name c0", 20*time.Second, func() bool { return leaderID(t, detB) == "c0" })
	toB1.Partition()
	follower := mirroredCampaign(t, open(t, addr, rootA, 4*time.Second, nil), toB1.Addr(), rootB, 1, nil)

	toA.Partition()
	toB0.Partition()
	second := <-follower.Terms()
	if ms := members(childrenOf(t, detB, detB.ElectionPath("sched"))); len(ms) != 0 {
		t.Fatalf("c1 elected while the mirror still holds %v: the dead leader's copy must expire first", ms)
	}
	toB1.Heal()
	testenv.WaitFor(t, "the mirror to name c1", 20*time.Second, func() bool { return leaderID(t, detB) == "c1" })
	toA.Heal()
	toB0.Heal()
	if second.Token() <= term.Token() {
		t.Fatalf("token %d after %d", second.Token(), term.Token())
	}
}

// TestMirrorMarkerIsNoMember: Mesos' group cache splits a child's name on
// '_' and counts it as a member when the last part is a number; a marker
// has no '_' and is not a number, so neither Mesos nor svcdisco (nor the
// Python CLI, which keeps names starting with json.info) counts it.
func TestMirrorMarkerIsNoMember(t *testing.T) {
	for _, name := range []string{"json.info_0000000005", "info_0000000007", "0000000009"} {
		m := MirrorMarker(name)
		if _, ok := parseMember(m); ok || strings.Contains(m, "_") || strings.HasPrefix(m, LabelJSON) {
			t.Errorf("marker %q of %q could be taken for a member", m, name)
		}
	}
	if got := mirroredMember([]string{"json.info_0000000005", "log_replicas"}); got != "" {
		t.Errorf("mirroredMember found %q among members alone", got)
	}
}

// TestSetMirrorKeepsTheTerm: a mirror added, changed and removed while a
// contender leads (a configuration reload) follows it there and leaves
// the old mirror empty, without a new member or a new term on the primary.
func TestSetMirrorKeepsTheTerm(t *testing.T) {
	zkc := testzk.Shared(t)
	rootA, rootB, rootC := testzk.Root(t), testzk.Root(t), testzk.Root(t)
	addr := zkc.ConnString()
	regA := open(t, addr, rootA, 4*time.Second, nil)
	e := &MirroredElector{Primary: regA, Origin: "zk://primary", Retry: 100 * time.Millisecond}
	c, err := e.Campaign(ctxT(t), "sched", contender(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Resign(context.Background())
	term := <-c.Terms()
	opener := func(root string) func(ctx context.Context) (*Registry, error) {
		return func(ctx context.Context) (*Registry, error) {
			return Open(ctx, Options{Servers: []string{addr}, Root: root, SessionTimeout: 2 * time.Second, Logger: regA.log})
		}
	}
	detB, detC := open(t, addr, rootB, 4*time.Second, nil), open(t, addr, rootC, 4*time.Second, nil)
	empty := func(r *Registry) bool { return len(childrenOf(t, r, r.ElectionPath("sched"))) == 0 }
	c.(MirrorSetter).SetMirror(opener(rootB), "zk://primary")
	testenv.WaitFor(t, "B to name c0", 20*time.Second, func() bool { return leaderID(t, detB) == "c0" })
	c.(MirrorSetter).SetMirror(opener(rootC), "zk://primary")
	testenv.WaitFor(t, "C to name c0 and B to be left empty", 20*time.Second, func() bool {
		return leaderID(t, detC) == "c0" && empty(detB)
	})
	c.(MirrorSetter).SetMirror(nil, "")
	testenv.WaitFor(t, "C to be left empty", 20*time.Second, func() bool { return empty(detC) })
	if term.Ended() {
		t.Fatalf("the term ended (%v) while the mirror changed", term.LostReason())
	}
	if ms := members(childrenOf(t, regA, regA.ElectionPath("sched"))); len(ms) != 1 {
		t.Fatalf("primary members %v: want the one member it started with", ms)
	}
}
