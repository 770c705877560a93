package etcd

import (
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testetcd"
	"github.com/svcdisco/svcdisco/registry"
)

// leader returns the index of the cluster's leader.
func leader(t *testing.T, c *testetcd.Cluster, r *Registry) int {
	t.Helper()
	for i, ep := range c.Endpoints() {
		st, err := r.Client().Status(ctxT(t), "http://"+ep)
		if err == nil && st.Leader == st.Header.MemberId {
			return i
		}
	}
	t.Fatal("no leader")
	return -1
}

// Killing the leader of a 3-node cluster neither loses a registration nor
// a watch: the client moves to another member and the lease survives the
// election.
func TestLeaderKilled(t *testing.T) {
	c := testetcd.Start(t, 3)
	r := open(t, c.Endpoints(), 10*time.Second, nil)
	watcher := open(t, c.Endpoints(), 10*time.Second, nil)
	watcher.opts.Root = r.opts.Root
	if _, err := r.Register(ctxT(t), provider("h1", 80)); err != nil {
		t.Fatal(err)
	}
	changes, err := watcher.Watch(ctxT(t), "web")
	if err != nil {
		t.Fatal(err)
	}
	c.Kill(leader(t, c, r))
	if err := c.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(ctxT(t), provider("h2", 81)); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "a watch signal after the leader was killed", 30*time.Second, func() bool {
		select {
		case <-changes:
			return true
		default:
			return false
		}
	})
	ps, err := watcher.Providers(ctxT(t), "web", registry.ListOptions{})
	if err != nil || len(ps) != 2 {
		t.Fatalf("after the election: %+v, %v", ps, err)
	}
}

// A registrant that sees no quorum for longer than the TTL gives its lease
// up; when quorum returns it registers again and deletes the old key in
// the same transaction (etcd extends leases across the election, so the
// old key would otherwise still be there): one key, never two.
func TestQuorumLostPastTTL(t *testing.T) {
	c := testetcd.Start(t, 3)
	var logs testenv.Buffer
	r := open(t, c.Endpoints(), 2*time.Second, &logs)
	reg, err := r.Register(ctxT(t), provider("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	oldName := reg.Provider().Name
	c.Kill(1)
	c.Kill(2)
	testenv.WaitFor(t, "the registrant to give its lease up", 60*time.Second, func() bool {
		return strings.Contains(logs.String(), "re-registration failed")
	})
	for _, i := range []int{1, 2} {
		if err := c.Restart(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the provider on a new key, alone", 60*time.Second, func() bool {
		ks := keys(t, r.Client(), r, "web")
		if len(ks) > 1 && reg.Provider().Name != oldName {
			t.Fatalf("two keys for one registration: %v", ks)
		}
		return len(ks) == 1 && reg.Provider().Name != oldName
	})
	// At the very revision the new key was written, the old one was gone.
	reg.(*registration).mu.Lock()
	rev := reg.(*registration).rev
	reg.(*registration).mu.Unlock()
	resp, err := r.Client().Get(ctxT(t), r.servicePrefix("web"), clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithRev(rev))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("keys at revision %d: %v, %v", rev, resp, err)
	}
}
