package zk

import (
	"context"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// churn makes the primary's sequence counter run ahead of the mirror's, as
// on a real ensemble that has seen years of elections.
func churn(t *testing.T, r *Registry, n int) {
	t.Helper()
	dir := r.ElectionPath("sched")
	if err := r.ensurePath(ctxT(t), dir); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		p, err := r.conn.Create(dir+"/"+memberLabel, nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.conn.Delete(p, -1); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSwitchBadOrderNoSecondLeader: a contender started on the new
// ensemble (registry B, no mirror) while the old ensemble's leader is
// still mirrored there. B's own counter would give it a LOWER sequence
// than the mirrored member (shown with a raw create), so it would lead
// beside the old leader; instead it joins only once the last contender of
// the old ensemble has stopped, and then leads alone.
func TestSwitchBadOrderNoSecondLeader(t *testing.T) {
	zkc := testzk.Shared(t)
	rootA, rootB := testzk.Root(t), testzk.Root(t)
	addr := zkc.ConnString()
	regA := open(t, addr, rootA, 4*time.Second, nil)
	churn(t, regA, 20)
	old := mirroredCampaign(t, regA, addr, rootB, 0, nil)
	oldTerm := <-old.Terms()
	standby := mirroredCampaign(t, open(t, addr, rootA, 4*time.Second, nil), addr, rootB, 1, nil)
	detB := open(t, addr, rootB, 4*time.Second, nil)
	dirB := detB.ElectionPath("sched")
	testenv.WaitFor(t, "the mirror to name c0", 20*time.Second, func() bool { return leaderID(t, detB) == "c0" })
	mirrored := members(childrenOf(t, detB, dirB))[0]

	// Without the rule: B's counter is behind, a member joining now
	// would be the lowest.
	raw, err := detB.conn.Create(dirB+"/"+memberLabel, nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := parseMember(path.Base(raw)); m.Seq >= mirrored.Seq {
		t.Fatalf("B's counter gave %s after the mirrored %s: the test does not reproduce the hazard", raw, mirrored.Name)
	}
	if err := detB.conn.Delete(raw, -1); err != nil {
		t.Fatal(err)
	}

	var logB testenv.Buffer
	newc, err := open(t, addr, rootB, 4*time.Second, &logB).Campaign(ctxT(t), "sched", contender(5))
	if err != nil {
		t.Fatalf("Campaign on B: %v", err)
	}
	defer newc.Resign(context.Background())
	testenv.WaitFor(t, "the new contender to say why it waits (or to join)", 20*time.Second, func() bool {
		return strings.Contains(logB.String(), "mirrored from another ensemble") || len(members(childrenOf(t, detB, dirB))) > 1
	})
	if ms := members(childrenOf(t, detB, dirB)); len(ms) != 1 || ms[0].Name != mirrored.Name {
		t.Fatalf("B holds members %v while the old leader is mirrored: want %s alone", ms, mirrored.Name)
	}
	select {
	case term := <-newc.Terms():
		t.Fatalf("the new contender leads (token %d) while c0 leads on A", term.Token())
	default:
	}
	if leaderID(t, detB) != "c0" {
		t.Fatalf("B names %q while c0 leads", leaderID(t, detB))
	}
	// The old leader stops first: the old standby leads and is mirrored,
	// and the new contender still waits (the standby's marker).
	if err := old.Resign(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	sTerm := <-standby.Terms()
	testenv.WaitFor(t, "the mirror to name c1", 20*time.Second, func() bool { return leaderID(t, detB) == "c1" })
	if ms := members(childrenOf(t, detB, dirB)); len(ms) != 1 {
		t.Fatalf("B holds members %v while c1 leads on A", ms)
	}
	select {
	case term := <-newc.Terms():
		t.Fatalf("the new contender leads (token %d) while c1 leads on A", term.Token())
	default:
	}
	// The last of the old group stops: its copy goes, then the new
	// contender joins and leads — after every old term ended.
	if err := standby.Resign(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	var term *coord.Term
	select {
	case term = <-newc.Terms():
	case <-time.After(30 * time.Second):
		t.Fatal("the new contender never led after the old group stopped")
	}
	if !oldTerm.Ended() || !sTerm.Ended() {
		t.Fatal("the new contender leads while c0's term lasts")
	}
	if got := leaderID(t, detB); got != "c5" || term.Token() == 0 {
		t.Fatalf("B names %q, want c5", got)
	}
}

// TestMirrorRefusesElectionWithOwnContenders: the converse. An election
// on B that has contenders of its own is never mirrored into (a copy with
// a lower name would make two leaders there); the primary leads as usual.
func TestMirrorRefusesElectionWithOwnContenders(t *testing.T) {
	zkc := testzk.Shared(t)
	rootA, rootB := testzk.Root(t), testzk.Root(t)
	addr := zkc.ConnString()
	native := campaign(t, open(t, addr, rootB, 4*time.Second, nil), "sched", 5)
	<-native.Terms()
	var logA testenv.Buffer
	regA := open(t, addr, rootA, 4*time.Second, &logA)
	c := mirroredCampaign(t, regA, addr, rootB, 0, nil)
	<-c.Terms() // the primary is not held up
	testenv.WaitFor(t, "the mirror's refusal", 20*time.Second, func() bool {
		return strings.Contains(logA.String(), "has a contender of its own")
	})
	detB := open(t, addr, rootB, 4*time.Second, nil)
	if ms := members(childrenOf(t, detB, detB.ElectionPath("sched"))); len(ms) != 1 {
		t.Fatalf("B holds members %v: want its own contender alone", ms)
	}
}

// TestNewLeaderDeletesStaleMirroredCopies: a leader killed without a
// chance to delete its copy leaves it until its mirror session expires;
// the next leader deletes it (and its marker) as it publishes its own, so
// the mirror names the new leader at once.
func TestNewLeaderDeletesStaleMirroredCopies(t *testing.T) {
	zkc := testzk.Shared(t)
	rootA, rootB := testzk.Root(t), testzk.Root(t)
	addr := zkc.ConnString()
	detB := open(t, addr, rootB, 4*time.Second, nil)
	dirB := detB.ElectionPath("sched")
	if err := detB.ensurePath(ctxT(t), dirB); err != nil {
		t.Fatal(err)
	}
	// A dead leader's copy, on a session that is still alive.
	dead := rawConn(t, addr)
	data, _ := encodeMember(contender(9))
	acl := zk.WorldACL(zk.PermAll)
	for _, n := range []string{MirrorMarker("json.info_0000000000"), "json.info_0000000000"} {
		if _, err := dead.Create(dirB+"/"+n, data, zk.FlagEphemeral, acl); err != nil {
			t.Fatal(err)
		}
	}
	regA := open(t, addr, rootA, 4*time.Second, nil)
	churn(t, regA, 3)
	c := mirroredCampaign(t, regA, addr, rootB, 0, nil)
	<-c.Terms()
	testenv.WaitFor(t, "the mirror to name c0", 20*time.Second, func() bool { return leaderID(t, detB) == "c0" })
	if kids := childrenOf(t, detB, dirB); len(kids) != 2 || dead.State() != zk.StateHasSession {
		t.Fatalf("mirror holds %v (dead leader's session %v): want c0's copy and marker alone", kids, dead.State())
	}
}

// TestEnsembleSwitchElectionRecovers: the observer route's switch (the
// same address answering as a different, empty ensemble) ends the term
// of a leader, whose session is refused; the contender joins again on a
// new session and leads again, and a detector's watch follows it there.
func TestEnsembleSwitchElectionRecovers(t *testing.T) {
	c := testzk.Start(t, 1)
	addr, root := c.ConnString(), testzk.Root(t)
	cand := campaign(t, open(t, addr, root, 2*time.Second, nil), "sched", 0)
	term := <-cand.Terms()
	det := open(t, addr, root, 2*time.Second, nil)
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes, err := det.WatchLeader(wctx, "sched")
	if err != nil {
		t.Fatal(err)
	}
	if lc := <-changes; !lc.OK || lc.Leader.ID != "c0" {
		t.Fatalf("first observation %+v, want c0", lc)
	}
	if err := c.Servers[0].Wipe(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-term.Lost():
	case <-time.After(60 * time.Second):
		t.Fatal("the term outlived a session the servers refuse")
	}
	var again *coord.Term
	select {
	case again = <-cand.Terms():
	case <-time.After(60 * time.Second):
		t.Fatal("the contender never led again on the new ensemble")
	}
	for {
		select {
		case lc, ok := <-changes:
			if !ok {
				t.Fatal("the leader watch ended")
			}
			if lc.OK && lc.Token == again.Token() {
				// The watch follows the new ensemble. Tokens are its
				// zxids: they start again from its own epoch.
				t.Logf("token before the switch %d (0x%x), after %d (0x%x)", term.Token(), term.Token(), again.Token(), again.Token())
				return
			}
		case <-time.After(60 * time.Second):
			t.Fatal("the leader watch never saw the leader on the new ensemble")
		}
	}
}

// TestSwitchRaceBothSidesRecheck: a contender's check for mirrored
// members and a mirror's check for contenders of the mirror's own each
// come before their create, so the two can cross. Each side reads again
// after its own write, and the later writer always sees the earlier one:
// here the contender finds the marker written after its check and leaves,
// and the mirror finds a member written after its check and withdraws its
// copy.
func TestSwitchRaceBothSidesRecheck(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	r := open(t, zkc.ConnString(), root, 4*time.Second, nil)
	dir := r.ElectionPath("sched")
	if err := r.ensurePath(ctxT(t), dir); err != nil {
		t.Fatal(err)
	}
	data, _ := encodeMember(contender(0))
	c := &candidacy{r: r, group: "sched", dir: dir, data: data}
	if err := c.create(ctxT(t)); err != nil { // past waitMirrored's check
		t.Fatal(err)
	}
	other := rawConn(t, zkc.ConnString())
	acl := zk.WorldACL(zk.PermAll)
	marker := dir + "/" + MirrorMarker("json.info_0000000042")
	if _, err := other.Create(marker, nil, zk.FlagEphemeral, acl); err != nil {
		t.Fatal(err)
	}
	again, err := c.mirroredSinceJoin(ctxT(t))
	if err != nil || !again || c.node != "" {
		t.Fatalf("contender after a crossing marker: again %v, err %v, node %q: want it to leave", again, err, c.node)
	}
	if ms := members(childrenOf(t, r, dir)); len(ms) != 0 {
		t.Fatalf("members %v: the contender's must be gone", ms)
	}
	if err := other.Delete(marker, -1); err != nil {
		t.Fatal(err)
	}

	// The mirror's side: its copy and marker are written, then a member
	// of the mirror's own shows up before its recheck.
	m := &electionMirror{group: "sched", log: r.log}
	copyName := "json.info_0000000042"
	for _, n := range []string{MirrorMarker(copyName), copyName} {
		if _, err := r.conn.Create(dir+"/"+n, data, zk.FlagEphemeral, acl); err != nil {
			t.Fatal(err)
		}
	}
	native := joinMesos(t, other, dir, LabelJSON, data)
	if err := m.recheck(ctxT(t), r, dir, copyName); err == nil || !strings.Contains(err.Error(), path.Base(native)) {
		t.Fatalf("mirror recheck with a native member: %v, want a refusal naming it", err)
	}
	if ms := members(childrenOf(t, r, dir)); len(ms) != 1 || ms[0].Name != path.Base(native) {
		t.Fatalf("members %v: want the native one alone (the copy withdrawn)", ms)
	}
}
