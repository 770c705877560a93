package mirror

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// setup wraps a registry on A and mirrors it to mirrorAddr (B, or a proxy
// in front of it) under the same root.
func setup(t *testing.T, primaryAddr, mirrorAddr, root string, mirrorTimeout time.Duration, log *testenv.Buffer) *Registry {
	t.Helper()
	if log == nil {
		log = &testenv.Buffer{}
	}
	w := New(mustOpen(t, primaryAddr, root, 10*time.Second), Options{
		Timeout: 5 * time.Second, RetryEvery: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(log, nil)),
	})
	t.Cleanup(func() { w.Close() })
	if mirrorAddr != "" {
		w.SetMirror("zk://"+mirrorAddr+root, opener(mirrorAddr, root, mirrorTimeout, nil))
	}
	return w
}

// TestMirrorSameNameAndData: a provider registered through the mirror is
// on both ensembles under the same znode name with the same data, each on
// its own session; stopping removes both.
func TestMirrorSameNameAndData(t *testing.T) {
	a, b := ensembles(t)
	root := testzk.Root(t)
	w := setup(t, a.ConnString(), b.ConnString(), root, 10*time.Second, nil)
	reg, err := w.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	name := reg.Provider().Name
	oa, ob := observe(t, a, root), observe(t, b, root)
	ob.waitFor("the copy on B", func() bool { return ob.has("web", name) })
	da, sa := oa.node("web", name)
	db, sb := ob.node("web", name)
	if !bytes.Equal(da, db) {
		t.Fatalf("data differs:\nA %s\nB %s", da, db)
	}
	if sa.EphemeralOwner == 0 || sb.EphemeralOwner == 0 {
		t.Fatalf("not ephemeral: A owner %x, B owner %x", sa.EphemeralOwner, sb.EphemeralOwner)
	}
	if !reg.(*registration).Synced() {
		t.Fatal("Synced() false with the copy in place")
	}
	if err := reg.Deregister(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := append(oa.children("web"), ob.children("web")...); len(got) != 0 {
		t.Fatalf("left after Deregister: %v", got)
	}
}

// TestMirrorDownNeverBlocksPrimary: with the mirror unreachable, Register
// returns with the provider on the primary, the failure is reported on the
// log, and the copy appears once the mirror answers.
func TestMirrorDownNeverBlocksPrimary(t *testing.T) {
	a, b := ensembles(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, b.ConnString())
	proxy.Partition()
	var log testenv.Buffer
	w := setup(t, a.ConnString(), proxy.Addr(), root, 10*time.Second, &log)
	reg, err := w.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatalf("Register with the mirror down: %v", err)
	}
	oa, ob := observe(t, a, root), observe(t, b, root)
	if !oa.has("web", reg.Provider().Name) {
		t.Fatal("not on the primary once Register returned")
	}
	testenv.WaitFor(t, "the mirror failure reported", 60*time.Second, func() bool {
		return strings.Contains(log.String(), "mirror unreachable")
	})
	if ob.has("web", reg.Provider().Name) {
		t.Fatal("copy on B through a partitioned proxy")
	}
	proxy.Heal()
	ob.waitFor("the copy once B answers", func() bool { return ob.has("web", reg.Provider().Name) })
}

// TestMirrorExpiryReregistersThatSideOnly: the mirror session expires
// (cut off longer than its timeout); the copy comes back under the same
// name, and the primary's znode is never touched (same czxid).
func TestMirrorExpiryReregistersThatSideOnly(t *testing.T) {
	a, b := ensembles(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, b.ConnString())
	w := setup(t, a.ConnString(), proxy.Addr(), root, 2*time.Second, nil)
	reg, err := w.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	name := reg.Provider().Name
	oa, ob := observe(t, a, root), observe(t, b, root)
	ob.waitFor("the copy on B", func() bool { return ob.has("web", name) })
	before, mirrorBefore := oa.czxid("web", name), ob.czxid("web", name)
	proxy.Partition()
	ob.waitFor("the copy to expire on B", func() bool { return !ob.has("web", name) })
	proxy.Heal()
	ob.waitFor("the copy back on B", func() bool { return ob.has("web", name) })
	if got := ob.czxid("web", name); got == mirrorBefore {
		t.Fatal("copy not re-created after its session expired")
	}
	if got := oa.czxid("web", name); got != before {
		t.Fatalf("primary znode re-created (czxid %x -> %x)", before, got)
	}
	if reg.Provider().Name != name {
		t.Fatalf("primary name changed: %s -> %s", name, reg.Provider().Name)
	}
}

