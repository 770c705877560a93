package zk

import (
	"testing"
	"time"

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
	svcs, err := other.Services(ctxT(t))
	if err != nil || len(svcs) != 1 || svcs[0].Providers != 2 {
		t.Errorf("Services = %+v, %v; want web with 2", svcs, err)
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
	children, _, err := other.conn.Children(root + "/services/web")
	if err != nil || len(children) != 1 {
		t.Errorf("children after Deregister: %v %v (marker left behind?)", children, err)
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
