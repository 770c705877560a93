package zk

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// listed returns what a query would show: fields-only or full, with or
// without providers in maintenance.
func listed(t *testing.T, r *Registry, fieldsOnly, includeMaint bool) []registry.Provider {
	t.Helper()
	ps, err := r.Providers(ctxT(t), "web", registry.ListOptions{FieldsOnly: fieldsOnly, IncludeMaintenance: includeMaint})
	if err != nil {
		t.Fatalf("Providers: %v", err)
	}
	return ps
}

func TestMaintenanceHidesAndUnhides(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	r := open(t, zkc.ConnString(), root, 2*time.Second, nil)
	other := open(t, zkc.ConnString(), root, 2*time.Second, nil) // the `maintenance` command
	reg, err := r.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(ctxT(t), web("h2", 80)); err != nil {
		t.Fatal(err)
	}
	full := listed(t, other, false, false)
	var h1 registry.Provider
	for _, p := range full {
		if p.Host == "h1" {
			h1 = p
		}
	}
	if err := other.SetStatus(ctxT(t), h1, registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	hidden := func(fieldsOnly bool) func() bool {
		return func() bool {
			ps := listed(t, other, fieldsOnly, false)
			return len(ps) == 1 && ps[0].Host == "h2"
		}
	}
	testenv.WaitFor(t, "fields-only listing to hide h1", 10*time.Second, hidden(true))
	testenv.WaitFor(t, "full listing to hide h1", 10*time.Second, hidden(false))
	testenv.WaitFor(t, "the registrant to adopt the status", 10*time.Second, func() bool {
		return reg.Provider().Status == registry.StatusMaintenance
	})
	for _, fieldsOnly := range []bool{true, false} {
		ps := listed(t, other, fieldsOnly, true)
		n := 0
		for _, p := range ps {
			if p.Host == "h1" && p.Status == registry.StatusMaintenance {
				n++
			}
		}
		if len(ps) != 2 || n != 1 {
			t.Errorf("fieldsOnly=%v IncludeMaintenance: %+v", fieldsOnly, ps)
		}
	}
	// The node was never deleted, and markers are not providers.
	if got := listed(t, other, true, true); got[0].Name != h1.Name && got[1].Name != h1.Name {
		t.Errorf("h1 re-created: %+v", got)
	}
	// Services counts what a plain query lists: h2 only.
	svcs, err := other.Services(ctxT(t))
	if err != nil || len(svcs) != 1 || svcs[0].Providers != 1 {
		t.Errorf("Services = %+v, %v; want web with 1", svcs, err)
	}
	// The service directory holds provider znodes only (foreign readers
	// iterate it); the marker is in the maintenance tree.
	assertOnlyProviders(t, other, root+"/services/web", 2)
	markers, _, err := other.conn.Children(root + "/maintenance/web")
	if err != nil || len(markers) != 1 || markers[0] != h1.Name {
		t.Errorf("markers = %v, %v; want [%s]", markers, err, h1.Name)
	}

	if err := other.SetStatus(ctxT(t), h1, registry.StatusUp); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "h1 to be listed again", 10*time.Second, func() bool { return len(listed(t, other, true, false)) == 2 })
	if ps := listed(t, other, false, false); len(ps) != 2 {
		t.Errorf("full listing after unhide: %+v", ps)
	}

	// The registrant's own SetStatus does both at once.
	if err := reg.SetStatus(ctxT(t), registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	if ps := listed(t, other, true, false); len(ps) != 1 {
		t.Errorf("after Registration.SetStatus: %+v", ps)
	}
	if err := reg.Deregister(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if ps := listed(t, other, true, true); len(ps) != 1 {
		t.Errorf("after Deregister: %+v", ps)
	}
	assertOnlyProviders(t, other, root+"/services/web", 1)
	if markers, _, err := other.conn.Children(root + "/maintenance/web"); err != nil || len(markers) != 0 {
		t.Errorf("markers after Deregister: %v %v (marker left behind?)", markers, err)
	}
}

// assertOnlyProviders checks that dir has n children, each a provider name
// (what kazoo or Synapse iterating the directory would read).
func assertOnlyProviders(t *testing.T, r *Registry, dir string, n int) {
	t.Helper()
	children, _, err := r.conn.Children(dir)
	if err != nil || len(children) != n {
		t.Fatalf("children of %s: %v, %v; want %d", dir, children, err, n)
	}
	for _, c := range children {
		if _, _, _, err := ParseInstanceName(c); err != nil {
			t.Errorf("%s/%s is not a provider znode: %v", dir, c, err)
		}
	}
}

// TestOldStyleMarkersStillHide: a sibling marker written by an older
// version (<name>~maintenance in the service directory) still hides its
// provider from every listing and is never listed or counted itself.
func TestOldStyleMarkersStillHide(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	r := open(t, zkc.ConnString(), root, 2*time.Second, nil)
	reg, err := r.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(ctxT(t), web("h2", 80)); err != nil {
		t.Fatal(err)
	}
	// Written in another session, as an older registrant would have: ours
	// migrates only markers of its own session.
	older := open(t, zkc.ConnString(), root, 2*time.Second, nil)
	old := root + "/services/web/" + reg.Provider().Name + MarkerSuffix
	if _, err := older.conn.Create(old, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if ps := listed(t, r, true, false); len(ps) != 1 || ps[0].Host != "h2" {
		t.Errorf("fields-only listing with an old-style marker: %+v", ps)
	}
	if ps := listed(t, r, true, true); len(ps) != 2 {
		t.Errorf("IncludeMaintenance: %+v (the marker listed?)", ps)
	}
	if svcs, err := r.Services(ctxT(t)); err != nil || len(svcs) != 1 || svcs[0].Providers != 1 {
		t.Errorf("Services = %+v, %v; want web with 1", svcs, err)
	}
	// A registrant that finds an old-style marker of its own session
	// migrates it at its next status sync: the old marker goes, the new
	// one comes.
	if err := older.conn.Delete(old, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.conn.Create(old, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetStatus(ctxT(t), registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := r.conn.Exists(old); err != nil || ok {
		t.Errorf("old-style marker still there: %v %v", ok, err)
	}
	if ok, _, err := r.conn.Exists(root + "/maintenance/web/" + reg.Provider().Name); err != nil || !ok {
		t.Errorf("new marker missing: %v %v", ok, err)
	}
	if ps := listed(t, r, true, false); len(ps) != 1 || ps[0].Host != "h2" {
		t.Errorf("fields-only listing after migration: %+v", ps)
	}
}

func TestMaintenanceSurvivesSessionExpiry(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	r := open(t, proxy.Addr(), root, time.Second, nil)
	watcher := open(t, zkc.ConnString(), root, 2*time.Second, nil)
	p := web("h1", 80)
	p.Status = registry.StatusMaintenance // registered straight into maintenance
	reg, err := r.Register(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if ps := listed(t, watcher, true, false); len(ps) != 0 {
		t.Fatalf("registered in maintenance but listed: %+v", ps)
	}
	oldName := reg.Provider().Name
	proxy.Partition()
	testenv.WaitFor(t, "session expiry", 10*time.Second, func() bool { return len(listed(t, watcher, true, true)) == 0 })
	proxy.Heal()
	testenv.WaitFor(t, "re-registration", 10*time.Second, func() bool {
		ps := listed(t, watcher, true, true)
		return len(ps) == 1 && ps[0].Name != oldName
	})
	if ps := listed(t, watcher, true, false); len(ps) != 0 {
		t.Errorf("re-registered out of maintenance: %+v", ps)
	}
	if ps := listed(t, watcher, false, true); len(ps) != 1 || ps[0].Status != registry.StatusMaintenance {
		t.Errorf("full listing: %+v", ps)
	}
}