// TestMirrorFollowsPrimaryExpiry: the primary's session expires and it
// re-registers under a new name; the mirror copy follows (old name gone,
// new one there), while the mirror session itself lives on.
func TestMirrorFollowsPrimaryExpiry(t *testing.T) {
	a, b := ensembles(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, a.ConnString())
	log := &testenv.Buffer{}
	w := New(mustOpen(t, proxy.Addr(), root, 2*time.Second), Options{RetryEvery: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(log, nil))})
	t.Cleanup(func() { w.Close() })
	w.SetMirror("B", opener(b.ConnString(), root, 10*time.Second, nil))
	reg, err := w.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	old := reg.Provider().Name
	oa, ob := observe(t, a, root), observe(t, b, root)
	ob.waitFor("the copy on B", func() bool { return ob.has("web", old) })
	proxy.Partition()
	oa.waitFor("the primary znode to expire", func() bool { return !oa.has("web", old) })
	proxy.Heal()
	var cur string
	ob.waitFor("the copy to follow the new name", func() bool {
		cur = reg.Provider().Name
		return cur != old && oa.has("web", cur) && ob.has("web", cur) && !ob.has("web", old)
	})
	if got := ob.children("web"); len(got) != 1 {
		t.Fatalf("B lists %v, want only %s", got, cur)
	}
}

// TestMirrorStatus: maintenance set on the registration, and set by
// someone else on the primary, reaches the copy (data and marker).
func TestMirrorStatus(t *testing.T) {
	a, b := ensembles(t)
	root := testzk.Root(t)
	w := setup(t, a.ConnString(), b.ConnString(), root, 10*time.Second, nil)
	reg, err := w.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	name := reg.Provider().Name
	ob := observe(t, b, root)
	ob.waitFor("the copy on B", func() bool { return ob.has("web", name) })
	if err := reg.SetStatus(ctxT(t), registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	ob.waitFor("maintenance on B", func() bool {
		return ob.status("web", name) == registry.StatusMaintenance && ob.has("web", name+"~maintenance")
	})
	// `svcdisco maintenance` run against the primary alone.
	other := mustOpen(t, a.ConnString(), root, 10*time.Second)
	defer other.Close()
	if err := other.SetStatus(ctxT(t), reg.Provider(), registry.StatusUp); err != nil {
		t.Fatal(err)
	}
	ob.waitFor("up again on B", func() bool {
		return ob.status("web", name) == registry.StatusUp && !ob.has("web", name+"~maintenance")
	})
	// Registry.SetStatus (the maintenance command through the mirror).
	if err := w.SetStatus(ctxT(t), reg.Provider(), registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	ob.waitFor("maintenance on B via Registry.SetStatus", func() bool { return ob.status("web", name) == registry.StatusMaintenance })
	// Set on B alone: the primary is the truth, the copy goes back.
	onB := mustOpen(t, b.ConnString(), root, 10*time.Second)
	defer onB.Close()
	if err := onB.SetStatus(ctxT(t), reg.Provider(), registry.StatusUp); err != nil {
		t.Fatal(err)
	}
	ob.waitFor("B back in maintenance, as the primary says", func() bool {
		return ob.status("web", name) == registry.StatusMaintenance && ob.has("web", name+"~maintenance")
	})
}

func TestBackoff(t *testing.T) {
	w := New(nil, Options{RetryEvery: 2 * time.Second})
	for n, want := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 4: 16 * time.Second, 5: 30 * time.Second, 50: 30 * time.Second} {
		if got := w.backoff(n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
}
