package mirror

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testexhibitor"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

// TestSetMirrorKeepsPrimary: a mirror added, moved to another root and
// removed while a provider is held; the primary znode is the same one
// throughout (same czxid), and each old copy goes away.
func TestSetMirrorKeepsPrimary(t *testing.T) {
	a, b := ensembles(t)
	root, root2 := testzk.Root(t), testzk.Root(t)
	w := setup(t, a.ConnString(), "", root, 10*time.Second, nil)
	reg, err := w.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	name := reg.Provider().Name
	oa, ob, ob2 := observe(t, a, root), observe(t, b, root), observe(t, b, root2)
	czxid := oa.czxid("web", name)

	changed := w.MirrorChanged()
	w.SetMirror("B", opener(b.ConnString(), root, 10*time.Second, nil))
	<-changed // set
	opened := w.MirrorChanged()
	ob.waitFor("the copy once the mirror is added", func() bool { return ob.has("web", name) })
	<-opened // opened before the copy could be made
	if w.Mirror() == nil || w.MirrorURL() != "B" {
		t.Fatalf("after MirrorChanged: mirror %v, url %q", w.Mirror(), w.MirrorURL())
	}
	w.SetMirror("B2", opener(b.ConnString(), root2, 10*time.Second, nil))
	if ob.has("web", name) {
		t.Fatal("copy left on the replaced mirror")
	}
	ob2.waitFor("the copy on the new mirror", func() bool { return ob2.has("web", name) })
	w.SetMirror("", nil)
	if ob2.has("web", name) {
		t.Fatal("copy left on the removed mirror")
	}
	if got := oa.czxid("web", name); got != czxid {
		t.Fatalf("primary znode re-created by mirror changes (czxid %x -> %x)", czxid, got)
	}
	if w.MirrorURL() != "" || w.Mirror() != nil {
		t.Fatal("mirror still set after removal")
	}
}

// TestPromote: the mirror becomes the primary. The copies on B are the
// very znodes the mirror created (same czxid), nothing is left on A, and
// the promoted registrations deregister from B.
func TestPromote(t *testing.T) {
	a, b := ensembles(t)
	root := testzk.Root(t)
	w := setup(t, a.ConnString(), b.ConnString(), root, 10*time.Second, nil)
	var names []string
	var regs []registry.Registration
	for _, h := range []string{"h1", "h2", "h3"} {
		reg, err := w.Register(ctxT(t), web(h, 80))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, reg.Provider().Name)
		regs = append(regs, reg)
	}
	oa, ob := observe(t, a, root), observe(t, b, root)
	ob.waitFor("every copy on B", func() bool { return len(ob.children("web")) == 3 })
	czxids := map[string]int64{}
	for _, n := range names {
		czxids[n] = ob.czxid("web", n)
	}
	mirror := w.Mirror()
	if err := w.Promote(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if w.Primary() != mirror || w.Mirror() != nil {
		t.Fatal("the mirror is not the primary after Promote")
	}
	if got := oa.children("web"); len(got) != 0 {
		t.Fatalf("A still lists %v after promotion", got)
	}
	for _, n := range names {
		if got := ob.czxid("web", n); got != czxids[n] {
			t.Fatalf("%s re-created on B (czxid %x -> %x)", n, czxids[n], got)
		}
	}
	ps, err := w.Providers(ctxT(t), "web", registry.ListOptions{IncludeMaintenance: true})
	if err != nil || len(ps) != 3 {
		t.Fatalf("Providers after promotion: %d, %v; want 3", len(ps), err)
	}
	if err := regs[0].Deregister(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if ob.has("web", names[0]) || len(ob.children("web")) != 2 {
		t.Fatalf("B lists %v after deregistering %s", ob.children("web"), names[0])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := ob.children("web"); len(got) != 0 {
		t.Fatalf("B still lists %v after Close", got)
	}
}

// TestMirrorThroughExhibitor: an exhibitor:// mirror (the ZooKeeper
// registry wrapped by the Exhibitor decorator) holds the copies too.
func TestMirrorThroughExhibitor(t *testing.T) {
	a, b := ensembles(t)
	root := testzk.Root(t)
	ex := testexhibitor.Start(t)
	ex.Servers(b.Servers[0].Addr())
	w := setup(t, a.ConnString(), "", root, 10*time.Second, nil)
	url := "exhibitor://" + ex.Host()
	w.SetMirror(url, func(ctx context.Context) (registry.Registry, error) {
		return dial.Open(ctx, dial.Options{URL: url, Root: root, SessionTimeout: 10 * time.Second,
			EnsembleCache: filepath.Join(t.TempDir(), "cache"), Timeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	})
	reg, err := w.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	ob := observe(t, b, root)
	ob.waitFor("the copy on B through Exhibitor", func() bool { return ob.has("web", reg.Provider().Name) })
}

// TestPromoteRefusesUnsyncedMirror: with the mirror cut off, Promote
// gives up when its context ends and changes nothing: the primary and its
// znodes stay.
func TestPromoteRefusesUnsyncedMirror(t *testing.T) {
	a, b := ensembles(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, b.ConnString())
	proxy.Partition()
	w := setup(t, a.ConnString(), proxy.Addr(), root, 10*time.Second, nil)
	reg, err := w.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	oa := observe(t, a, root)
	czxid := oa.czxid("web", reg.Provider().Name)
	primary := w.Primary()
	ctx, cancel := context.WithTimeout(ctxT(t), 500*time.Millisecond)
	defer cancel()
	if err := w.Promote(ctx); err == nil {
		t.Fatal("Promote succeeded with the mirror unreachable")
	}
	if w.Primary() != primary || w.MirrorURL() == "" {
		t.Fatal("a failed Promote changed the sides")
	}
	if got := oa.czxid("web", reg.Provider().Name); got != czxid {
		t.Fatalf("primary znode touched by a failed Promote (czxid %x -> %x)", czxid, got)
	}
	proxy.Heal()
	ob := observe(t, b, root)
	ob.waitFor("the copy once the mirror answers", func() bool { return ob.has("web", reg.Provider().Name) })
	if err := w.Promote(ctxT(t)); err != nil {
		t.Fatalf("Promote once in sync: %v", err)
	}
	oa.waitFor("A drained", func() bool { return len(oa.children("web")) == 0 })
}
