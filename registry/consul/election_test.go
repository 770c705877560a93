package consul

import (
	"errors"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

func electTerm(t *testing.T, c coord.Candidacy) *coord.Term {
	t.Helper()
	select {
	case term := <-c.Terms():
		if term == nil {
			t.Fatal("candidacy ended")
		}
		return term
	case <-time.After(60 * time.Second):
		t.Fatal("not elected")
	}
	return nil
}

// TestElectionCutOffLeaderStepsDownFirst: a leader whose agent stops
// answering (the TCP proxy black-holes it) ends its term when no renewal
// succeeded for half the TTL, before Consul invalidates its session and a
// standby can take the key; the detector then names the standby with a
// larger token.
func TestElectionCutOffLeaderStepsDownFirst(t *testing.T) {
	a := testconsul.Shared(t)
	root := uniqueRoot()
	proxy := testzk.NewProxy(t, a.Addr())
	cutOff := open(t, Options{Address: proxy.Addr(), Root: root, TTL: 10 * time.Second}, nil)
	direct := open(t, Options{Address: a.Addr(), Root: root, TTL: 10 * time.Second}, nil)
	me := registry.Provider{ID: "c1", Host: "h1.example.com", Port: 7001}
	first, err := cutOff.Campaign(ctxT(t), "sched", me)
	if err != nil {
		t.Fatal(err)
	}
	term := electTerm(t, first)
	lc, err := direct.Leader(ctxT(t), "sched")
	if err != nil || !lc.OK || lc.Leader.ID != "c1" || lc.Token != term.Token() {
		t.Fatalf("detector: %+v %v; c1 leads with token %d", lc, err, term.Token())
	}
	me.ID, me.Host = "c2", "h2.example.com"
	second, err := direct.Campaign(ctxT(t), "sched", me)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Resign(ctxT(t)) })

	proxy.Partition()
	var next *coord.Term
	select {
	case <-term.Lost():
	case next = <-second.Terms():
		t.Fatalf("c2 elected (token %d) while the cut-off c1 still believed it led", next.Token())
	case <-time.After(60 * time.Second):
		t.Fatal("the cut-off leader never stepped down")
	}
	if !errors.Is(term.LostReason(), coord.ErrDisconnected) {
		t.Errorf("reason %v, want ErrDisconnected", term.LostReason())
	}
	next = electTerm(t, second)
	if next.Token() <= term.Token() {
		t.Fatalf("token %d after %d", next.Token(), term.Token())
	}
	lc, err = direct.Leader(ctxT(t), "sched")
	if err != nil || !lc.OK || lc.Leader.ID != "c2" || lc.Leader.Host != "h2.example.com" || lc.Token != next.Token() {
		t.Fatalf("detector after failover: %+v %v", lc, err)
	}
	proxy.Heal()
	if err := next.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if lc, err := direct.Leader(ctxT(t), "sched"); err != nil || lc.OK && lc.Leader.ID == "c2" {
		t.Fatalf("after c2 resigned: %+v %v", lc, err)
	}
}
