package zk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

func contender(i int) registry.Provider {
	return registry.Provider{ID: fmt.Sprintf("c%d", i), Host: fmt.Sprintf("h%d.example.com", i), Address: "127.0.0.1", Port: 7000 + i}
}

func campaign(t *testing.T, r *Registry, group string, i int) coord.Candidacy {
	t.Helper()
	c, err := r.Campaign(ctxT(t), group, contender(i))
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

// nextTerm waits for one of cs to be elected and returns its index.
func nextTerm(t *testing.T, cs []coord.Candidacy) (int, *coord.Term) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		for i, c := range cs {
			if c == nil {
				continue
			}
			select {
			case term := <-c.Terms():
				if term != nil {
					return i, term
				}
			default:
			}
		}
		select {
		case <-deadline:
			t.Fatal("nobody was elected")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestElectionFailover: three contenders, one leader at a time, the
// detector agrees, tokens increase from leader to leader, and the leader
// that resigns or whose session closes is replaced.
func TestElectionFailover(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	regs := make([]*Registry, 3)
	cs := make([]coord.Candidacy, 3)
	for i := range regs {
		regs[i] = open(t, zkc.ConnString(), root, 4*time.Second, nil)
		cs[i] = campaign(t, regs[i], "sched", i)
	}
	det := open(t, zkc.ConnString(), root, 4*time.Second, nil)
	var last int64
	for round := 0; round < 2; round++ {
		i, term := nextTerm(t, cs)
		if term.Token() <= last {
			t.Fatalf("round %d: token %d after %d: want strictly increasing", round, term.Token(), last)
		}
		last = term.Token()
		lc, err := det.Leader(ctxT(t), "sched")
		if err != nil || !lc.OK || lc.Leader.ID != contender(i).ID || lc.Token != term.Token() {
			t.Fatalf("round %d: detector says %+v %v; contender c%d leads with token %d", round, lc, err, i, term.Token())
		}
		for j, c := range cs {
			if j != i && c != nil {
				select {
				case other := <-c.Terms():
					t.Fatalf("round %d: c%d elected too (token %d)", round, j, other.Token())
				default:
				}
			}
		}
		if round == 0 {
			if err := term.Release(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(term.LostReason(), coord.ErrReleased) {
				t.Fatalf("released term: reason %v", term.LostReason())
			}
		} else {
			regs[i].Close() // the session closes: its member goes at once
			<-term.Lost()
		}
		cs[i] = nil
	}
	if _, term := nextTerm(t, cs); term.Token() <= last {
		t.Fatalf("third leader's token %d after %d", term.Token(), last)
	}
}

// TestPartitionedLeaderStepsDownFirst: a leader cut off from ZooKeeper
// ends its term on the local guard, before the server expires its session
// and another contender can lead.
func TestPartitionedLeaderStepsDownFirst(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	leaderReg := open(t, proxy.Addr(), root, 4*time.Second, nil)
	lc := campaign(t, leaderReg, "sched", 0)
	term := <-lc.Terms()
	follower := campaign(t, open(t, zkc.ConnString(), root, 4*time.Second, nil), "sched", 1)

	proxy.Partition()
	var second *coord.Term
	select {
	case <-term.Lost():
	case second = <-follower.Terms():
		t.Fatalf("follower elected (token %d) while the partitioned leader still believed it led", second.Token())
	case <-time.After(30 * time.Second):
		t.Fatal("partitioned leader never stepped down")
	}
	if !errors.Is(term.LostReason(), coord.ErrDisconnected) {
		t.Errorf("reason %v, want ErrDisconnected", term.LostReason())
	}
	select {
	case second = <-follower.Terms():
	case <-time.After(30 * time.Second):
		t.Fatal("follower never elected after the leader's session expired")
	}
	if second.Token() <= term.Token() {
		t.Fatalf("token %d after %d", second.Token(), term.Token())
	}
	proxy.Heal()
	// The old leader joins again behind the new one and stays a follower
	// until the new leader resigns.
	if err := second.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case again := <-lc.Terms():
		if again.Token() <= second.Token() {
			t.Fatalf("re-elected with token %d after %d", again.Token(), second.Token())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the healed contender never led again")
	}
}

func TestCampaignRefusesForeignElection(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	r := open(t, zkc.ConnString(), root, 4*time.Second, nil)
	if err := r.ensurePath(ctxT(t), r.ElectionPath("mesos")); err != nil {
		t.Fatal(err)
	}
	joinMesos(t, rawConn(t, zkc.ConnString()), r.ElectionPath("mesos"), LabelInfo, legacyInfo())
	_, err := r.Campaign(ctxT(t), "mesos", contender(0))
	if err == nil || !strings.Contains(err.Error(), "info_") {
		t.Fatalf("Campaign in a Mesos election: %v, want a refusal naming the member", err)
	}
	children, _, _ := r.conn.Children(r.ElectionPath("mesos"))
	if len(children) != 1 {
		t.Fatalf("children %v: svcdisco created a member", children)
	}
}

// TestJoinAdoptsOwnMemberAfterLostReply: a create whose reply was lost is
// found again (same data, our session) instead of joining twice.
func TestJoinAdoptsOwnMemberAfterLostReply(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	r := open(t, zkc.ConnString(), root, 4*time.Second, nil)
	c := campaign(t, r, "sched", 0).(*candidacy)
	name, ok := c.findOwn(ctxT(t))
	if !ok || !strings.HasPrefix(name, "json.info_") {
		t.Fatalf("findOwn = %q, %v", name, ok)
	}
	other := campaign(t, open(t, zkc.ConnString(), root, 4*time.Second, nil), "sched", 0).(*candidacy)
	if mine, _ := other.findOwn(ctxT(t)); mine == name {
		t.Fatalf("another session's contender adopted %s", name)
	}
}

// TestLowestByNameButNotOwnedIsNotLeading (CURATOR-696): a member that is
// the lowest and has our name but is owned by another session (e.g. ours
// from before an expiry, not yet removed) must not make us lead.
func TestLowestByNameButNotOwnedIsNotLeading(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	r := open(t, zkc.ConnString(), root, 4*time.Second, nil)
	dir := r.ElectionPath("sched")
	if err := r.ensurePath(ctxT(t), dir); err != nil {
		t.Fatal(err)
	}
	other := rawConn(t, zkc.ConnString())
	data, _ := encodeMember(contender(0))
	name := joinMesos(t, other, dir, LabelJSON, data)
	c := &candidacy{r: r, group: "sched", dir: dir, data: data,
		node: name[strings.LastIndex(name, "/")+1:], sid: r.conn.SessionID()}
	lead, _, _, err := c.evaluate(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if lead {
		t.Fatal("led on a member owned by another session")
	}
	if c.node != "" {
		t.Errorf("the foreign member %s is still taken for ours", name)
	}
	// The same member owned by our session leads.
	if err := other.Delete(name, -1); err != nil {
		t.Fatal(err)
	}
	if err := c.join(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if lead, _, _, err := c.evaluate(ctxT(t)); err != nil || !lead {
		t.Fatalf("own lowest member: lead %v, %v", lead, err)
	}
}
