package zk

import (
	"errors"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// TestRegisterPinnedKeepsNameAcrossExpiry: a pinned registration is
// created under the given name and, after its session expires, re-created
// under the same name (a plain one gets a new timestamp).
func TestRegisterPinnedKeepsNameAcrossExpiry(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	r := open(t, proxy.Addr(), root, 2*time.Second, nil)
	watcher := open(t, zkc.ConnString(), root, 10*time.Second, nil)
	p := web("h1", 80)
	p.Timestamp = time.UnixMilli(1700000000123).UTC()
	p.Name = InstanceName(p.Host, p.Port, p.Timestamp)
	reg, err := r.RegisterPinned(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	changed := reg.(*registration).Changed()
	<-changed // the create
	path := root + "/services/web/" + p.Name
	_, st, err := watcher.conn.Exists(path)
	if err != nil || st == nil {
		t.Fatalf("pinned znode %s missing: %v", path, err)
	}
	proxy.Partition()
	testenv.WaitFor(t, "the znode to expire", 30*time.Second, func() bool {
		ok, _, _ := watcher.conn.Exists(path)
		return !ok
	})
	proxy.Heal()
	testenv.WaitFor(t, "the znode back under the same name", 30*time.Second, func() bool {
		ok, st2, _ := watcher.conn.Exists(path)
		return ok && st2.Czxid != st.Czxid
	})
	select {
	case <-changed:
	default:
		t.Fatal("Changed not signalled by the re-creation")
	}
	if got := reg.Provider(); got.Name != p.Name || !got.Timestamp.Equal(p.Timestamp) {
		t.Fatalf("provider now %s at %s, want %s", got.Name, got.Timestamp, p.Name)
	}
}

func TestRegisterPinnedRejectsMismatchedName(t *testing.T) {
	zkc := testzk.Shared(t)
	r := open(t, zkc.ConnString(), testzk.Root(t), 10*time.Second, nil)
	p := web("h1", 80)
	p.Timestamp = time.UnixMilli(1700000000123).UTC()
	for _, name := range []string{"", "h2:80@1700000000123", "h1:80@1700000000124"} {
		p.Name = name
		if _, err := r.RegisterPinned(ctxT(t), p); !errors.Is(err, registry.ErrInvalid) {
			t.Errorf("name %q: %v, want invalid input", name, err)
		}
	}
}
